"""One page, two diagrams: config checks, the cache, warm builds."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
