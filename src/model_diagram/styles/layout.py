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
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import RenderError
from ..fonts import FontFamily, family
from ..layergraph import Layer as GraphLayer
from ..layergraph import LayerGraph, nearest_kept
from ..options import DiagramOptions
from ..scene import Link, Node, Scene
from ..theme import PALETTES, on_background
from ..units import print_inches
from .canvas import ASCENT, Canvas, Color, Group, Paint, Poly, Text

INPUT_TYPE = "Input"
INPUT_FILL = "#e0e0e0"
INK_VAR = "--model-diagram-ink"
LINE_VAR = "--model-diagram-muted"
#: smallest printed text size that ``print-width`` keeps, in pt
MIN_PRINT_PT = 7.0
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
    #: an input's name (a dict key or argument name), shown in its label
    name: str = ""
    params: int = 0
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)

    @property
    def dims(self) -> str:
        return "\u00d7".join(str(d) for d in self.shape) if self.shape else "1"


def layer_type(node: GraphLayer) -> str:
    return INPUT_TYPE if node.kind == "input" else node.name


_KEY = re.compile(r"""\[['"]?([^'"\]]+)['"]?\]$""")


def input_name(label: str) -> str:
    """``x['user_id']`` -> ``user_id`` (a dict input's key); other labels as they are."""
    match = _KEY.search(label)
    return match[1] if match else label


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "layer"


def extract_layers(graph: LayerGraph, type_ignore: Sequence[str]) -> list[Layer]:
    """The layers of a layer graph in topological order, ignored types bridged over."""
    ignore = {name.lower() for name in type_ignore}
    nodes = {n.id: n for n in graph.layers}
    order = {nid: i for i, nid in enumerate(nodes)}
    succ: dict[str, list[str]] = {nid: [] for nid in nodes}
    for edge in graph.edges:
        if edge.tail in succ and edge.head in nodes:
            succ[edge.tail].append(edge.head)
    keep = [
        nid
        for nid, n in nodes.items()
        if n.kind in {"input", "module", "function"} and layer_type(n).lower() not in ignore
    ]
    kept = set(keep)
    inputs = [nid for nid in keep if nodes[nid].kind == "input"]
    layers: dict[str, Layer] = {}
    for nid in keep:
        node = nodes[nid]
        shapes = node.outputs or node.inputs or ((),)
        shape = shapes[0] if shapes else ()
        title = node.qualname or node.label or ""
        label = node.label or ""
        # named when there is a choice to tell apart: dict keys, several arguments
        name = (
            input_name(label)
            if node.kind == "input" and (len(inputs) > 1 or _KEY.search(label))
            else ""
        )
        layers[nid] = Layer(
            nid, node.kind, layer_type(node), title, tuple(shape[1:]), name, node.params
        )
    for nid in keep:
        for head in sorted(nearest_kept(succ, nid, kept), key=order.__getitem__):
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
    #: one chain broken into several rows (``print-width``), read like lines of text
    wrapped: bool = False


