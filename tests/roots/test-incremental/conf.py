"""Two pages, each drawing a model from its own module in this directory."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # md_incr_one, md_incr_two

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
