"""Diagrams that name only the factory: inputs come from the providers."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
model_diagram_defaults = {"depth": 2}
