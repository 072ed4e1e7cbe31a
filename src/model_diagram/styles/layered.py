"""The layered style: one 3D box per layer, sized by its output shape (visualkeras-like).

Box sizes follow the output shape without the batch dimension, ``(C, H, W)``:
height from ``H`` and depth from ``W`` grow as ``size-scale`` says (by default
with the square root, ``12 * sqrt(n) * scale-xy`` px), fitted into
``min-xy``..``max-xy`` for the whole figure (see
:class:`~model_diagram.styles.layout.SizeScale`); width from the channels grows
with their logarithm (``8 * log2(C) * scale-z`` px, clamped to
``min-z``..``max-z``), so a 224-pixel image and a 50,176-feature flatten both
fit on one page and bigger tensors always get bigger boxes. A 1-D output
``(N,)`` is drawn along the axis ``low-dim-orientation`` names (``y``: a tall
column, the default; ``z``: a wide slab; ``x``: a deep slab); dimensions past
the third multiply into the channels. Colours and theming: see
:mod:`model_diagram.styles.layout`.
"""

from __future__ import annotations

import math

from ..layergraph import LayerGraph
from ..options import DiagramOptions
from .canvas import Canvas, Poly
from .layout import Context, Glyph, Layer, StyleSpec, compose

__all__ = ["box_size", "draw", "spec"]

#: the receding edge of a box, as a share of its depth (drawn at 45 degrees)
DEPTH = 0.25


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def z_size(n: int, options: DiagramOptions) -> float:
    """Pixels for ``n`` channels (logarithmic scaling, clamped)."""
    return _clamp(8.0 * math.log2(max(n, 1)) * options.scale_z, options.min_z, options.max_z)


def box_size(shape: tuple[int, ...], ctx: Context) -> tuple[float, float, float]:
    """(width, height, depth) in px of a box for an output ``shape`` without batch dim."""
    options, xy = ctx.options, ctx.xy
    dims = shape or (1,)
    if len(dims) == 1:
        n = dims[0]
        axis = options.low_dim_orientation
        return (
            z_size(n if axis == "z" else 1, options),
            xy(n if axis == "y" else 1),
            xy(n if axis == "x" else 1),
        )
    channels = dims[0] * math.prod(dims[3:])
    height = dims[1]
    width = dims[2] if len(dims) > 2 else 1
    return z_size(channels, options), xy(height), xy(width)


def _box(x: float, y: float, w: float, h: float, *, de: float, paint: str) -> list[Poly]:
    """A box with its front face's top-left at (x, y) and depth ``de`` going up-right."""
    front = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    items = [Poly(front, paint, "md-face md-front")]
    if de > 0:
        top = ((x, y), (x + de, y - de), (x + w + de, y - de), (x + w, y))
        side = ((x + w, y), (x + w + de, y - de), (x + w + de, y + h - de), (x + w, y + h))
        items += [
            Poly(top, paint, "md-face md-top"),
            Poly(top, "md-shade-light", "md-shade"),
            Poly(side, paint, "md-face md-side"),
            Poly(side, "md-shade-dark", "md-shade"),
        ]
    return items


def glyph(layer: Layer, paint: str, ctx: Context) -> Glyph:
    w, h, d = box_size(layer.shape, ctx)
    de = round(d * DEPTH, 2) if ctx.options.draw_volume else 0.0
    top = -h / 2
    funnel_out = [(w, top), (w, -top)]
    funnel_in = [(0.0, top), (0.0, -top)]
    if de:
        funnel_out += [(w + de, top - de), (w + de, -top - de)]
        funnel_in += [(de, top - de), (de, -top - de)]
    return Glyph(
        items=_box(0.0, top, w, h, de=de, paint=paint),
        foot=w + de / 2,
        right=w + de,
        top=top - de,
        bottom=-top,
        in_pt=(0.0, 0.0),
        out_pt=(w, 0.0),
        top_pt=(w / 2 + de, top - de),
        funnel_out=funnel_out,
        funnel_in=funnel_in,
        label_x=w / 2,
    )


def swatch(paint: str, size: float, ctx: Context) -> list[Poly]:
    de = round(size / 4, 2) if ctx.options.draw_volume else 0.0
    return _box(0.0, de, size - de, size - de, de=de, paint=paint)


spec = StyleSpec("layered", glyph, swatch, labels="rotated", overlap=True, spacing=12.0)


def draw(graph: LayerGraph, options: DiagramOptions) -> Canvas:
    """The layered figure of a layer graph (see the module docstring)."""
    return compose(graph, options, spec)
