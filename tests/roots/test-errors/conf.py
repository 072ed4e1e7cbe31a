"""One broken diagram per error kind, between working ones."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
numfig = True
