"""Shared by the layered and LeNet styles: layer graph -> layers on rows -> a Canvas.

The layer graph is reduced to its layers (inputs, modules and functions;
tensor and output nodes and ``type-ignore`` types are bridged over). The
longest path is the main row; every other chain of layers gets a row of its
own below it, placed in the columns of its data flow, and is joined to the
row it forks from or merges into by an orthogonal connector with an arrow.
Skip connections within a row arc above it. When a connector cannot be
routed without running through another layer, :class:`RenderError` says so
and suggests ``style: graph``: a clear refusal beats a misleading picture.

A style supplies the glyph of one layer and of a legend swatch; this module
does everything else (columns, rows, funnels, connectors, labels, legend).
Figures always read left to right: ``direction``, ``show-shapes`` and the
other Graphviz-only options do not apply (``show-dimension`` labels shapes).

Theme hooks (CSS custom properties with light defaults, named like those of
:mod:`model_diagram.theme`, whose dark palette therefore applies as well):
``--model-diagram-layer-<type>`` and ``--model-diagram-layer-<type>-outline``
per layer type (lower case, e.g. ``--model-diagram-layer-conv2d``),
``--model-diagram-ink`` (text), ``--model-diagram-muted`` (funnels and
connectors), ``--model-diagram-shade-light`` / ``-shade-dark`` (the 3D shading
overlays) and ``--model-diagram-background``.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RenderError
from .canvas import ASCENT, Canvas, Color, Group, Paint, Poly, Text, text_width

#: colour-blind-safe palettes (Okabe & Ito 2008; Paul Tol's "bright" and "light")
PALETTES: dict[str, tuple[str, ...]] = {
    "okabe-ito": (
        "#e69f00",
        "#56b4e9",
        "#009e73",
        "#f0e442",
        "#0072b2",
        "#d55e00",
        "#cc79a7",
        "#999999",
    ),
    "tol-bright": ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"),
    "tol-light": (
        "#77aadd",
        "#ee8866",
        "#eedd88",
        "#ffaabb",
        "#99ddff",
        "#44bb99",
        "#bbcc33",
        "#aaaa00",
        "#dddddd",
    ),
    "grey": ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252"),
}
INPUT_TYPE = "Input"
INPUT_FILL = "#e0e0e0"
INK = Color("#1b1f23", "--model-diagram-ink")
LINE = Color("#4a5159", "--model-diagram-muted")
PADDING = 10.0
ROW_GAP = 22.0
LANE_GAP = 9.0
ARROW = 6.0
LEGEND_WIDTH = 560.0


# -- layers


@dataclass
class Layer:
    """One drawable layer: its legend type, output shape (no batch dim) and neighbours."""

    id: str
    kind: str  # input | module | function
    type: str
    title: str
    shape: tuple[int, ...]
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)

    @property
    def dims(self) -> str:
        return "\u00d7".join(str(d) for d in self.shape) if self.shape else "1"


def layer_type(node: Mapping[str, Any]) -> str:
    return INPUT_TYPE if node["kind"] == "input" else str(node["name"])


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "layer"


def extract_layers(graph: Mapping[str, Any], type_ignore: Sequence[str]) -> list[Layer]:
    """The layers of a layer graph in topological order, ignored types bridged over."""
    ignore = {name.lower() for name in type_ignore}
    nodes = {n["id"]: n for n in graph["nodes"]}
    order = {nid: i for i, nid in enumerate(nodes)}
    succ: dict[str, list[str]] = {nid: [] for nid in nodes}
    for edge in graph["edges"]:
        if edge["tail"] in succ and edge["head"] in nodes:
            succ[edge["tail"]].append(edge["head"])
    keep = [
        nid
        for nid, n in nodes.items()
        if n["kind"] in {"input", "module", "function"} and layer_type(n).lower() not in ignore
    ]
    kept = set(keep)
    layers: dict[str, Layer] = {}
    for nid in keep:
        node = nodes[nid]
        shapes = node.get("outputs") or node.get("inputs") or [[]]
        shape = shapes[0] if shapes else []
        title = node.get("qualname") or node.get("label") or ""
        layers[nid] = Layer(nid, node["kind"], layer_type(node), str(title), tuple(shape[1:]))
    for nid in keep:
        seen: set[str] = set()
        stack = sorted(succ[nid], key=order.__getitem__, reverse=True)
        found: list[str] = []
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur in kept:
                found.append(cur)
            else:
                stack.extend(sorted(succ[cur], key=order.__getitem__, reverse=True))
        for head in sorted(set(found), key=order.__getitem__):
            layers[nid].succs.append(head)
            layers[head].preds.append(nid)
    if not layers:
        raise RenderError(
            "nothing to draw: every layer was removed by 'type-ignore'; drop some names from it"
        )
    # Kahn's algorithm, ties broken by trace order, so the result is deterministic
    indegree = {nid: len(layer.preds) for nid, layer in layers.items()}
    ready = [(order[nid], nid) for nid, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    result: list[Layer] = []
    while ready:
        _, nid = heapq.heappop(ready)
        result.append(layers[nid])
        for head in layers[nid].succs:
            indegree[head] -= 1
            if indegree[head] == 0:
                heapq.heappush(ready, (order[head], head))
    if len(result) != len(layers):
        raise RenderError(
            "the model's layer graph has a cycle (was it traced with 'roll: true'?); "
            "the layered and lenet styles need an unrolled graph: set roll: false or "
            "use style: graph"
        )
    return result


# -- rows and columns


@dataclass
class Arrangement:
    """Where each layer goes: ``rows[r]`` lists layer ids left to right; ``col`` by id."""

    rows: list[list[str]]
    row: dict[str, int]
    col: dict[str, int]
    ncols: int


def arrange(layers: Sequence[Layer]) -> Arrangement:
    """Main row = the longest path; each other chain its own row, in data-flow columns."""
    by_id = {layer.id: layer for layer in layers}
    topo = {layer.id: i for i, layer in enumerate(layers)}
    length: dict[str, int] = {}
    parent: dict[str, str | None] = {}
    for layer in layers:
        best = max(layer.preds, key=lambda p: (length[p], -topo[p]), default=None)
        length[layer.id] = 1 + (length[best] if best else 0)
        parent[layer.id] = best
    end: str | None = max(length, key=lambda n: (length[n], -topo[n]))
    main: list[str] = []
    while end is not None:
        main.append(end)
        end = parent[end]
    main.reverse()
    assigned = set(main)
    rows = [main]
    for layer in layers:
        if layer.id in assigned:
            continue
        chain = [layer.id]
        assigned.add(layer.id)
        while True:
            nxt = [s for s in by_id[chain[-1]].succs if s not in assigned]
            if not nxt:
                break
            chain.append(min(nxt, key=topo.__getitem__))
            assigned.add(chain[-1])
        rows.append(chain)
    rank: dict[str, int] = {}
    for layer in layers:
        rank[layer.id] = max((rank[p] + 1 for p in layer.preds), default=0)
    # chains that start at an input sit as far right as they can: next to where they merge
    source_rows = {r for r, chain in enumerate(rows) if r > 0 and not by_id[chain[0]].preds}
    row_of = {nid: r for r, chain in enumerate(rows) for nid in chain}
    for layer in reversed(layers):
        if row_of[layer.id] in source_rows and layer.succs:
            rank[layer.id] = max(rank[layer.id], min(rank[s] for s in layer.succs) - 1)
    ncols = max(rank.values()) + 1
    return Arrangement(rows, row_of, rank, ncols)


# -- glyphs (supplied by a style)


@dataclass
class Glyph:
    """A layer's drawing, relative to (left of its front face, row centre line).

    ``foot`` is how far the next column starts (3D depth may overhang it);
    ``top``/``bottom``/``right`` bound the drawing; the ``*_pt`` are where
    connectors attach; ``funnel_out``/``funnel_in`` pair up corners for funnels.
    """

    items: list[Poly]
    foot: float
    right: float
    top: float
    bottom: float
    in_pt: tuple[float, float]
    out_pt: tuple[float, float]
    top_pt: tuple[float, float]
    funnel_out: list[tuple[float, float]]
    funnel_in: list[tuple[float, float]]
    label_x: float


@dataclass(frozen=True)
class StyleSpec:
    """What a style contributes: one layer's glyph, a legend swatch, and its label mode."""

    name: str
    glyph: Callable[[Layer, str, Mapping[str, Any]], Glyph]
    swatch: Callable[[str, float, Mapping[str, Any]], list[Poly]]
    #: "rotated": dims under each layer, reading upwards; "lines": type and dims, centred
    labels: str
    #: whether 3D depth may overhang the next column on a single row (as in visualkeras)
    overlap: bool
    #: default space between layers, px
    spacing: float


