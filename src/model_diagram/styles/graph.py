"""The graph style: a layer graph -> Graphviz DOT text.

Labels are HTML-like tables with escaped text. Every node, edge and cluster
gets a semantic ``class`` (``md-module``, ``md-function``, ``md-input``,
``md-output``, ``md-tensor``, ``md-edge``, ``md-cluster``, ``md-legend``) for
theming. The font is one of the families of :mod:`model_diagram.fonts`
(Helvetica by default), which both engines measure correctly (torchview's
default "Linux libertine" is missing on most machines and overflows boxes).
``background``, ``text-color`` and ``line-color`` paint the canvas, the
cluster and edge labels, and the edges and cluster frames; node boxes keep the
theme's fills and ink. Module nodes carry a tooltip (qualified name, class,
parameters, shapes and dtypes) and a ``#md-class:`` placeholder link that
the front ends resolve against the site's API pages (``link-classes``) or
drop (:func:`model_diagram.classlinks.resolve_class_links`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..classlinks import CLASS_LINK
from ..fonts import family
from ..layergraph import Layer, LayerGraph, count_text, shape_text
from ..options import DiagramOptions
from ..scene import Frame, Link, Node, Scene
from ..theme import light, on_background
from .repeats import collapse_repeats

#: literal light colours; theme.svg_style() turns them into CSS variables
FILLS = {
    "module": light("--model-diagram-module-fill"),
    "function": light("--model-diagram-function-fill"),
    "input": light("--model-diagram-io-fill"),
    "output": light("--model-diagram-io-fill"),
    "tensor": light("--model-diagram-tensor-fill"),
}
INK = light("--model-diagram-ink")
MUTED = light("--model-diagram-muted")
#: architecture diffs: status -> (fill, outline, glyph); unchanged layers are muted
MARKS = {
    "added": (light("--model-diagram-added-fill"), light("--model-diagram-added-ink"), "+"),
    "removed": (light("--model-diagram-removed-fill"), light("--model-diagram-removed-ink"), "-"),
    "changed": (light("--model-diagram-changed-fill"), light("--model-diagram-changed-ink"), "~"),
    "same": (light("--model-diagram-unchanged-fill"), MUTED, ""),
}
KIND_NAMES = {
    "input": "input tensor",
    "module": "module",
    "function": "function",
    "tensor": "inner tensor",
    "output": "output tensor",
}


def should_collapse(options: DiagramOptions) -> bool:
    """``collapse-repeats``, or by default: on when more than one level is drawn."""
    if options.collapse_repeats is None:
        return options.depth is None or options.depth < 0 or options.depth > 1
    return options.collapse_repeats


def prepare(graph: LayerGraph, options: DiagramOptions) -> LayerGraph:
    """The graph as drawn: repeats collapsed when asked."""
    return collapse_repeats(graph) if should_collapse(options) else graph


def tooltip(layer: Layer) -> str:
    """Plain-text summary of one layer (the SVG ``<title>`` a browser shows on hover)."""
    lines = []
    if layer.kind == "module":
        lines.append(f"{layer.qualname or layer.name} ({layer.cls or layer.name})")
        lines.append(f"parameters: {layer.params:,}")
    elif layer.kind == "function":
        where = f" in {layer.scope}" if layer.scope else ""
        lines.append(f"{layer.name} (function{where})")
    else:
        lines.append(f"{KIND_NAMES[layer.kind]} {layer.label or ''}".strip())
    if layer.repeat:
        lines.append(f"repeated x{layer.repeat} ({layer.repeat_group})")
    if layer.kind in {"module", "function"}:
        lines.append(f"input: {shape_text(layer.inputs, layer.in_dtypes)}")
    lines.append(f"output: {shape_text(layer.outputs, layer.out_dtypes)}")
    return "\n".join(lines)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _attr(value: str) -> str:
    """A quoted DOT attribute value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_label(layer: Layer, options: DiagramOptions, mark: str | None = None) -> str:
    """The HTML-like label; ``mark`` (a diff status) recolours it and prefixes +, - or ~."""
    kind = layer.kind
    show_shapes = options.show_shapes
    dtypes = options.show_dtypes
    fill, line, glyph = MARKS[mark] if mark else (FILLS[kind], INK, "")
    border = "2" if glyph else "0"
    table = (
        f'<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
        f'BGCOLOR="{fill}" COLOR="{line}">'
    )
    prefix = f"<B>{_esc(glyph)}</B> " if glyph else ""
    if kind in {"input", "output", "tensor"}:
        title = layer.label or kind
        head = f"<B>{_esc(kind)}</B>" if title == kind else f"<B>{_esc(kind)}</B> {_esc(title)}"
        head = prefix + head
        cells = [f"<TR><TD>{head}</TD></TR>"]
        if show_shapes:
            text = shape_text(layer.outputs, layer.out_dtypes if dtypes else None)
            cells.append(f"<TR><TD>{_esc(text)}</TD></TR>")
        return "<" + table + "".join(cells) + "</TABLE>>"
    head = f"{prefix}<B>{_esc(layer.name)}</B>"
    if layer.repeat:
        head += f' <FONT COLOR="{INK}">x{layer.repeat}</FONT>'
    if layer.qualname:
        shown = str(layer.repeat_group if layer.repeat else layer.qualname)
        head += f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">{_esc(shown)}</FONT>'
    if options.show_params and layer.params:
        head += (
            f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">'
            f"{_esc(count_text(layer.params))} params</FONT>"
        )
    if not show_shapes:
        return "<" + table + f"<TR><TD>{head}</TD></TR></TABLE>>"
    ins = shape_text(layer.inputs, layer.in_dtypes if dtypes else None)
    outs = shape_text(layer.outputs, layer.out_dtypes if dtypes else None)
    rows = (
        f'<TR><TD ROWSPAN="2">{head}</TD><TD ALIGN="LEFT">input</TD><TD>{_esc(ins)}</TD></TR>'
        f'<TR><TD ALIGN="LEFT">output</TD><TD>{_esc(outs)}</TD></TR>'
    )
    return "<" + table + rows + "</TABLE>>"


