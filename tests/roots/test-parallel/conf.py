"""Seven diagrams on three pages, for ``-j 2`` against a serial build."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
numfig = True
