"""The main root: every option, figures, numref, MyST."""

import sys
from pathlib import Path

# md_root_models: the input-factory and the looped model
sys.path.insert(0, str(Path(__file__).resolve().parent))

project = "model-diagram tests"
extensions = ["model_diagram", "myst_parser"]
numfig = True
exclude_patterns = ["_build"]
model_diagram_defaults = {"hide-module-functions": True}
