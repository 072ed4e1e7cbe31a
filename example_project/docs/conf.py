"""Sphinx configuration of the example project's docs.

Build: ``sphinx-build -W -b html example_project/docs example_project/docs/_build/html``
(``make docs``). Diagrams are cached in ``.model-diagram-cache`` next to this file.
"""

import sys
from pathlib import Path

# the example_project package lives one directory up
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

project = "example-project"
author = "model-diagram developers"
extensions = ["model_diagram", "myst_parser"]
exclude_patterns = ["_build", ".model-diagram-cache"]
numfig = True
html_theme = "furo"
html_title = "example-project"

# every diagram in this site, unless a directive says otherwise
model_diagram_defaults = {"depth": 2}
