"""The LeNet style: feature maps as stacks of offset planes, dense layers as columns.

Each layer's output ``(C, H, W)`` (batch dimension dropped) is a stack of
``min(C, max-channels)`` planes of ``W x H`` (sized as in the layered style:
``size-scale``, ``scale-xy``, fitted into ``min-xy``..``max-xy``), each plane ``4 * scale-z`` px
behind the next, the stack no deeper than ``max-z`` px. A 1-D output ``(N,)``
is a column ``N`` tall. Under each stage: its layer type and, with
``show-dimension``, its ``CxHxW``. Funnels join the front plane of a stage to
the back plane of the next, as in LeCun et al. (1998), Fig. 2. Colours and
theming: see :mod:`model_diagram.styles.layout`.
"""

from __future__ import annotations

import math

from ..layergraph import LayerGraph
from ..options import DiagramOptions
from .canvas import Canvas, Poly
from .layout import Context, Glyph, Layer, StyleSpec, compose

__all__ = ["draw", "spec", "stack_size"]

COLUMN_WIDTH = 12.0


def stack_size(shape: tuple[int, ...], ctx: Context) -> tuple[float, float, int, float]:
    """(plane width, plane height, number of planes, offset between planes) in px."""
    options, xy = ctx.options, ctx.xy
    dims = shape or (1,)
    if len(dims) == 1:
        return COLUMN_WIDTH, xy(dims[0]), 1, 0.0
    channels = dims[0] * math.prod(dims[3:])
    planes = max(1, min(channels, options.max_channels))
    width = xy(dims[2] if len(dims) > 2 else 1)
    offset = 4.0 * options.scale_z
    if planes > 1:
        offset = min(offset, options.max_z / (planes - 1))
    return width, xy(dims[1]), planes, round(offset, 2)


def _planes(x: float, y: float, w: float, h: float, *, n: int, o: float, paint: str) -> list[Poly]:
    """``n`` planes, the back one's top-left at (x, y), each next one ``o`` down-right."""
    items = []
    for i in range(n):
        px, py = x + i * o, y + i * o
        cls = "md-plane md-front" if i == n - 1 else "md-plane"
        items.append(Poly(((px, py), (px + w, py), (px + w, py + h), (px, py + h)), paint, cls))
    return items


def glyph(layer: Layer, paint: str, ctx: Context) -> Glyph:
    w, h, n, o = stack_size(layer.shape, ctx)
    depth = (n - 1) * o
    top = -(h + depth) / 2
    # where the stack's outline crosses the centre line, left and right
    first = 0 if o == 0 else max(0, min(n - 1, math.ceil((-top - h) / o)))
    last = n - 1 if o == 0 else max(0, min(n - 1, math.floor(-top / o)))
    return Glyph(
        items=_planes(0.0, top, w, h, n=n, o=o, paint=paint),
        foot=w + depth,
        right=w + depth,
        top=top,
        bottom=-top,
        in_pt=(first * o, 0.0),
        out_pt=(last * o + w, 0.0),
        top_pt=(w / 2, top),
        funnel_out=[(depth + w, top + depth), (depth + w, top + depth + h)],
        funnel_in=[(0.0, top), (0.0, top + h)],
        label_x=(w + depth) / 2,
    )


def swatch(paint: str, size: float, ctx: Context) -> list[Poly]:
    o = round(size / 5, 2)
    return _planes(0.0, 0.0, size - 2 * o, size - 2 * o, n=3, o=o, paint=paint)


spec = StyleSpec("lenet", glyph, swatch, labels="lines", overlap=False, spacing=32.0)


def draw(graph: LayerGraph, options: DiagramOptions) -> Canvas:
    """The LeNet-style figure of a layer graph (see the module docstring)."""
    return compose(graph, options, spec)