@dataclass
class _Cluster:
    """A Graphviz cluster: a group of the graph, or a box around a collapsed block."""

    id: str
    label: str
    parent: str | None
    repeat: bool = False


def _apply_repeats(graph: LayerGraph) -> tuple[list[_Cluster], dict[str, str | None]]:
    """Clusters for collapsed blocks: badge the block's own cluster, or wrap the block.

    Returns the clusters and the cluster each layer is drawn in.
    """
    clusters = {g.id: _Cluster(g.id, g.label, g.parent) for g in graph.groups}
    cluster_of = {layer.id: layer.cluster for layer in graph.layers}

    def chain(cluster_id: str | None) -> list[str]:
        found: list[str] = []
        while cluster_id is not None:
            found.insert(0, cluster_id)
            cluster_id = clusters[cluster_id].parent
        return found

    def subtree_nodes(cluster_id: str) -> set[str]:
        return {i for i, c in cluster_of.items() if cluster_id in chain(c)}

    for group in graph.repeats:
        keep = set(group.layers)
        chains = [chain(cluster_of[i]) for i in group.layers]
        common = [c for c, *rest in zip(*chains, strict=False) if all(r == c for r in rest)]
        home = common[-1] if common else None
        if home is not None and subtree_nodes(home) == keep:
            clusters[home].label = f"{clusters[home].label} x{group.count}"
            clusters[home].repeat = True
            continue
        cid = f"cluster_{group.id}"
        inner = [c for c in clusters.values() if c.parent == home and subtree_nodes(c.id) <= keep]
        clusters[cid] = _Cluster(cid, f"{group.label} x{group.count}", home, repeat=True)
        for cluster in inner:
            cluster.parent = cid
        for layer_id in keep:
            if cluster_of[layer_id] == home:
                cluster_of[layer_id] = cid
    return list(clusters.values()), cluster_of


def inks(options: DiagramOptions) -> tuple[str, str]:
    """(text, line) colours outside the nodes: as given, else the theme's literals (which
    follow the page's theme), else on a painted background the theme ink reading better."""
    background = options.background

    def pick(given: str | None, default: str) -> str:
        if given:
            return given
        if background == "transparent":
            return light(default)
        return on_background(background, default)

    return (
        pick(options.text_color, "--model-diagram-ink"),
        pick(options.line_color, "--model-diagram-ink"),
    )


