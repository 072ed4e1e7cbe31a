"""The graph style: a layer graph -> Graphviz DOT text.

Labels are HTML-like tables with escaped text. Every node, edge and cluster
gets a semantic ``class`` (``md-module``, ``md-function``, ``md-input``,
``md-output``, ``md-tensor``, ``md-edge``, ``md-cluster``) for theming. The
font is Helvetica, which both engines measure correctly (torchview's default
"Linux libertine" is missing on most machines and overflows boxes).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from ..theme import light

FONT = "Helvetica"

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


def shape_text(shapes: list[list[int]]) -> str:
    """``(2, 3, 32, 32)``; repeated shapes compacted as ``3 x (2, 16)``."""
    parts: list[str] = []
    counts: dict[str, int] = {}
    for shape in shapes:
        text = "(" + ", ".join(str(d) for d in shape) + ")"
        if text not in counts:
            parts.append(text)
        counts[text] = counts.get(text, 0) + 1
    return ", ".join(f"{counts[p]} x {p}" if counts[p] > 1 else p for p in parts)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _attr(value: str) -> str:
    """A quoted DOT attribute value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def node_label(node: Mapping[str, Any], show_shapes: bool) -> str:
    kind = node["kind"]
    fill = FILLS[kind]
    table = (
        f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
        f'BGCOLOR="{fill}" COLOR="{INK}">'
    )
    if kind in {"input", "output", "tensor"}:
        title = node.get("label") or kind
        head = f"<B>{_esc(kind)}</B>" if title == kind else f"<B>{_esc(kind)}</B> {_esc(title)}"
        rows = [f"<TR><TD>{head}</TD></TR>"]
        if show_shapes:
            rows.append(f"<TR><TD>{_esc(shape_text(node['outputs']))}</TD></TR>")
        return "<" + table + "".join(rows) + "</TABLE>>"
    head = f"<B>{_esc(node['name'])}</B>"
    qualname = node.get("qualname")
    if qualname:
        head += f'<BR/><FONT POINT-SIZE="9" COLOR="{MUTED}">{_esc(qualname)}</FONT>'
    if not show_shapes:
        return "<" + table + f"<TR><TD>{head}</TD></TR></TABLE>>"
    rows = (
        f'<TR><TD ROWSPAN="2">{head}</TD><TD ALIGN="LEFT">input</TD>'
        f"<TD>{_esc(shape_text(node['inputs']))}</TD></TR>"
        f'<TR><TD ALIGN="LEFT">output</TD><TD>{_esc(shape_text(node["outputs"]))}</TD></TR>'
    )
    return "<" + table + rows + "</TABLE>>"


def to_dot(graph: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    """DOT text for a layer graph; the same graph and options give the same text."""
    lines = [
        "digraph model {",
        f'  graph [rankdir={options["direction"]} ordering=in bgcolor="transparent" '
        f'fontname="{FONT}" fontsize=11 nodesep=0.25 ranksep=0.35 pad=0.1]',
        f'  node [shape=plaintext fontname="{FONT}" fontsize=10 margin=0 fontcolor="{INK}"]',
        f'  edge [fontname="{FONT}" fontsize=9 arrowsize=0.7 color="{INK}" fontcolor="{INK}"]',
    ]
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for cluster in graph.get("clusters", []):
        children.setdefault(cluster["parent"], []).append(cluster)
    members: dict[str | None, list[Mapping[str, Any]]] = {}
    for node in graph["nodes"]:
        members.setdefault(node.get("cluster"), []).append(node)

    def emit(cluster_id: str | None, indent: str) -> None:
        for node in members.get(cluster_id, []):
            tooltip = node.get("qualname") or node.get("label") or node["name"]
            lines.append(
                f"{indent}n{node['id']} [id={_attr('n' + node['id'])} "
                f"class={_attr('md-' + node['kind'])} tooltip={_attr(tooltip)} "
                f"label={node_label(node, options['show-shapes'])}]"
            )
        for cluster in children.get(cluster_id, []):
            lines.append(f"{indent}subgraph {cluster['id']} {{")
            lines.append(
                f'{indent}  graph [label={_attr(cluster["label"])} class="md-cluster" '
                f'style="dashed,rounded" color="{MUTED}" fontcolor="{INK}" labeljust=l]'
            )
            emit(cluster["id"], indent + "  ")
            lines.append(f"{indent}}}")

    emit(None, "  ")
    for edge in graph["edges"]:
        label = f' label=" x{edge["count"]}"' if edge["count"] > 1 else ""
        lines.append(f'  n{edge["tail"]} -> n{edge["head"]} [class="md-edge"{label}]')
    lines.append("}")
    return "\n".join(lines) + "\n"
