"""The neurons style: a small network drawn as columns of neurons joined by their weights.

Each layer that holds units is one column: a 1-D output ``(N,)`` has N neurons
(circles), a feature map ``(C, H, W)`` has C channels (squares). Layers without
parameters that keep their predecessor's size (activations, dropout) are folded
into the column before them, so ``Linear -> ReLU -> Linear`` shows two columns,
not three. A column with more than ``max-neurons`` units shows its first and last
ones around a vertical ellipsis, and its label says how many there are. Every
drawn unit of a column is joined to every drawn unit of the columns it feeds
(the dense connections of the first figure in every neural network textbook).
Colours, legend and theming as in :mod:`model_diagram.styles.layout`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import RenderError
from ..fonts import family
from ..layergraph import LayerGraph
from ..options import DiagramOptions
from ..scene import Link, Node, Scene
from .canvas import Canvas, Color, Group, Poly, Text
from .layout import (
    PADDING,
    Context,
    Layer,
    SizeScale,
    add_legend,
    build_paints,
    extract_layers,
    fit_print_width,
    pinned_variables,
    slug,
)

__all__ = ["draw"]

RADIUS = 9.0
#: most connection lines in one figure: past this it is a grey smear and a huge file
MAX_WEIGHTS = 20_000
#: centre-to-centre distance of two units in a column, in radii
PITCH = 2.6
_SIDES = 32


@dataclass
class _Column:
    layer: Layer
    folded: list[Layer]
    units: int
    square: bool
    preds: list[int]
    rank: int = 0
    slot: int = 0


def _units(layer: Layer) -> tuple[int, bool]:
    """(units, drawn as squares): neurons of a vector, channels of a feature map."""
    shape = layer.shape or (1,)
    return (shape[0], len(shape) > 1)


def _columns(layers: Sequence[Layer]) -> list[_Column]:
    """One column per layer that holds units, with shape-keeping parameterless layers folded
    into the column that feeds them."""
    columns: list[_Column] = []
    home: dict[str, int] = {}
    for layer in layers:
        units, square = _units(layer)
        preds = sorted({home[p] for p in layer.preds if p in home})
        if (
            layer.kind != "input"
            and layer.params == 0
            and len(preds) == 1
            and (units, square) == (columns[preds[0]].units, columns[preds[0]].square)
        ):
            columns[preds[0]].folded.append(layer)
            home[layer.id] = preds[0]
            continue
        home[layer.id] = len(columns)
        columns.append(_Column(layer, [], units, square, preds))
    for column in columns:
        column.rank = max((columns[p].rank + 1 for p in column.preds), default=0)
    slots: dict[int, int] = {}
    for column in columns:
        column.slot = slots.get(column.rank, 0)
        slots[column.rank] = column.slot + 1
    return columns


def _shown(units: int, cap: int) -> list[int | None]:
    """Unit indices to draw (None = the ellipsis): all of them, or both ends of a wide layer."""
    if units <= cap:
        return list(range(units))
    top = math.ceil((cap - 1) / 2)
    bottom = cap - 1 - top
    return [*range(top), None, *range(units - bottom, units)]


def _disc(cx: float, cy: float, r: float, square: bool) -> tuple[tuple[float, float], ...]:
    if square:
        return ((cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r))
    return tuple(
        (
            round(cx + r * math.cos(2 * math.pi * i / _SIDES), 2),
            round(cy + r * math.sin(2 * math.pi * i / _SIDES), 2),
        )
        for i in range(_SIDES)
    )


def _swatch(paint: str, size: float, ctx: Context) -> list[Poly]:
    return [Poly(_disc(size / 2, size / 2, size / 2, False), paint, "md-neuron")]


#: default space between columns, px
SPACING = 90.0


def draw(graph: LayerGraph, options: DiagramOptions) -> Canvas:
    """The neuron-graph figure of a layer graph (see the module docstring); fitted to
    ``print-width`` by setting larger text (columns do not wrap)."""
    return fit_print_width(options, lambda size, _: _draw_at(graph, options, size))


def _draw_at(graph: LayerGraph, options: DiagramOptions, size: float) -> Canvas:
    layers = extract_layers(graph, options.type_ignore)
    columns = _columns(layers)
    types = list(dict.fromkeys(c.layer.type for c in columns))
    paints, paint_of = build_paints(types, options)
    font = family(options.font_family)
    ctx = Context(options, font, size, SizeScale.fit([], options))
    cap = int(options.max_neurons)
    spacing = float(SPACING if options.spacing is None else options.spacing)
    pitch = RADIUS * PITCH
    shown = [_shown(c.units, cap) for c in columns]
    drawn = [len([u for u in s if u is not None]) for s in shown]
    weights = sum(drawn[p] * drawn[i] for i, c in enumerate(columns) for p in c.preds)
    if weights > MAX_WEIGHTS or len(columns) > 200:
        raise RenderError(
            f"the neurons style would draw {len(columns)} columns and {weights:,} connections; "
            f"it is meant for small networks: lower max-neurons (now {cap}), or use "
            "style: layered or style: graph for this model"
        )
    height_of = [len(s) * pitch for s in shown]
    # a rank's columns stack vertically; every rank is centred on the tallest
    ranks: dict[int, list[int]] = {}
    for i, column in enumerate(columns):
        ranks.setdefault(column.rank, []).append(i)
    band = size * 2.6 if options.show_dimension else size * 1.4
    rank_height = {
        r: sum(height_of[i] for i in ids) + (len(ids) - 1) * (band + pitch)
        for r, ids in ranks.items()
    }
    tallest = max(rank_height.values())
    labels = [_label(c, options) for c in columns]
    widths = {
        r: max([2 * RADIUS, *(font.text_width(t, size) for i in ids for t in labels[i])])
        for r, ids in ranks.items()
    }
    x = PADDING
    centre_x: dict[int, float] = {}
    for r in sorted(ranks):
        centre_x[r] = x + widths[r] / 2
        x += widths[r] + spacing
    width = x - spacing + PADDING
    tops: dict[int, float] = {}
    for r, ids in ranks.items():
        y = PADDING + (tallest - rank_height[r]) / 2
        for i in ids:
            tops[i] = y
            y += height_of[i] + band + pitch

    def centre(i: int, k: int) -> tuple[float, float]:
        return centre_x[columns[i].rank], tops[i] + pitch * (k + 0.5)

    root = Group("md-diagram", data={"style": "neurons"})
    wires = Group("md-connectors")
    body = Group("md-layers")
    texts = Group("md-labels")
    nodes: list[Node] = []
    links: list[Link] = []
    for i, column in enumerate(columns):
        for p in column.preds:
            group = Group("md-weights", data={"from": columns[p].layer.type})
            for a, ua in enumerate(shown[p]):
                for b, ub in enumerate(shown[i]):
                    if ua is None or ub is None:
                        continue
                    start, end = centre(p, a), centre(i, b)
                    group.add(Poly((start, end), "md-line", "md-line md-weight", closed=False))
                    links.append(
                        Link(f"{columns[p].layer.id}.{ua}", f"{column.layer.id}.{ub}", (start, end))
                    )
            wires.add(group)
        layer = column.layer
        folded = "".join(f" + {f.type}" for f in column.folded)
        group = Group(
            f"md-layer md-t-{slug(layer.type)}",
            title=f"{layer.name or layer.type}{folded}: {column.units} "
            f"{'channels' if column.square else 'units'}",
            data={"type": layer.type, "kind": layer.kind, "units": str(column.units)},
        )
        paint = paint_of[layer.type]
        fill, stroke = paints[paint].fill, paints[paint].stroke
        for k, unit in enumerate(shown[i]):
            cx, cy = centre(i, k)
            if unit is None:  # three dots: drawn, so every output and font shows them
                for dy in (-RADIUS * 0.8, 0.0, RADIUS * 0.8):
                    dot = _disc(cx, cy + dy, RADIUS * 0.22, False)
                    group.add(Poly(dot, "md-arrow", "md-ellipsis"))
                continue
            group.add(Poly(_disc(cx, cy, RADIUS, column.square), paint, "md-neuron"))
            nodes.append(
                Node(
                    f"{layer.id}.{unit}",
                    labels[i] if unit == max(u for u in shown[i] if u is not None) else (),
                    layer.kind,
                    layer.type,
                    round(cx - RADIUS, 2),
                    round(cy - RADIUS, 2),
                    2 * RADIUS,
                    2 * RADIUS,
                    (round(cx - RADIUS, 2), round(cy - RADIUS, 2), 2 * RADIUS, 2 * RADIUS),
                    "box" if column.square else "circle",
                    fill=fill.default if fill else "#ffffff",
                    stroke=stroke.default if stroke else "#000000",
                    opacity=paints[paint].fill_opacity,
                )
            )
        body.add(group)
        base = tops[i] + height_of[i] + size
        for n, line in enumerate(labels[i]):
            cls = "md-label md-name" if n == 0 else "md-label md-dims"
            texts.add(
                Text(
                    centre_x[column.rank],
                    base + n * size * 1.25,
                    line,
                    size,
                    "md-ink",
                    "middle",
                    cls,
                )
            )
    for item in (wires, body, texts):
        root.add(item)
    height = PADDING + tallest + band
    if options.legend:
        width, height = add_legend(root, types, paint_of, _swatch, ctx, figure_size=(width, height))
    background = options.background
    units = sum(drawn)
    description = f"{graph.model} drawn as {units} neurons in " + ", ".join(
        f"{c.layer.name or c.layer.type} ({c.units})" for c in columns
    )
    ink, wire = paints["md-ink"].fill, paints["md-line"].stroke
    return Canvas(
        width=round(width, 2),
        height=round(height + PADDING, 2),
        paints=paints,
        root=root,
        description=description + ".",
        background=None
        if background == "transparent"
        else Color(background, "--model-diagram-background"),
        font=font,
        pinned=pinned_variables(options, paints),
        scene=Scene(
            round(width, 2),
            round(height + PADDING, 2),
            nodes,
            links,
            None if background == "transparent" else background,
            ink.default if ink else "#000000",
            wire.default if wire else "#000000",
            font,
            size,
            graph.model or "Model",
        ),
    )


def _label(column: _Column, options: DiagramOptions) -> tuple[str, ...]:
    lines = [column.layer.name or column.layer.type]
    if options.show_dimension:
        lines.append(f"{column.units}")
    return tuple(lines)
