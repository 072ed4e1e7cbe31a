"""A timeout in model_diagram_defaults is the default for every diagram."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
model_diagram_defaults = {"timeout": 1.5}