def _shift(items: Sequence[Poly], dx: float, dy: float) -> list[Poly]:
    return [
        Poly(tuple((x + dx, y + dy) for x, y in p.points), p.paint, p.cls, p.closed) for p in items
    ]


# -- paints


def _darken(hex_color: str, amount: float = 0.45) -> str:
    text = hex_color.lstrip("#")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * (1 - amount)) for c in (r, g, b)))


def build_paints(
    types: Sequence[str], options: Mapping[str, Any]
) -> tuple[dict[str, Paint], dict[str, str]]:
    """A fill/outline paint per layer type (palette order of first appearance, then
    ``color-map``), plus the fixed paints; returns (paints, paint name by type)."""
    palette = options["palette"]
    colors = PALETTES[palette] if isinstance(palette, str) else tuple(palette)
    color_map: Mapping[str, Any] = options["color-map"]
    lowered = {key.lower(): value for key, value in color_map.items()}
    opacity = options["opacity"]
    paints = {
        "md-ink": Paint(fill=INK),
        "md-line": Paint(stroke=LINE, stroke_width=1.0),
        "md-arrow": Paint(fill=LINE),
        "md-shade-light": Paint(
            fill=Color("#ffffff", "--model-diagram-shade-light"), fill_opacity=0.4
        ),
        "md-shade-dark": Paint(
            fill=Color("#000000", "--model-diagram-shade-dark"), fill_opacity=0.2
        ),
    }
    names: dict[str, str] = {}
    used = 0
    for name in types:
        entry = color_map.get(name, lowered.get(name.lower()))
        if name == INPUT_TYPE:
            fill = INPUT_FILL
        else:
            fill = colors[used % len(colors)]
            used += 1
        fill = (entry or {}).get("fill", fill)
        outline = (entry or {}).get("outline")
        key = slug(name)
        paint_name = f"md-c-{key}"
        suffix = 2
        while paint_name in paints:  # two names with one slug ("ReLU", "relu")
            paint_name = f"md-c-{key}-{suffix}"
            suffix += 1
        var = paint_name.replace("md-c-", "--model-diagram-layer-")
        paints[paint_name] = Paint(
            fill=Color(fill, var),
            stroke=Color(outline or _darken(fill), f"{var}-outline"),
            fill_opacity=opacity,
        )
        names[name] = paint_name
    return paints, names


