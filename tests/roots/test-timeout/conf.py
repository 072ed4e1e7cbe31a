"""model_diagram_timeout is the default for every diagram."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
model_diagram_timeout = 1.5
