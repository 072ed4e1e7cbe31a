"""Redraw the static gallery of the figure styles (SVG, plus PNG for the VisualTorch
paper figures), the new figures on a light and a dark background, and the editable
exports of the paper's first model. Run from the repository root:

    .venv/bin/python docs/gallery/generate.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "example_project")]

import model_diagram  # noqa: E402

OUT = Path(__file__).resolve().parent
RECOMMENDER = {"user_id": "long[2](0,1000)", "age": "float[2]", "hist": "long[2,10](0,1000)"}
FIGURES = {
    # name: (factory, options, also PNG)
    "paper-cnn-layered": (
        "models_styles:make_layered_cnn",
        {"input": "float[1,3,224,224]", "style": "layered", "legend": True}, True,
    ),
    "paper-lenet-lenet": (
        "models_styles:make_lenet", {"input": "float[1,3,128,128]", "style": "lenet"}, True,
    ),
    "paper-dense-layered": (
        "models_styles:make_dense",
        {"input": "float[1,4]", "style": "layered", "legend": True, "scale-xy": 3, "min-z": 16,
         "min-xy": 24}, True,
    ),
    "paper-dense-lenet": (
        "models_styles:make_dense", {"input": "float[1,4]", "style": "lenet", "scale-xy": 3},
        False,
    ),
    "paper-lenet-layered-flat": (
        "models_styles:make_lenet",
        {"input": "float[1,3,128,128]", "style": "layered", "legend": True,
         "draw-volume": False, "palette": "tol-bright"}, False,
    ),
    "recommender-layered": (
        "example_project.models:make_recommender",
        {"input": RECOMMENDER, "style": "layered", "legend": True}, False,
    ),
    "recommender-lenet": (
        "example_project.models:make_recommender", {"input": RECOMMENDER, "style": "lenet"},
        False,
    ),
    "residual-lenet": (
        "models_styles:make_residual", {"input": "float[1,8,16,16]", "style": "lenet"}, False,
    ),
}


#: drawn twice, on white and on a dark background (SVG and PNG each)
LIGHT_AND_DARK = {
    "paper-dense-neurons": (
        "models_styles:make_dense", {"input": "float[1,4]", "style": "neurons", "legend": True},
    ),
    "conv-neurons": (
        "models_styles:make_tiny_conv", {"input": "float[1,1,8,8]", "style": "neurons"},
    ),
    "paper-cnn-lenet-3.3in": (
        "models_styles:make_layered_cnn",
        {"input": "float[1,3,224,224]", "style": "lenet", "print-width": "3.3in",
         "legend": True},
    ),
    "paper-cnn-layered-linear": (
        "models_styles:make_layered_cnn",
        {"input": "float[1,3,224,224]", "style": "layered", "size-scale": "linear",
         "font-family": "serif", "legend": True},
    ),
}
BACKGROUNDS = {"light": "white", "dark": "#1e1e1e"}
#: editable exports of one figure, to open in diagrams.net, LaTeX or yEd
EXPORTS = ("paper-cnn-layered", (".drawio", ".tex", ".graphml"))


def main() -> None:
    cache = ROOT / ".model-diagram-cache"
    for name, (factory, options, png) in FIGURES.items():
        diagram = model_diagram.render(factory, cache_dir=cache, **options)
        diagram.save(OUT / f"{name}.svg")
        if png:
            diagram.save(OUT / f"{name}.png", dpi=120)
        if name == EXPORTS[0]:
            for suffix in EXPORTS[1]:
                diagram.save(OUT / f"{name}{suffix}")
    for name, (factory, options) in LIGHT_AND_DARK.items():
        for shade, background in BACKGROUNDS.items():
            diagram = model_diagram.render(
                factory, cache_dir=cache, background=background, **options
            )
            diagram.save(OUT / f"{name}-{shade}.svg")
            diagram.save(OUT / f"{name}-{shade}.png", dpi=120)


if __name__ == "__main__":
    main()
