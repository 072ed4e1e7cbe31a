"""Sphinx configuration of model-diagram's own documentation, built with itself.

Build: ``.venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html``
(``make docs`` runs it). Diagrams are cached in ``docs/.model-diagram-cache``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from model_diagram import __version__

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# The example models (example_project.models) and the test models (models,
# models_styles) are importable by the diagram worker, which sees this sys.path.
# _ext holds the local extensions that generate the reference tables and examples.
for path in (HERE / "_ext", REPO / "example_project", REPO / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

project = "model-diagram"
author = "model-diagram developers"
copyright = "model-diagram developers"
release = __version__
version = __version__

extensions = [
    "model_diagram",
    "myst_parser",
    "sphinx.ext.autodoc",
    "option_table",
    "diagram_examples",
    "benchmark_chart",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# docs/gallery/ holds images drawn by the styles' tests; they are referenced, never pages.
exclude_patterns = ["_build", ".model-diagram-cache", "gallery/**", "**/README.md"]
nitpicky = True
numfig = True

model_diagram_cache_dir = ".model-diagram-cache"
model_diagram_defaults = {"timeout": 300}

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
# names in signatures that autodoc cannot link (torch is never imported in this process)
nitpick_ignore = [
    ("py:class", "Path"),
    ("py:class", "pathlib.Path"),
    ("py:class", "model_diagram.options.DiagramOptions"),
    ("py:class", "DiagramOptions"),
    ("py:class", "model_diagram.pipeline.Pipeline"),
    ("py:class", "Pipeline"),
]

html_theme = "furo"
html_title = f"model-diagram {release}"
html_static_path = ["_static"]
html_css_files = ["docs.css"]
pygments_style = "friendly"
pygments_dark_style = "monokai"

latex_documents = [(root_doc, "model-diagram.tex", "model-diagram", author, "manual")]