def to_dot(
    graph: LayerGraph,
    options: DiagramOptions,
    marks: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """DOT text for a layer graph; the same graph and options give the same text.

    ``marks`` (layer id -> diff status and a note for the tooltip) draws an
    architecture diff: see :mod:`model_diagram.diffdraw`.
    """
    marks = marks or {}
    graph = prepare(graph, options)
    clusters, cluster_of = _apply_repeats(graph)
    font = family(options.font_family).graphviz
    text, line = inks(options)
    muted = MUTED if line == INK else line
    background = options.background
    lines = [
        "digraph model {",
        f'  graph [rankdir={options.direction} ordering=in bgcolor="{background}" '
        f'fontname="{font}" fontsize=11 fontcolor="{text}" nodesep=0.25 ranksep=0.35 pad=0.1]',
        f'  node [shape=plaintext fontname="{font}" fontsize=10 margin=0 fontcolor="{INK}"]',
        f'  edge [fontname="{font}" fontsize=9 arrowsize=0.7 color="{line}" fontcolor="{text}"]',
    ]
    children: dict[str | None, list[_Cluster]] = {}
    for cluster in clusters:
        children.setdefault(cluster.parent, []).append(cluster)
    members: dict[str | None, list[Layer]] = {}
    for layer in graph.layers:
        members.setdefault(cluster_of[layer.id], []).append(layer)

    def emit(cluster_id: str | None, indent: str) -> None:
        for layer in members.get(cluster_id, []):
            status, note = marks.get(layer.id, ("", ""))
            css = f"md-{layer.kind} md-diff-{status}" if status else f"md-{layer.kind}"
            tip = tooltip(layer) + (f"\n{status}{': ' + note if note else ''}" if status else "")
            attrs = [
                f"id={_attr('n' + layer.id)}",
                f"class={_attr(css)}",
                f"tooltip={_attr(tip)}",
            ]
            if status == "same":
                attrs.append(f'fontcolor="{MUTED}"')
            if layer.cls:
                # percent-encoded: Graphviz's dot writes URLs into the SVG unescaped
                attrs.append(f"href={_attr(CLASS_LINK + quote(layer.cls, safe=''))}")
            lines.append(
                f"{indent}n{layer.id} [{' '.join(attrs)} "
                f"label={node_label(layer, options, status or None)}]"
            )
        for cluster in children.get(cluster_id, []):
            css = "md-cluster md-repeat" if cluster.repeat else "md-cluster"
            # a collapsed run keeps a stable id: the explorer opens it as its first block
            ident = f"id={_attr(cluster.id)} " if cluster.repeat else ""
            lines.append(f"{indent}subgraph {cluster.id} {{")
            lines.append(
                f'{indent}  graph [{ident}label={_attr(cluster.label)} class="{css}" '
                f'style="dashed,rounded" color="{muted}" fontcolor="{text}" labeljust=l]'
            )
            emit(cluster.id, indent + "  ")
            lines.append(f"{indent}}}")

    emit(None, "  ")
    for edge in graph.edges:
        label = f' label=" x{edge.count}"' if edge.count > 1 else ""
        ends = {marks.get(edge.tail, ("",))[0], marks.get(edge.head, ("",))[0]}
        status = next((s for s in ("removed", "added") if s in ends), "")
        if status:
            dash = " style=dashed" if status == "removed" else ""
            label += f' color="{MARKS[status][1]}" penwidth=1.6{dash}'
        css = f"md-edge md-diff-{status}" if status else "md-edge"
        lines.append(f'  n{edge.tail} -> n{edge.head} [class="{css}"{label}]')
    if options.legend:
        lines.extend(_diff_legend(marks, text, muted) if marks else _legend(graph, text, muted))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(graph: LayerGraph, text: str, muted: str) -> list[str]:
    kinds = [k for k in KIND_NAMES if any(layer.kind == k for layer in graph.layers)]
    lines = [
        "  subgraph cluster_legend {",
        f'    graph [label="Legend" class="md-legend" style="rounded" color="{muted}" '
        f'fontcolor="{text}" labeljust=l]',
    ]
    lines.extend(
        f'    legend_{kind} [class="md-legend-item md-{kind}" label=<<TABLE BORDER="0" '
        f'CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{FILLS[kind]}" '
        f'COLOR="{INK}"><TR><TD>{_esc(KIND_NAMES[kind])}</TD></TR></TABLE>>]'
        for kind in kinds
    )
    chain = " -> ".join(f"legend_{k}" for k in kinds)
    if len(kinds) > 1:
        lines.append(f"    {chain} [style=invis]")
    lines.append("  }")
    return lines


def _label_lines(layer: Layer, options: DiagramOptions) -> tuple[str, ...]:
    """A layer's label as plain lines (what its HTML-like table shows)."""
    show_shapes = options.show_shapes
    if layer.kind in {"input", "output", "tensor"}:
        lines = [f"{layer.kind} {layer.label or ''}".strip()]
        return (*lines, shape_text(layer.outputs)) if show_shapes else tuple(lines)
    lines = [layer.name + (f" x{layer.repeat}" if layer.repeat else "")]
    if layer.qualname:
        lines.append(str(layer.repeat_group if layer.repeat else layer.qualname))
    if show_shapes:
        lines.append(f"input: {shape_text(layer.inputs)}")
        lines.append(f"output: {shape_text(layer.outputs)}")
    return tuple(lines)


def to_scene(graph: LayerGraph, options: DiagramOptions, layout: Mapping[str, Any]) -> Scene:
    """The graph style as an editable scene, placed where the engine put it: ``layout`` is
    the engine's ``-Tjson`` output for :func:`to_dot` (points, y up; turned to px, y down)."""
    drawn = prepare(graph, options)
    by_name = {f"n{layer.id}": layer for layer in drawn.layers}
    _, _, width_pt, height_pt = (float(v) for v in layout["bb"].split(","))
    px = 4 / 3

    def point(x: float, y: float) -> tuple[float, float]:
        return round(x * px, 2), round((height_pt - y) * px, 2)

    line = inks(options)[1]
    background = options.background
    scene = Scene(
        round(width_pt * px, 2),
        round(height_pt * px, 2),
        background=None if background == "transparent" else background,
        text=INK,
        line=line,
        font=family(options.font_family),
        font_size=10 * px,
        title=graph.model or "Model",
    )
    gvid: dict[int, str] = {}
    for obj in layout.get("objects", []):
        name = str(obj.get("name", ""))
        if name.startswith("cluster_") and name != "cluster_legend" and "bb" in obj:
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            (left, top), (right, bottom) = point(x0, y1), point(x1, y0)
            label = str(obj.get("label") or "")
            scene.frames.append(Frame(name, label, left, top, right - left, bottom - top))
            continue
        layer = by_name.get(name)
        if layer is None or "pos" not in obj:
            continue  # the legend
        gvid[obj["_gvid"]] = layer.id
        cx, cy = point(*(float(v) for v in obj["pos"].split(",")))
        w, h = float(obj["width"]) * 96, float(obj["height"]) * 96
        box = (round(cx - w / 2, 2), round(cy - h / 2, 2), round(w, 2), round(h, 2))
        scene.nodes.append(
            Node(
                layer.id,
                _label_lines(layer, options),
                layer.kind,
                layer.cls or layer.name,
                *box,
                front=box,
                fill=FILLS[layer.kind],
                stroke=INK,
                label_at="inside",
            )
        )
    for edge in layout.get("edges", []):
        if edge["tail"] not in gvid or edge["head"] not in gvid:
            continue
        points, tip = [], None
        for token in str(edge.get("pos", "")).split():
            parts = token.split(",")
            if parts[0] in {"e", "s"}:
                if parts[0] == "e":
                    tip = point(float(parts[1]), float(parts[2]))
                continue
            points.append(point(float(parts[0]), float(parts[1])))
        if tip is not None:
            points.append(tip)
        scene.links.append(Link(gvid[edge["tail"]], gvid[edge["head"]], tuple(points)))
    return scene


def _diff_legend(marks: Mapping[str, tuple[str, str]], text: str, muted: str) -> list[str]:
    statuses = [s for s in MARKS if any(m[0] == s for m in marks.values())]
    lines = [
        "  subgraph cluster_legend {",
        f'    graph [label="Legend" class="md-legend" style="rounded" color="{muted}" '
        f'fontcolor="{text}" labeljust=l]',
    ]
    for status in statuses:
        fill, line, glyph = MARKS[status]
        caption = _esc(f"{glyph} {status}".strip() if glyph else "unchanged")
        lines.append(
            f'    legend_{status} [class="md-legend-item md-diff-{status}" label=<<TABLE '
            f'BORDER="{2 if glyph else 0}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" '
            f'BGCOLOR="{fill}" COLOR="{line}"><TR><TD>{caption}</TD></TR></TABLE>>]'
        )
    if len(statuses) > 1:
        lines.append(f"    {' -> '.join(f'legend_{s}' for s in statuses)} [style=invis]")
    lines.append("  }")
    return lines