# -- composing the figure


@dataclass
class _Route:
    tail: str
    head: str
    kind: str  # next | skip | cross
    gap: int = -1
    slot: tuple[str, str] = ("", "")
    lane: int = 0
    role: str = ""


def compose(graph: Mapping[str, Any], options: Mapping[str, Any], style: StyleSpec) -> Canvas:
    """Lay out and draw a layer graph in ``style``; deterministic for equal inputs."""
    layers = extract_layers(graph, options["type-ignore"])
    arrangement = arrange(layers)
    types = list(dict.fromkeys(layer.type for layer in layers))
    paints, paint_of = build_paints(types, options)
    font = float(options["font-size"])
    spacing = float(style.spacing if options["spacing"] is None else options["spacing"])
    glyphs = {layer.id: style.glyph(layer, paint_of[layer.type], options) for layer in layers}
    routes = _routes(layers, arrangement)

    # columns: widths, gaps (wider where vertical connectors run), x positions
    multi = len(arrangement.rows) > 1
    labels = {layer.id: _label_lines(layer, style, options) for layer in layers}
    col_width = [0.0] * arrangement.ncols
    for layer in layers:
        g = glyphs[layer.id]
        width = g.foot if (style.overlap and not multi) else g.right
        if style.labels == "lines":
            width = max([width, *(text_width(t, font) for t in labels[layer.id])])
        c = arrangement.col[layer.id]
        col_width[c] = max(col_width[c], width)
    slots: dict[int, list[tuple[str, str]]] = {}
    for route in routes:
        if route.kind == "cross" and route.slot not in slots.setdefault(route.gap, []):
            slots[route.gap].append(route.slot)
    gaps = [
        max(spacing, 12.0 * (len(slots.get(c, [])) + 1)) if slots.get(c) else spacing
        for c in range(arrangement.ncols)
    ]
    left_pad = PADDING
    col_x: list[float] = []
    x = left_pad
    for c in range(arrangement.ncols):
        col_x.append(x)
        x += col_width[c] + gaps[c]

    # rows: lanes for skip arcs above, glyph extent, label band below
    lanes: dict[int, int] = {}
    for route in routes:
        if route.kind == "skip":
            r = arrangement.row[route.tail]
            lanes[r] = max(lanes.get(r, 0), route.lane + 1)
    row_top: list[float] = []
    row_cy: list[float] = []
    row_band: list[float] = []
    y = PADDING
    for r, chain in enumerate(arrangement.rows):
        above = max(-glyphs[n].top for n in chain) + lanes.get(r, 0) * LANE_GAP
        below = max(glyphs[n].bottom for n in chain)
        band = _band_height(chain, labels, style, font)
        row_top.append(y)
        row_cy.append(y + above)
        row_band.append(y + above + below + (4.0 if band else 0.0))
        y += above + below + (band + 4.0 if band else 0.0) + ROW_GAP
    height = y - ROW_GAP

    def origin(nid: str) -> tuple[float, float]:
        c = arrangement.col[nid]
        g = glyphs[nid]
        # a narrow glyph is centred in a wide column (a label widened it)
        offset = (col_width[c] - (g.foot if style.overlap and not multi else g.right)) / 2
        return col_x[c] + max(0.0, offset), row_cy[arrangement.row[nid]]

    def at(nid: str, point: tuple[float, float]) -> tuple[float, float]:
        ox, oy = origin(nid)
        return ox + point[0], oy + point[1]

    root = Group("md-diagram", data={"style": style.name})
    wires = Group("md-connectors")
    body = Group("md-layers")
    label_group = Group("md-labels")
    right = 0.0
    frame = _Frame(glyphs, at, arrangement, col_x, col_width, gaps, slots, row_cy)
    for route in routes:
        _draw_route(route, wires, frame, draw_funnel=options["draw-funnel"])
    for layer in layers:
        ox, oy = origin(layer.id)
        g = glyphs[layer.id]
        group = Group(
            f"md-layer md-t-{slug(layer.type)}",
            title=f"{layer.type}{' ' + layer.title if layer.title else ''}: {layer.dims}",
            data={"type": layer.type, "kind": layer.kind, "shape": "x".join(map(str, layer.shape))},
        )
        for item in _shift(g.items, ox, oy):
            group.add(item)
        body.add(group)
        right = max(right, ox + g.right)
        lines = labels[layer.id]
        if lines:
            band = row_band[arrangement.row[layer.id]]
            cx = ox + g.label_x
            if style.labels == "rotated":
                label_group.add(
                    Text(
                        cx + font * ASCENT / 2,
                        band,
                        lines[0],
                        font,
                        "md-ink",
                        anchor="end",
                        cls="md-label md-dims",
                        rotate=-90,
                    )
                )
                right = max(right, cx + font)
            else:
                for i, line in enumerate(lines):
                    cls = "md-label md-name" if i == 0 and len(lines) > 1 else "md-label md-dims"
                    label_group.add(
                        Text(
                            cx,
                            band + font * (1.25 * i + 1),
                            line,
                            font,
                            "md-ink",
                            anchor="middle",
                            cls=cls,
                        )
                    )
                    right = max(right, cx + text_width(line, font) / 2)
    root.add(wires)
    root.add(body)
    root.add(label_group)
    width = max(right, col_x[-1] + col_width[-1]) + PADDING
    if options["legend"]:
        width, height = _legend(root, types, paint_of, style, options, figure_size=(width, height))
    background = options["background"]
    return Canvas(
        width=round(width, 2),
        height=round(height + PADDING, 2),
        paints=paints,
        root=root,
        description=describe(graph, layers, arrangement, style),
        background=None
        if background == "transparent"
        else Color(background, "--model-diagram-background"),
    )


