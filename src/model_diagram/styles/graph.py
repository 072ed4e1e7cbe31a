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
drop (:func:`model_diagram.embed.resolve_class_links`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..fonts import family
from ..scene import Link, Node, Scene
from ..theme import light, on_background
from .repeats import collapse_repeats

CLASS_LINK = "#md-class:"

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


def shape_text(shapes: list[list[int]], dtypes: list[str] | None = None) -> str:
    """``(2, 3, 32, 32)``; repeats compacted as ``3 x (2, 16)``; dtypes appended if given."""
    parts: list[str] = []
    counts: dict[str, int] = {}
    for i, shape in enumerate(shapes):
        text = "(" + ", ".join(str(d) for d in shape) + ")"
        if dtypes and i < len(dtypes):
            text += f" {dtypes[i]}"
        if text not in counts:
            parts.append(text)
        counts[text] = counts.get(text, 0) + 1
    return ", ".join(f"{counts[p]} x {p}" if counts[p] > 1 else p for p in parts)


def count_text(n: int) -> str:
    """``1.2M`` style parameter counts."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def should_collapse(options: Mapping[str, Any]) -> bool:
    flag = options.get("collapse-repeats")
    if flag is None:
        depth = options.get("depth", 3)
        return bool(depth < 0 or depth > 1)
    return bool(flag)


def prepare(graph: dict[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The graph as drawn: repeats collapsed when asked."""
    return collapse_repeats(graph) if should_collapse(options) else graph


def tooltip(node: Mapping[str, Any]) -> str:
    """Plain-text summary of one node (the SVG ``<title>`` a browser shows on hover)."""
    lines = []
    if node["kind"] == "module":
        lines.append(f"{node.get('qualname') or node['name']} ({node.get('cls', node['name'])})")
        lines.append(f"parameters: {node.get('params', 0):,}")
    elif node["kind"] == "function":
        where = f" in {node['scope']}" if node.get("scope") else ""
        lines.append(f"{node['name']} (function{where})")
    else:
        lines.append(f"{KIND_NAMES[node['kind']]} {node.get('label') or ''}".strip())
    if node.get("repeat"):
        lines.append(f"repeated x{node['repeat']} ({node.get('repeat_group')})")
    if node["kind"] in {"module", "function"}:
        lines.append(f"input: {shape_text(node['inputs'], node.get('in_dtypes'))}")
    lines.append(f"output: {shape_text(node['outputs'], node.get('out_dtypes'))}")
    return "\n".join(lines)


def describe(graph: Mapping[str, Any]) -> str:
    """The layers in order with their output shapes, for ``<desc>`` and text builders."""
    steps = []
    for node in graph["nodes"]:
        if node["kind"] == "tensor":
            continue
        name = node.get("label") if node["kind"] == "input" else node["name"]
        if node["kind"] == "module" and node.get("qualname"):
            name = f"{node['name']} {node['qualname']}"
        badge = f" x{node['repeat']}" if node.get("repeat") else ""
        steps.append(f"{node['kind']} {name}{badge} {shape_text(node['outputs'])}")
    return f"{graph.get('model', 'Model')}: " + "; ".join(steps)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _attr(value: str) -> str:
    """A quoted DOT attribute value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_label(node: Mapping[str, Any], options: Mapping[str, Any], mark: str | None = None) -> str:
    """The HTML-like label; ``mark`` (a diff status) recolours it and prefixes +, - or ~."""
    kind = node["kind"]
    show_shapes = options.get("show-shapes", True)
    dtypes = options.get("show-dtypes", False)
    fill, line, glyph = MARKS[mark] if mark else (FILLS[kind], INK, "")
    border = "2" if glyph else "0"
    table = (
        f'<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
        f'BGCOLOR="{fill}" COLOR="{line}">'
    )
    prefix = f"<B>{_esc(glyph)}</B> " if glyph else ""
    if kind in {"input", "output", "tensor"}:
        title = node.get("label") or kind
        head = f"<B>{_esc(kind)}</B>" if title == kind else f"<B>{_esc(kind)}</B> {_esc(title)}"
        head = prefix + head
        cells = [f"<TR><TD>{head}</TD></TR>"]
        if show_shapes:
            text = shape_text(node["outputs"], node.get("out_dtypes") if dtypes else None)
            cells.append(f"<TR><TD>{_esc(text)}</TD></TR>")
        return "<" + table + "".join(cells) + "</TABLE>>"
    head = f"{prefix}<B>{_esc(node['name'])}</B>"
    if node.get("repeat"):
        head += f' <FONT COLOR="{INK}">x{node["repeat"]}</FONT>'
    qualname = node.get("qualname")
    if qualname:
        shown = str(node.get("repeat_group") if node.get("repeat") else qualname)
        head += f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">{_esc(shown)}</FONT>'
    if options.get("show-params") and node.get("params"):
        head += (
            f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">'
            f"{_esc(count_text(node['params']))} params</FONT>"
        )
    if not show_shapes:
        return "<" + table + f"<TR><TD>{head}</TD></TR></TABLE>>"
    ins = shape_text(node["inputs"], node.get("in_dtypes") if dtypes else None)
    outs = shape_text(node["outputs"], node.get("out_dtypes") if dtypes else None)
    rows = (
        f'<TR><TD ROWSPAN="2">{head}</TD><TD ALIGN="LEFT">input</TD><TD>{_esc(ins)}</TD></TR>'
        f'<TR><TD ALIGN="LEFT">output</TD><TD>{_esc(outs)}</TD></TR>'
    )
    return "<" + table + rows + "</TABLE>>"


def _apply_repeats(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Clusters for collapsed blocks: badge the block's own cluster, or wrap the block."""
    clusters = {c["id"]: dict(c) for c in graph.get("clusters", [])}

    def chain(cluster_id: str | None) -> list[str]:
        found: list[str] = []
        while cluster_id is not None:
            found.insert(0, cluster_id)
            cluster_id = clusters[cluster_id]["parent"]
        return found

    def subtree_nodes(cluster_id: str) -> set[str]:
        return {n["id"] for n in graph["nodes"] if cluster_id in chain(n.get("cluster"))}

    by_id = {n["id"]: n for n in graph["nodes"]}
    for group in graph.get("repeats", []):
        keep = set(group["nodes"])
        chains = [chain(by_id[i].get("cluster")) for i in group["nodes"]]
        common = [c for c, *rest in zip(*chains, strict=False) if all(r == c for r in rest)]
        home = common[-1] if common else None
        if home is not None and subtree_nodes(home) == keep:
            clusters[home]["label"] = f"{clusters[home]['label']} x{group['count']}"
            clusters[home]["repeat"] = True
            continue
        cid = f"cluster_{group['id']}"
        inner = [
            c for c in clusters.values() if c["parent"] == home and subtree_nodes(c["id"]) <= keep
        ]
        clusters[cid] = {
            "id": cid,
            "label": f"{group['label']} x{group['count']}",
            "parent": home,
            "repeat": True,
        }
        for cluster in inner:
            cluster["parent"] = cid
        for node_id in keep:
            if by_id[node_id].get("cluster") == home:
                by_id[node_id]["cluster"] = cid
    return list(clusters.values())


def inks(options: Mapping[str, Any]) -> tuple[str, str]:
    """(text, line) colours outside the nodes: as given, else the theme's literals (which
    follow the page's theme), else on a painted background the theme ink reading better."""
    background = options.get("background", "transparent")

    def pick(key: str, default: str) -> str:
        if options.get(key):
            return str(options[key])
        if background == "transparent":
            return light(default)
        return on_background(background, default)

    return pick("text-color", "--model-diagram-ink"), pick("line-color", "--model-diagram-ink")


def to_dot(
    graph: dict[str, Any],
    options: Mapping[str, Any],
    marks: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """DOT text for a layer graph; the same graph and options give the same text.

    ``marks`` (node id -> diff status and a note for the tooltip) draws an
    architecture diff: see :mod:`model_diagram.diffdraw`.
    """
    marks = marks or {}
    graph = prepare(graph, options)
    clusters = _apply_repeats(graph)
    font = family(options.get("font-family", "sans-serif")).graphviz
    text, line = inks(options)
    muted = MUTED if line == INK else line
    background = options.get("background", "transparent")
    lines = [
        "digraph model {",
        f'  graph [rankdir={options["direction"]} ordering=in bgcolor="{background}" '
        f'fontname="{font}" fontsize=11 fontcolor="{text}" nodesep=0.25 ranksep=0.35 pad=0.1]',
        f'  node [shape=plaintext fontname="{font}" fontsize=10 margin=0 fontcolor="{INK}"]',
        f'  edge [fontname="{font}" fontsize=9 arrowsize=0.7 color="{line}" fontcolor="{text}"]',
    ]
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for cluster in clusters:
        children.setdefault(cluster["parent"], []).append(cluster)
    members: dict[str | None, list[Mapping[str, Any]]] = {}
    for node in graph["nodes"]:
        members.setdefault(node.get("cluster"), []).append(node)

    def emit(cluster_id: str | None, indent: str) -> None:
        for node in members.get(cluster_id, []):
            status, note = marks.get(node["id"], ("", ""))
            css = f"md-{node['kind']} md-diff-{status}" if status else f"md-{node['kind']}"
            tip = tooltip(node) + (f"\n{status}{': ' + note if note else ''}" if status else "")
            attrs = [
                f"id={_attr('n' + node['id'])}",
                f"class={_attr(css)}",
                f"tooltip={_attr(tip)}",
            ]
            if status == "same":
                attrs.append(f'fontcolor="{MUTED}"')
            if node.get("cls"):
                # percent-encoded: Graphviz's dot writes URLs into the SVG unescaped
                attrs.append(f"href={_attr(CLASS_LINK + quote(node['cls'], safe=''))}")
            lines.append(
                f"{indent}n{node['id']} [{' '.join(attrs)} "
                f"label={node_label(node, options, status or None)}]"
            )
        for cluster in children.get(cluster_id, []):
            css = "md-cluster md-repeat" if cluster.get("repeat") else "md-cluster"
            lines.append(f"{indent}subgraph {cluster['id']} {{")
            lines.append(
                f'{indent}  graph [label={_attr(cluster["label"])} class="{css}" '
                f'style="dashed,rounded" color="{muted}" fontcolor="{text}" labeljust=l]'
            )
            emit(cluster["id"], indent + "  ")
            lines.append(f"{indent}}}")

    emit(None, "  ")
    for edge in graph["edges"]:
        label = f' label=" x{edge["count"]}"' if edge["count"] > 1 else ""
        ends = {marks.get(edge["tail"], ("",))[0], marks.get(edge["head"], ("",))[0]}
        status = next((s for s in ("removed", "added") if s in ends), "")
        if status:
            dash = " style=dashed" if status == "removed" else ""
            label += f' color="{MARKS[status][1]}" penwidth=1.6{dash}'
        css = f"md-edge md-diff-{status}" if status else "md-edge"
        lines.append(f'  n{edge["tail"]} -> n{edge["head"]} [class="{css}"{label}]')
    if options.get("legend"):
        lines.extend(_diff_legend(marks, text, muted) if marks else _legend(graph, text, muted))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(graph: Mapping[str, Any], text: str, muted: str) -> list[str]:
    kinds = [k for k in KIND_NAMES if any(n["kind"] == k for n in graph["nodes"])]
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


def _label_lines(node: Mapping[str, Any], options: Mapping[str, Any]) -> tuple[str, ...]:
    """A node's label as plain lines (what its HTML-like table shows)."""
    show_shapes = options.get("show-shapes", True)
    if node["kind"] in {"input", "output", "tensor"}:
        lines = [f"{node['kind']} {node.get('label') or ''}".strip()]
        return (*lines, shape_text(node["outputs"])) if show_shapes else tuple(lines)
    lines = [node["name"] + (f" x{node['repeat']}" if node.get("repeat") else "")]
    if node.get("qualname"):
        lines.append(str(node.get("repeat_group") if node.get("repeat") else node["qualname"]))
    if show_shapes:
        lines.append(f"input: {shape_text(node['inputs'])}")
        lines.append(f"output: {shape_text(node['outputs'])}")
    return tuple(lines)


def to_scene(graph: dict[str, Any], options: Mapping[str, Any], layout: Mapping[str, Any]) -> Scene:
    """The graph style as an editable scene, placed where the engine put it: ``layout`` is
    the engine's ``-Tjson`` output for :func:`to_dot` (points, y up; turned to px, y down)."""
    drawn = prepare(graph, options)
    by_name = {f"n{node['id']}": node for node in drawn["nodes"]}
    _, _, width_pt, height_pt = (float(v) for v in layout["bb"].split(","))
    px = 4 / 3

    def point(x: float, y: float) -> tuple[float, float]:
        return round(x * px, 2), round((height_pt - y) * px, 2)

    line = inks(options)[1]
    background = options.get("background", "transparent")
    scene = Scene(
        round(width_pt * px, 2),
        round(height_pt * px, 2),
        background=None if background == "transparent" else background,
        text=INK,
        line=line,
        font=family(options.get("font-family", "sans-serif")),
        font_size=10 * px,
        title=str(graph.get("model") or "Model"),
    )
    gvid: dict[int, str] = {}
    for obj in layout.get("objects", []):
        node = by_name.get(obj.get("name", ""))
        if node is None or "pos" not in obj:
            continue  # clusters and the legend
        gvid[obj["_gvid"]] = node["id"]
        cx, cy = point(*(float(v) for v in obj["pos"].split(",")))
        w, h = float(obj["width"]) * 96, float(obj["height"]) * 96
        box = (round(cx - w / 2, 2), round(cy - h / 2, 2), round(w, 2), round(h, 2))
        scene.nodes.append(
            Node(
                node["id"],
                _label_lines(node, options),
                node["kind"],
                str(node.get("cls") or node["name"]),
                *box,
                front=box,
                fill=FILLS[node["kind"]],
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
