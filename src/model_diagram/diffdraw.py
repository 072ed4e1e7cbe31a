"""A drawing of an architecture diff: one graph, changed layers marked.

The new architecture's layers, with the removed ones put back next to the
layer that preceded them, drawn by the graph style with a diff status per
node: added, removed and changed layers get a colour (theme variables, see
:mod:`model_diagram.theme`) and a second cue for colour-blind readers (a
``+``, ``-`` or ``~`` before the name, a thick outline, dashed edges for
removed connections); unchanged layers are muted.
"""

from __future__ import annotations

import html

from .diff import ADDED, CHANGED, REMOVED, ArchitectureDiff
from .html import stylesheet
from .layergraph import SCHEMA, LayerGraph
from .options import DiagramOptions
from .pdf import svg_to_pdf
from .rendering import clean_svg, find_engine, run_engine, standalone_svg
from .styles import graph as graph_style
from .theme import svg_style

FORMATS = ("svg", "png", "pdf", "html")


def merged_graph(diff: ArchitectureDiff) -> tuple[LayerGraph, dict[str, tuple[str, str]]]:
    """The layer graph to draw (ids ``0..n``) and each node's (status, note)."""
    ids: dict[tuple[str, str], str] = {}  # (side, snapshot id) -> drawn id
    nodes, marks = [], {}
    for index, change in enumerate(diff.layers):
        drawn = str(index)
        if change.old is not None:
            ids["old", change.old["id"]] = drawn
        if change.new is not None:
            ids["new", change.new["id"]] = drawn
        nodes.append({**change.layer, "id": drawn, "cluster": None})
        marks[drawn] = (change.status, "; ".join(change.changes))
    edges: dict[tuple[str, str], int] = {}
    for edge in diff.new["edges"]:
        edges[ids["new", edge["tail"]], ids["new", edge["head"]]] = edge["count"]
    for edge in diff.old["edges"]:
        tail, head = ids["old", edge["tail"]], ids["old", edge["head"]]
        if REMOVED in {marks[tail][0], marks[head][0]}:
            edges.setdefault((tail, head), edge["count"])
    graph = LayerGraph.from_dict(
        {
            "schema": SCHEMA,
            "model": diff.new["model"],
            "layers": nodes,
            "edges": [{"tail": t, "head": h, "count": c} for (t, h), c in edges.items()],
        }
    )
    return graph, marks


def describe(diff: ArchitectureDiff) -> str:
    """One line for the SVG's ``<desc>`` and text builders."""
    return (
        f"Architecture diff of {diff.new['model']}: {diff.count(ADDED)} layers added, "
        f"{diff.count(REMOVED)} removed, {diff.count(CHANGED)} changed; parameters "
        f"{diff.old['params']:,} -> {diff.new['params']:,}"
    )


def draw(diff: ArchitectureDiff, options: DiagramOptions, fmt: str = "svg") -> bytes:
    """The diff in ``fmt`` (``svg`` is cleaned for inlining; ``html`` is a whole page)."""
    graph, marks = merged_graph(diff)
    dot = graph_style.to_dot(graph, options.with_values(collapse_repeats=False), marks)
    engine = find_engine(options.engine)
    data = run_engine(engine, dot, "png" if fmt == "png" else "svg", options.dpi)
    if fmt == "png":
        return data
    if fmt == "pdf":  # as for every diagram: the engine's SVG, converted with pip packages
        return svg_to_pdf(data)
    title = options.alt or options.caption or f"{diff.new['model']}: architecture changes"
    svg = clean_svg(data, f"mdd{graph.digest[:10]}", title, svg_style(), describe(diff))
    if fmt == "html":
        return html_page(diff, svg, title).encode()
    return svg.encode()


def html_page(diff: ArchitectureDiff, svg: str, title: str) -> str:
    """A self-contained page: the drawing and the text summary (no scripts, no network)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{stylesheet()}"
        "body{font-family:system-ui,sans-serif;margin:2rem}"
        "@media (prefers-color-scheme: dark){body{background:#0d1117;color:#e6edf3}}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        f'<figure class="model-diagram">{standalone_svg(svg).split(chr(10), 1)[1]}</figure>'
        f'<pre class="model-diagram-diff">{html.escape(diff.summary())}</pre></body></html>\n'
    )