def describe(
    graph: Mapping[str, Any], layers: Sequence[Layer], arrangement: Arrangement, style: StyleSpec
) -> str:
    """A text alternative: each row's layers with their output shapes, in order."""
    by_id = {layer.id: layer for layer in layers}
    rows = [
        " -> ".join(f"{by_id[n].type} {by_id[n].dims}" for n in chain) for chain in arrangement.rows
    ]
    head = f"{graph.get('model', 'Model')} drawn in the {style.name} style"
    if len(rows) == 1:
        return f"{head}: {rows[0]}."
    parts = "; ".join(f"branch {i}: {row}" for i, row in enumerate(rows[1:], start=1))
    return f"{head}. Main path: {rows[0]}; {parts}."


def _label_lines(layer: Layer, style: StyleSpec, options: Mapping[str, Any]) -> list[str]:
    if style.labels == "rotated":
        return [layer.dims] if options["show-dimension"] else []
    lines = [layer.type]
    if options["show-dimension"]:
        lines.append(layer.dims)
    return lines


def _band_height(
    chain: Sequence[str], labels: Mapping[str, list[str]], style: StyleSpec, font: float
) -> float:
    if style.labels == "rotated":
        return max((text_width(labels[n][0], font) for n in chain if labels[n]), default=0.0)
    count = max((len(labels[n]) for n in chain), default=0)
    return count * font * 1.25