def wrap(layers: Sequence[Layer], arrangement: Arrangement, lines: int) -> Arrangement | None:
    """A plain chain broken into ``lines`` rows of about equal length; None when the figure
    has branches or skips (their connectors could not follow the break)."""
    chain = arrangement.rows[0]
    if len(arrangement.rows) > 1 or any(len(x.succs) > 1 or len(x.preds) > 1 for x in layers):
        return None
    per = -(-len(chain) // lines)
    rows = [chain[i : i + per] for i in range(0, len(chain), per)]
    row = {nid: r for r, part in enumerate(rows) for nid in part}
    col = {nid: c for part in rows for c, nid in enumerate(part)}
    return Arrangement(rows, row, col, per, wrapped=True)


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


# -- sizes


#: px per unit of f(n) for each ``size-scale``: f(n) = n, sqrt(n), log2(1 + n)
_SIZE_UNIT = {"linear": 1.0, "sqrt": 12.0, "log": 24.0}


def spatial_extents(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The extents a style draws as heights and depths: ``(N,)``, or ``H`` and ``W``."""
    return shape[:1] if len(shape) == 1 else shape[1:3]


@dataclass(frozen=True)
class SizeScale:
    """Pixels for a spatial extent ``n``: ``unit * f(n) * scale-xy``, fitted to this figure.

    When every raw size lies within ``min-xy``..``max-xy`` it is kept as it is; otherwise
    the figure's whole range is mapped onto the part of that interval it reaches, instead
    of clipping, so the largest and smallest layers stay visibly different.
    """

    kind: str
    factor: float
    low: float
    high: float
    raw_lo: float = 0.0
    raw_hi: float = 0.0

    def raw(self, n: int) -> float:
        n = max(n, 1)
        value = {"linear": float(n), "sqrt": math.sqrt(n), "log": math.log2(1 + n)}[self.kind]
        return _SIZE_UNIT[self.kind] * value * self.factor

    def __call__(self, n: int) -> float:
        raw = self.raw(n)
        lo, hi = self.raw_lo, self.raw_hi
        if self.low <= lo and hi <= self.high:
            return raw
        target_lo = min(max(lo, self.low), self.high)
        target_hi = min(max(hi, self.low), self.high)
        if hi <= lo:
            return target_lo
        return target_lo + (min(max(raw, lo), hi) - lo) * (target_hi - target_lo) / (hi - lo)

    @classmethod
    def fit(cls, extents: Iterable[int], options: DiagramOptions) -> SizeScale:
        low = float(options.min_xy)
        scale = cls(options.size_scale, float(options.scale_xy), low, max(low, options.max_xy))
        raws = [scale.raw(n) for n in extents] or [scale.raw(1)]
        return cls(scale.kind, scale.factor, scale.low, scale.high, min(raws), max(raws))


@dataclass(frozen=True)
class Context:
    """What a style's glyph and swatch functions draw with."""

    options: DiagramOptions
    font: FontFamily
    font_size: float
    #: px for a spatial extent (heights and depths), fitted to the figure
    xy: Callable[[int], float]


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
    glyph: Callable[[Layer, str, Context], Glyph]
    swatch: Callable[[str, float, Context], list[Poly]]
    #: "rotated": dims under each layer, reading upwards; "lines": type and dims, centred
    labels: str
    #: whether 3D depth may overhang the next column on a single row (as in visualkeras)
    overlap: bool
    #: default space between layers, px
    spacing: float
    #: the editable shape of a layer that is neither a cube nor a stack of planes
    shape: str = "box"


def _shift(items: Sequence[Poly], dx: float, dy: float) -> list[Poly]:
    return [
        Poly(tuple((x + dx, y + dy) for x, y in p.points), p.paint, p.cls, p.closed) for p in items
    ]


# -- paints


def _darken(hex_color: str, amount: float = 0.45) -> str:
    text = hex_color.lstrip("#")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * (1 - amount)) for c in (r, g, b)))


def ink_colors(options: DiagramOptions) -> tuple[Color, Color]:
    """(text, line) colours: as given; else the theme's (a transparent figure follows the
    page); else, on a painted background, the theme ink that contrasts more with it
    (pinned by :func:`pinned_variables`, so a dark page cannot turn it light)."""
    background = options.background
    chosen = []
    for given, var in ((options.text_color, INK_VAR), (options.line_color, LINE_VAR)):
        if given:
            chosen.append(Color(given))
        else:
            base = "#ffffff" if background == "transparent" else background
            chosen.append(Color(on_background(base, var), var))
    return chosen[0], chosen[1]


def pinned_variables(options: DiagramOptions, paints: Mapping[str, Paint]) -> dict[str, str]:
    """Theme variables a figure with its own background fixes for itself."""
    if options.background == "transparent":
        return {}
    colors = [paints["md-ink"].fill, paints["md-line"].stroke]
    return {c.var: c.default for c in colors if c is not None and c.var}


