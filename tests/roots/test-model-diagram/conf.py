"""The main root: every option, figures, numref, MyST."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # md_root_models (input-factory, looped model)

project = "model-diagram tests"
extensions = ["model_diagram", "myst_parser"]
numfig = True
exclude_patterns = ["_build"]
model_diagram_defaults = {"hide-module-functions": True}