def _routes(layers: Sequence[Layer], arrangement: Arrangement) -> list[_Route]:
    """Classify every edge and check that it can be drawn without crossing a layer."""
    occupied = {(arrangement.row[n], arrangement.col[n]) for r in arrangement.rows for n in r}
    routes: list[_Route] = []
    lane_use: dict[int, list[tuple[int, int, int]]] = {}
    for layer in layers:
        for head in layer.succs:
            t_row, h_row = arrangement.row[layer.id], arrangement.row[head]
            t_col, h_col = arrangement.col[layer.id], arrangement.col[head]
            if t_row == h_row:
                chain = arrangement.rows[t_row]
                if chain.index(head) == chain.index(layer.id) + 1:
                    routes.append(_Route(layer.id, head, "next"))
                    continue
                used = lane_use.setdefault(t_row, [])
                lane = 0
                # arcs that overlap or share a layer take different lanes
                while any(lo <= h_col and t_col <= hi and ln == lane for lo, hi, ln in used):
                    lane += 1
                used.append((t_col, h_col, lane))
                routes.append(_Route(layer.id, head, "skip", lane=lane))
                continue
            # fork: data leaves its row for a branch; join: a branch ends in another row
            role = " ".join(
                name
                for name, yes in (
                    ("md-fork", arrangement.rows[h_row][0] == head),
                    ("md-join", arrangement.rows[t_row][-1] == layer.id),
                )
                if yes
            )
            between = range(t_col + 1, h_col)
            # the vertical runs right after the tail or right before the head, whichever
            # leaves a horizontal run through empty columns only
            if not any((h_row, c) in occupied for c in between):
                routes.append(
                    _Route(layer.id, head, "cross", gap=t_col, slot=("from", layer.id), role=role)
                )
            elif not any((t_row, c) in occupied for c in between):
                routes.append(
                    _Route(layer.id, head, "cross", gap=h_col - 1, slot=("to", head), role=role)
                )
            else:
                raise RenderError(
                    f"cannot draw this model in this style: the connection from "
                    f"{layer.type} to the {_name_of(layers, head)} layer would cross other "
                    "layers (the model is not a chain with branches that fork and merge); "
                    "use style: graph for this model"
                )
    return routes


def _name_of(layers: Sequence[Layer], nid: str) -> str:
    return next(layer.type for layer in layers if layer.id == nid)


def _arrow(x: float, y: float, direction: str) -> Poly:
    a = ARROW
    points = {
        "right": ((x, y), (x - a, y - a / 2), (x - a, y + a / 2)),
        "down": ((x, y), (x - a / 2, y - a), (x + a / 2, y - a)),
    }[direction]
    return Poly(points, "md-arrow", "md-arrowhead")


@dataclass(frozen=True)
class _Frame:
    """The placed figure that connectors are routed through."""

    glyphs: Mapping[str, Glyph]
    at: Callable[[str, tuple[float, float]], tuple[float, float]]
    arrangement: Arrangement
    col_x: Sequence[float]
    col_width: Sequence[float]
    gaps: Sequence[float]
    slots: Mapping[int, list[tuple[str, str]]]
    row_cy: Sequence[float]


