"""VisualTorch's calls, drawn by model-diagram: switch by changing one import.

    from model_diagram import visualtorch
    img = visualtorch.layered_view(model, input_shape=(1, 3, 224, 224), legend=True)

:func:`layered_view`, :func:`lenet_view` and :func:`graph_view` take VisualTorch
1.4's argument names and return a PIL image, like VisualTorch does (``to_file``
also writes it; ``.svg``, ``.pdf``, ``.drawio``, ``.tex`` and ``.graphml`` get
the vector or editable file). ``graph_view`` is our ``neurons`` style.

Sizes given in VisualTorch's units are passed on as they are; arguments left
out get model-diagram's defaults, not VisualTorch's, because the two scale boxes
differently. Arguments with no equivalent here are ignored with a
:class:`UserWarning` naming them (see the "Coming from VisualTorch" page).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .api import render
from .options import FILE_FORMATS

__all__ = ["graph_view", "layered_view", "lenet_view"]

#: VisualTorch argument -> our option, where the meaning is the same
_SAME = {
    "min_z": "min-z",
    "min_xy": "min-xy",
    "max_z": "max-z",
    "max_xy": "max-xy",
    "scale_z": "scale-z",
    "scale_xy": "scale-xy",
    "palette": "palette",
    "draw_volume": "draw-volume",
    "draw_funnel": "draw-funnel",
    "legend": "legend",
    "show_dimension": "show-dimension",
    "opacity": "opacity",
    "spacing": "spacing",
    "max_channels": "max-channels",
    "layer_spacing": "spacing",
    "ellipsize_after": "max-neurons",
}
#: arguments whose VisualTorch meaning we cannot reproduce (ignored with a warning)
NO_EQUIVALENT = (
    "padding",
    "shade_step",
    "outline_width",
    "connector_width",
    "level_gap",
    "node_size",
    "node_spacing",
    "show_neurons",
    "show_arrows",
)


def _color(value: Any) -> str:
    """A VisualTorch colour (name, ``#hex`` or an RGB(A) tuple) as our option text."""
    if isinstance(value, (tuple, list)):
        return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in value[:3]))
    return str(value)


def _name(item: Any) -> str:
    return item.__name__ if isinstance(item, type) else str(item)


def _font(font: Any) -> dict[str, Any]:
    """A PIL font -> our font-size and the family whose metrics match it best."""
    size = getattr(font, "size", None)
    options: dict[str, Any] = {"font-size": float(size)} if size else {}
    getname = getattr(font, "getname", None)
    name = " ".join(getname()).lower() if callable(getname) else ""
    if "mono" in name or "courier" in name:
        options["font-family"] = "monospace"
    elif ("serif" in name and "sans" not in name) or "times" in name:
        options["font-family"] = "serif"
    return options


def _options(style: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Our options for VisualTorch keyword arguments (only those the caller gave)."""
    options: dict[str, Any] = {"style": style}
    ignored = []
    for key, value in given.items():
        if value is None or key == "show_input":
            continue
        if key in _SAME:
            options[_SAME[key]] = value
        elif key in {"low_dim_orientation", "one_dim_orientation"}:
            options["low-dim-orientation"] = value
        elif key == "background_fill":
            options["background"] = _color(value)
        elif key == "font_color":
            options["text-color"] = _color(value)
        elif key == "connector_fill":
            options["line-color"] = _color(value)
        elif key == "color_map":
            options["color-map"] = {
                _name(cls): {k: _color(v) for k, v in entry.items()}
                if isinstance(entry, Mapping)
                else _color(entry)
                for cls, entry in value.items()
            }
        elif key == "type_ignore":
            options["type-ignore"] = [_name(t) for t in value]
        elif key == "legend_position":
            options["legend-position"] = str(value).split("-")[0]
        elif key == "offset_z":  # lenet: px between planes; ours are 4 px * scale-z
            options["scale-z"] = float(value) / 4
        elif key == "font":
            options |= _font(value)
        elif key in NO_EQUIVALENT:
            ignored.append(key)
        else:
            raise TypeError(f"unexpected keyword argument {key!r}")
    if given.get("show_input") is False:
        options["type-ignore"] = [*options.get("type-ignore", []), "Input"]
    if ignored:
        warnings.warn(
            f"model_diagram.visualtorch: {', '.join(ignored)} "
            f"{'has' if len(ignored) == 1 else 'have'} no equivalent in model-diagram: ignored",
            UserWarning,
            stacklevel=4,
        )
    return options


def _inputs(input_shape: Any, input_dtype: Any) -> Any:
    """VisualTorch's ``input_shape`` (one shape, or one per positional argument) as tensors."""
    import torch

    shapes = (
        list(input_shape)
        if input_shape and isinstance(input_shape[0], (tuple, list))
        else [input_shape]
    )
    dtypes = input_dtype if isinstance(input_dtype, (tuple, list)) else [input_dtype] * len(shapes)
    tensors = []
    for shape, given in zip(shapes, dtypes, strict=False):
        dtype = given or torch.float32
        make = torch.rand if dtype.is_floating_point else torch.zeros
        tensors.append(make(tuple(shape), dtype=dtype))
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


def _view(
    style: str,
    *,
    model: Any,
    input_shape: Sequence[Any],
    input_dtype: Any,
    to_file: Any,
    given: Mapping[str, Any],
) -> Any:
    from PIL import Image

    options = {"background": "white", **_options(style, given)}
    diagram = render(model, input_data=_inputs(input_shape, input_dtype), **options)
    image = Image.open(io.BytesIO(diagram._repr_png_()))
    image.load()
    if to_file is not None:
        target = Path(to_file)
        if target.suffix.lower() in FILE_FORMATS and target.suffix.lower() != ".png":
            diagram.save(target)
        else:  # PNG, and the raster formats PIL writes (as VisualTorch does)
            image.save(target)
    return image


def layered_view(
    model: Any,
    input_shape: Sequence[Any],
    input_dtype: Any = None,
    to_file: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """VisualTorch's ``layered_view`` (its ``flow_view``): our ``layered`` style, as a PIL
    image. Takes VisualTorch's keyword arguments (``legend``, ``color_map``, ...)."""
    return _view(
        "layered",
        model=model,
        input_shape=input_shape,
        input_dtype=input_dtype,
        to_file=to_file,
        given=kwargs,
    )


def lenet_view(
    model: Any,
    input_shape: Sequence[Any],
    input_dtype: Any = None,
    to_file: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """VisualTorch's ``lenet_view``: our ``lenet`` style, as a PIL image."""
    return _view(
        "lenet",
        model=model,
        input_shape=input_shape,
        input_dtype=input_dtype,
        to_file=to_file,
        given=kwargs,
    )


def graph_view(
    model: Any,
    input_shape: Sequence[Any],
    input_dtype: Any = None,
    to_file: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """VisualTorch's ``graph_view`` (layers of neurons): our ``neurons`` style, as a PIL
    image."""
    return _view(
        "neurons",
        model=model,
        input_shape=input_shape,
        input_dtype=input_dtype,
        to_file=to_file,
        given=kwargs,
    )