def build_paints(
    types: Sequence[str], options: DiagramOptions
) -> tuple[dict[str, Paint], dict[str, str]]:
    """A fill/outline paint per layer type (palette order of first appearance, then
    ``color-map``), plus the fixed paints; returns (paints, paint name by type)."""
    palette = options.palette
    colors = PALETTES[palette] if isinstance(palette, str) else tuple(palette)
    color_map = options.color_map
    lowered = {key.lower(): value for key, value in color_map.items()}
    opacity = options.opacity
    ink, line = ink_colors(options)
    paints = {
        "md-ink": Paint(fill=ink),
        "md-line": Paint(stroke=line, stroke_width=1.0),
        "md-arrow": Paint(fill=line),
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


@dataclass
class _Plan:
    """A figure being composed: its layers, where they go, and what they look like."""

    layers: list[Layer]
    arrangement: Arrangement
    style: StyleSpec
    ctx: Context
    glyphs: dict[str, Glyph]
    labels: dict[str, list[str]]
    routes: list[_Route]

    @property
    def multi(self) -> bool:
        return len(self.arrangement.rows) > 1

    def footprint(self, nid: str) -> float:
        """The width a layer takes in its column (3D depth overhangs on a single row)."""
        g = self.glyphs[nid]
        return g.foot if (self.style.overlap and not self.multi) else g.right


@dataclass
class _Columns:
    x: list[float]
    width: list[float]
    gaps: list[float]
    slots: dict[int, list[tuple[str, str]]]


@dataclass
class _Rows:
    top: list[float]
    cy: list[float]
    band: list[float]
    height: float


def compose(graph: LayerGraph, options: DiagramOptions, style: StyleSpec) -> Canvas:
    """Lay out and draw a layer graph in ``style``; deterministic for equal inputs.

    With ``print-width`` the figure is scaled to that width. Text that would print under
    :data:`MIN_PRINT_PT` is set larger and the figure composed again (wider labels make
    it wider, so a few rounds settle it); when labels alone are too wide for the page, a
    plain chain of layers is wrapped onto more lines, like text."""
    return fit_print_width(
        options,
        lambda size, lines: _compose_at(graph, options, style, size, lines),
        max_lines=8,
    )


def fit_print_width(
    options: DiagramOptions, make: Callable[[float, int], Canvas], *, max_lines: int = 1
) -> Canvas:
    """``make(font size, lines)`` at ``font-size``, or fitted to ``print-width``: the
    smallest font size from ``font-size`` up and the fewest lines (up to ``max_lines``)
    that print text at :data:`MIN_PRINT_PT` or more; else the best that can be done."""
    font_size = float(options.font_size)
    if not options.print_width:
        return make(font_size, 1)
    target = print_inches(options.print_width) * 96.0
    best: tuple[float, Canvas] | None = None
    for lines in range(1, max_lines + 1):
        size = font_size
        for _ in range(5):
            canvas = make(size, lines)
            printed_pt = size * target / canvas.width * 0.75
            if printed_pt >= MIN_PRINT_PT - 0.01:
                canvas.print_scale = target / canvas.width
                return canvas
            size = round(size * MIN_PRINT_PT / printed_pt + 0.05, 2)
        if best is None or printed_pt > best[0]:
            best = (printed_pt, canvas)
        if canvas.data.get("lines", "1") != str(lines):  # cannot wrap (branches), or no more
            break
    assert best is not None
    canvas = best[1]
    canvas.print_scale = target / canvas.width
    return canvas


def _compose_at(
    graph: LayerGraph,
    options: DiagramOptions,
    style: StyleSpec,
    font_size: float,
    lines: int,
) -> Canvas:
    layers = extract_layers(graph, options.type_ignore)
    arrangement = arrange(layers)
    if 1 < lines <= len(arrangement.rows[0]):
        arrangement = wrap(layers, arrangement, lines) or arrangement
    types = list(dict.fromkeys(layer.type for layer in layers))
    paints, paint_of = build_paints(types, options)
    extents = {n for layer in layers for n in spatial_extents(layer.shape)}
    xy = SizeScale.fit(extents, options)
    ctx = Context(options, family(options.font_family), font_size, xy)
    plan = _Plan(
        layers,
        arrangement,
        style,
        ctx,
        {layer.id: style.glyph(layer, paint_of[layer.type], ctx) for layer in layers},
        {layer.id: _label_lines(layer, style, options) for layer in layers},
        _routes(layers, arrangement),
    )
    spacing = float(style.spacing if options.spacing is None else options.spacing)
    columns = _columns(plan, spacing)
    rows = _rows(plan)

    def origin(nid: str) -> tuple[float, float]:
        c = arrangement.col[nid]
        # a narrow glyph is centred in a wide column (a label widened it)
        offset = (columns.width[c] - plan.footprint(nid)) / 2
        return columns.x[c] + max(0.0, offset), rows.cy[arrangement.row[nid]]

    def at(nid: str, point: tuple[float, float]) -> tuple[float, float]:
        ox, oy = origin(nid)
        return ox + point[0], oy + point[1]

    root = Group("md-diagram", data={"style": style.name})
    wires = Group("md-connectors")
    frame = _Frame(
        plan.glyphs,
        at,
        arrangement,
        columns.x,
        columns.width,
        columns.gaps,
        columns.slots,
        rows.cy,
        rows.top,
    )
    funnels = bool(options.draw_funnel)
    links = [
        Link(route.tail, route.head, _draw_route(route, wires, frame, draw_funnel=funnels))
        for route in plan.routes
    ]
    body, label_group, right = _draw_layers(plan, origin, rows)
    root.add(wires)
    root.add(body)
    root.add(label_group)
    width = max(right, columns.x[-1] + columns.width[-1]) + PADDING
    height = rows.height
    if options.legend:
        width, height = add_legend(
            root, types, paint_of, style.swatch, ctx, figure_size=(width, height)
        )
    background = options.background
    scene = Scene(
        round(width, 2),
        round(height + PADDING, 2),
        _scene_nodes(plan, origin, paints, paint_of),
        links,
        None if background == "transparent" else background,
        _default(paints["md-ink"].fill),
        _default(paints["md-line"].stroke),
        ctx.font,
        font_size,
        graph.model or "Model",
    )
    return Canvas(
        width=round(width, 2),
        height=round(height + PADDING, 2),
        scene=scene,
        paints=paints,
        root=root,
        description=describe(graph, layers, arrangement, style),
        background=None
        if background == "transparent"
        else Color(background, "--model-diagram-background"),
        font=ctx.font,
        pinned=pinned_variables(options, paints),
        data={"lines": str(len(arrangement.rows))} if arrangement.wrapped else {},
    )


def _default(color: Color | None) -> str:
    return color.default if color is not None else "#000000"


def _scene_nodes(
    plan: _Plan,
    origin: Callable[[str], tuple[float, float]],
    paints: Mapping[str, Paint],
    paint_of: Mapping[str, str],
) -> list[Node]:
    """The layers as editable shapes: bounds, front face, depth or planes, colours."""
    nodes = []
    for layer in plan.layers:
        ox, oy = origin(layer.id)
        g = plan.glyphs[layer.id]
        faces = [p for p in g.items if "md-front" in p.cls.split()] or g.items[:1]
        xs = [x for x, _ in faces[0].points]
        ys = [y for _, y in faces[0].points]
        front = (
            round(ox + min(xs), 2),
            round(oy + min(ys), 2),
            round(max(xs) - min(xs), 2),
            round(max(ys) - min(ys), 2),
        )
        planes = [p for p in g.items if "md-plane" in p.cls.split()]
        if len(planes) > 1:
            shape, depth = "planes", planes[1].points[0][0] - planes[0].points[0][0]
        elif g.right - front[2] > 0.01 and plan.style.name == "layered":
            shape, depth = "cube", g.right - front[2]
        else:
            shape, depth = plan.style.shape, 0.0
        paint = paints[paint_of[layer.type]]
        nodes.append(
            Node(
                layer.id,
                tuple(plan.labels[layer.id]) or (layer.name or layer.type,),
                layer.kind,
                layer.type,
                round(ox, 2),
                round(oy + g.top, 2),
                round(g.right, 2),
                round(g.bottom - g.top, 2),
                front,
                shape,
                round(depth, 2),
                max(1, len(planes)),
                _default(paint.fill),
                _default(paint.stroke),
                paint.fill_opacity,
            )
        )
    return nodes


def _columns(plan: _Plan, spacing: float) -> _Columns:
    """Column widths, the gaps after them (wider where vertical connectors run), x."""
    arrangement, ctx = plan.arrangement, plan.ctx
    width = [0.0] * arrangement.ncols
    for layer in plan.layers:
        w = plan.footprint(layer.id)
        if plan.style.labels == "lines":
            w = max([w, *(ctx.font.text_width(t, ctx.font_size) for t in plan.labels[layer.id])])
        c = arrangement.col[layer.id]
        width[c] = max(width[c], w)
    slots: dict[int, list[tuple[str, str]]] = {}
    for route in plan.routes:
        if route.kind == "cross" and route.slot not in slots.setdefault(route.gap, []):
            slots[route.gap].append(route.slot)
    gaps = [
        max(spacing, 12.0 * (len(slots.get(c, [])) + 1)) if slots.get(c) else spacing
        for c in range(arrangement.ncols)
    ]
    xs: list[float] = []
    x = PADDING
    for c in range(arrangement.ncols):
        xs.append(x)
        x += width[c] + gaps[c]
    return _Columns(xs, width, gaps, slots)


def _rows(plan: _Plan) -> _Rows:
    """Each row's centre line and label band: skip-arc lanes above, labels below."""
    lanes: dict[int, int] = {}
    for route in plan.routes:
        if route.kind == "skip":
            r = plan.arrangement.row[route.tail]
            lanes[r] = max(lanes.get(r, 0), route.lane + 1)
    top: list[float] = []
    cy: list[float] = []
    bands: list[float] = []
    y = PADDING
    for r, chain in enumerate(plan.arrangement.rows):
        top.append(y)
        above = max(-plan.glyphs[n].top for n in chain) + lanes.get(r, 0) * LANE_GAP
        below = max(plan.glyphs[n].bottom for n in chain)
        band = _band_height(chain, plan)
        cy.append(y + above)
        bands.append(y + above + below + (4.0 if band else 0.0))
        y += above + below + (band + 4.0 if band else 0.0) + ROW_GAP
    return _Rows(top, cy, bands, y - ROW_GAP)


def _draw_layers(
    plan: _Plan, origin: Callable[[str], tuple[float, float]], rows: _Rows
) -> tuple[Group, Group, float]:
    """One group per layer and its labels; returns (layers, labels, rightmost x)."""
    body = Group("md-layers")
    label_group = Group("md-labels")
    font, size = plan.ctx.font, plan.ctx.font_size
    right = 0.0
    for layer in plan.layers:
        ox, oy = origin(layer.id)
        g = plan.glyphs[layer.id]
        named = f" {layer.name}" if layer.name else ""
        group = Group(
            f"md-layer md-t-{slug(layer.type)}",
            title=f"{layer.type}{named}{' ' + layer.title if layer.title and not named else ''}"
            f": {layer.dims}",
            data={"type": layer.type, "kind": layer.kind, "shape": "x".join(map(str, layer.shape))}
            | ({"name": layer.name} if layer.name else {}),
        )
        for item in _shift(g.items, ox, oy):
            group.add(item)
        body.add(group)
        right = max(right, ox + g.right)
        lines = plan.labels[layer.id]
        if not lines:
            continue
        band = rows.band[plan.arrangement.row[layer.id]]
        cx = ox + g.label_x
        if plan.style.labels == "rotated":
            label_group.add(
                Text(
                    cx + size * ASCENT / 2,
                    band,
                    lines[0],
                    size,
                    "md-ink",
                    anchor="end",
                    cls="md-label md-dims",
                    rotate=-90,
                )
            )
            right = max(right, cx + size)
            continue
        for i, line in enumerate(lines):
            cls = "md-label md-name" if i == 0 and len(lines) > 1 else "md-label md-dims"
            label_group.add(
                Text(cx, band + size * (1.25 * i + 1), line, size, "md-ink", "middle", cls)
            )
            right = max(right, cx + font.text_width(line, size) / 2)
    return body, label_group, right


def describe(
    graph: LayerGraph, layers: Sequence[Layer], arrangement: Arrangement, style: StyleSpec
) -> str:
    """A text alternative: each row's layers with their output shapes, in order."""
    by_id = {layer.id: layer for layer in layers}

    def name(layer: Layer) -> str:
        return f"{layer.type} {layer.name}" if layer.name else layer.type

    rows = [
        " -> ".join(f"{name(by_id[n])} {by_id[n].dims}" for n in chain)
        for chain in arrangement.rows
    ]
    head = f"{graph.model} drawn in the {style.name} style"
    if len(rows) == 1:
        return f"{head}: {rows[0]}."
    parts = "; ".join(f"branch {i}: {row}" for i, row in enumerate(rows[1:], start=1))
    return f"{head}. Main path: {rows[0]}; {parts}."


def _label_lines(layer: Layer, style: StyleSpec, options: DiagramOptions) -> list[str]:
    if style.labels == "rotated":
        if not options.show_dimension:
            return [layer.name] if layer.name else []
        return [f"{layer.name}: {layer.dims}" if layer.name else layer.dims]
    lines = [layer.name or layer.type]
    if options.show_dimension:
        lines.append(layer.dims)
    return lines


def _band_height(chain: Sequence[str], plan: _Plan) -> float:
    font, size, labels = plan.ctx.font, plan.ctx.font_size, plan.labels
    if plan.style.labels == "rotated":
        return max((font.text_width(labels[n][0], size) for n in chain if labels[n]), default=0.0)
    count = max((len(labels[n]) for n in chain), default=0)
    return count * size * 1.25


def _routes(layers: Sequence[Layer], arrangement: Arrangement) -> list[_Route]:
    """Classify every edge and check that it can be drawn without crossing a layer."""
    occupied = {(arrangement.row[n], arrangement.col[n]) for r in arrangement.rows for n in r}
    routes: list[_Route] = []
    lane_use: dict[int, list[tuple[int, int, int]]] = {}
    for layer in layers:
        for head in layer.succs:
            t_row, h_row = arrangement.row[layer.id], arrangement.row[head]
            t_col, h_col = arrangement.col[layer.id], arrangement.col[head]
            if arrangement.wrapped and h_row == t_row + 1:
                routes.append(_Route(layer.id, head, "wrap"))
                continue
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
    row_top: Sequence[float]


def _draw_route(
    route: _Route, wires: Group, frame: _Frame, *, draw_funnel: bool
) -> tuple[tuple[float, float], ...]:
    """Draw one connection; returns the path it stands for (for the editable scene)."""
    glyphs, at, arrangement = frame.glyphs, frame.at, frame.arrangement
    tail, head = glyphs[route.tail], glyphs[route.head]
    if route.kind == "next":
        if draw_funnel:
            group = Group("md-funnel")
            for a, b in zip(tail.funnel_out, head.funnel_in, strict=False):
                group.add(
                    Poly((at(route.tail, a), at(route.head, b)), "md-line", "md-line", closed=False)
                )
            wires.add(group)
        return (at(route.tail, tail.out_pt), at(route.head, head.in_pt))
    group = Group(f"md-connector md-{route.kind} {route.role}".strip())
    if route.kind == "wrap":
        # out of the end of one line, back under it, into the start of the next
        start = at(route.tail, tail.out_pt)
        end = at(route.head, head.in_pt)
        below = frame.row_top[arrangement.row[route.head]] - ROW_GAP / 2
        x_out, x_in = start[0] + ARROW, min(end[0] - 2 * ARROW, frame.col_x[0] - 2)
        path = [start, (x_out, start[1]), (x_out, below), (x_in, below), (x_in, end[1])]
        path.append((end[0] - ARROW, end[1]))
        group.add(Poly(tuple(path), "md-line", "md-line", closed=False))
        group.add(_arrow(end[0], end[1], "right"))
        wires.add(group)
        return (*path[:-1], end)
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
        return (*points[:-1], end)
    start = at(route.tail, tail.out_pt)
    end = at(route.head, head.in_pt)
    gap_slots = frame.slots[route.gap]
    left = frame.col_x[route.gap] + frame.col_width[route.gap]
    x = left + frame.gaps[route.gap] * (gap_slots.index(route.slot) + 1) / (len(gap_slots) + 1)
    points = ((start[0], start[1]), (x, start[1]), (x, end[1]), (end[0] - ARROW, end[1]))
    group.add(Poly(points, "md-line", "md-line", closed=False))
    group.add(_arrow(end[0], end[1], "right"))
    wires.add(group)
    return (*points[:-1], end)


def add_legend(
    root: Group,
    types: Sequence[str],
    paint_of: Mapping[str, str],
    swatch: Callable[[str, float, Context], list[Poly]],
    ctx: Context,
    *,
    figure_size: tuple[float, float],
) -> tuple[float, float]:
    """Add the legend (one entry per layer type) where ``legend-position`` says;
    returns the figure's new (width, height)."""
    width, height = figure_size
    font = ctx.font_size
    size = round(font * 1.2, 2)  # of a swatch
    gap = font * 0.6
    entries = []
    for name in types:
        entry = Group(f"md-legend-entry md-t-{slug(name)}", data={"type": name})
        for item in swatch(paint_of[name], size, ctx):
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
        entries.append((entry, size + gap + ctx.font.text_width(name, font)))
    position = ctx.options.legend_position
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