def _draw_route(route: _Route, wires: Group, frame: _Frame, *, draw_funnel: bool) -> None:
    glyphs, at, arrangement = frame.glyphs, frame.at, frame.arrangement
    tail, head = glyphs[route.tail], glyphs[route.head]
    if route.kind == "next":
        if not draw_funnel:
            return
        group = Group("md-funnel")
        for a, b in zip(tail.funnel_out, head.funnel_in, strict=False):
            group.add(
                Poly((at(route.tail, a), at(route.head, b)), "md-line", "md-line", closed=False)
            )
        wires.add(group)
        return
    group = Group(f"md-connector md-{route.kind} {route.role}".strip())
    if route.kind == "skip":
        # leave a layer right of where arcs arrive: a layer that ends one arc and starts the
        # next shows two lines, not one
        start = at(route.tail, (tail.top_pt[0] + ARROW / 2, tail.top_pt[1]))
        end = at(route.head, (head.top_pt[0] - ARROW / 2, head.top_pt[1]))
        r = arrangement.row[route.tail]
        lane_y = (
            frame.row_cy[r]
            - max(-glyphs[n].top for n in arrangement.rows[r])
            - LANE_GAP * (route.lane + 1)
            + LANE_GAP / 2
        )
        points = (start, (start[0], lane_y), (end[0], lane_y), (end[0], end[1] - ARROW))
        group.add(Poly(points, "md-line", "md-line", closed=False))
        group.add(_arrow(end[0], end[1], "down"))
        wires.add(group)
        return
    start = at(route.tail, tail.out_pt)
    end = at(route.head, head.in_pt)
    gap_slots = frame.slots[route.gap]
    left = frame.col_x[route.gap] + frame.col_width[route.gap]
    x = left + frame.gaps[route.gap] * (gap_slots.index(route.slot) + 1) / (len(gap_slots) + 1)
    points = ((start[0], start[1]), (x, start[1]), (x, end[1]), (end[0] - ARROW, end[1]))
    group.add(Poly(points, "md-line", "md-line", closed=False))
    group.add(_arrow(end[0], end[1], "right"))
    wires.add(group)


def _legend(
    root: Group,
    types: Sequence[str],
    paint_of: Mapping[str, str],
    style: StyleSpec,
    options: Mapping[str, Any],
    *,
    figure_size: tuple[float, float],
) -> tuple[float, float]:
    """Add the legend (one entry per layer type) where ``legend-position`` says;
    returns the figure's new (width, height)."""
    width, height = figure_size
    font = float(options["font-size"])
    size = round(font * 1.2, 2)  # of a swatch
    gap = font * 0.6
    entries = []
    for name in types:
        entry = Group(f"md-legend-entry md-t-{slug(name)}", data={"type": name})
        for item in style.swatch(paint_of[name], size, options):
            entry.add(item)
        entry.add(
            Text(
                size + gap,
                size / 2 + font * ASCENT / 2,
                name,
                font,
                "md-ink",
                cls="md-legend-label",
            )
        )
        entries.append((entry, size + gap + text_width(name, font)))
    position = options["legend-position"]
    legend = Group(f"md-legend md-legend-{position}")
    step = size + font * 0.7
    if position in {"top", "bottom"}:
        # a narrow figure gets a wider legend rather than one entry per line
        total = sum(w for _, w in entries) + font * 1.5 * (len(entries) - 1)
        avail = max(width - 2 * PADDING, min(total, LEGEND_WIDTH), *(w for _, w in entries))
        width = max(width, avail + 2 * PADDING)
        x = y = 0.0
        for entry, w in entries:
            if x > 0 and x + w > avail + 0.01:
                x, y = 0.0, y + step
            legend.add(_translated(entry, x, y))
            x += w + font * 1.5
        block = y + size
        if position == "bottom":
            _translate_group(legend, PADDING, height + font)
            height = height + font + block
        else:
            _translate_group(root, 0.0, block + font)
            _translate_group(legend, PADDING, PADDING)
            height = height + font + block
    else:
        block_w = max(w for _, w in entries)
        for i, (entry, _) in enumerate(entries):
            legend.add(_translated(entry, 0.0, i * step))
        block_h = (len(entries) - 1) * step + size
        top = max(PADDING, (height - block_h) / 2)
        if position == "right":
            _translate_group(legend, width, top)
        else:
            _translate_group(root, block_w + 2 * PADDING, 0.0)
            _translate_group(legend, PADDING, top)
        width = width + block_w + 2 * PADDING
        height = max(height, top + block_h)
    root.add(legend)
    return width, height


def _translated(group: Group, dx: float, dy: float) -> Group:
    _translate_group(group, dx, dy)
    return group


def _translate_group(group: Group, dx: float, dy: float) -> None:
    """Move every primitive of a group (coordinates stay absolute: simpler output)."""
    moved: list[Poly | Text | Group] = []
    for item in group.items:
        if isinstance(item, Group):
            _translate_group(item, dx, dy)
            moved.append(item)
        elif isinstance(item, Poly):
            moved.extend(_shift([item], dx, dy))
        else:
            moved.append(
                Text(
                    item.x + dx,
                    item.y + dy,
                    item.text,
                    item.size,
                    item.paint,
                    item.anchor,
                    item.cls,
                    item.rotate,
                )
            )
    group.items = moved
