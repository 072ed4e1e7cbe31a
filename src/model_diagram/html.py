"""HTML both front ends embed: the figure around an SVG, and the error placeholder.

Framework-free, so Sphinx's HTML visitor and the MkDocs plugin produce the
same markup and share one stylesheet (``assets/model-diagram.css``).
"""

from __future__ import annotations

import html
import re
from importlib import resources
from typing import TYPE_CHECKING

from .errors import DiagramError
from .theme import page_css

if TYPE_CHECKING:
    from .layergraph import LayerGraph

CSS_NAME = "model-diagram.css"
JS_NAME = "model-diagram.js"

#: an id prefix in an ``id``, ``href="#`` or ``url(#``: the pattern starts with its
#: literal ``md`` and looks back for the rest (one that starts with the three
#: alternatives tries every character of the SVG, 40 times slower)
_ID_ATTR = re.compile(
    r'md[0-9a-f]{10}-(?:(?<=\bid="md[0-9a-f]{10}-)|(?<=href="#md[0-9a-f]{10}-)'
    r"|(?<=url\(#md[0-9a-f]{10}-))"
)


def asset_text(name: str) -> str:
    """A file shipped in ``model_diagram/assets`` (no CDN, builds work offline)."""
    return resources.files("model_diagram").joinpath("assets", name).read_text("utf-8")


def stylesheet() -> str:
    """The CSS every page with a diagram needs: figure layout plus theme switching."""
    return (
        asset_text(CSS_NAME) + "\n/* theme (generated from model_diagram.theme) */\n" + page_css()
    )


def unique_ids(svg: str, occurrence: int) -> str:
    """Re-prefix ids when the same diagram appears more than once on a page."""
    if occurrence == 0:
        return svg
    return _ID_ATTR.sub(lambda m: f"{m[0]}{occurrence}-", svg)


def figure_html(
    svg: str,
    *,
    caption: str | None = None,
    caption_html: str | None = None,
    name: str | None = None,
    align: str | None = None,
    width: str | None = None,
    classes: tuple[str, ...] = (),
    table: str = "",
) -> str:
    """A ``<figure>`` holding an inline SVG; the caption is escaped unless given as HTML.

    ``table`` is extra HTML placed under the drawing (see :func:`layer_table_html`).
    """
    css = ["model-diagram", *classes]
    if align:
        css.append(f"align-{align}")
    attrs = [f'class="{" ".join(html.escape(c) for c in css)}"']
    if name:
        attrs.append(f'id="{html.escape(name)}"')
    if width:
        attrs.append(f'style="width: {html.escape(width)}"')
    body = f'<div class="model-diagram-canvas" data-search-exclude="">{svg}</div>{table}'
    text = caption_html if caption_html is not None else (html.escape(caption) if caption else "")
    if text:
        body += f"<figcaption>{text}</figcaption>"
    return f"<figure {' '.join(attrs)}>{body}</figure>"


def download_html(href: str, fmt: str) -> str:
    """A link to a diagram's editable drawing (``format: drawio``, ``tikz``, ``graphml``)."""
    what = {"drawio": "diagrams.net (.drawio)", "tikz": "TikZ (.tex)", "graphml": "GraphML"}
    return (
        f'<p class="model-diagram-download"><a href="{html.escape(href)}" download="">'
        f"Edit this figure: {html.escape(what.get(fmt, fmt))}</a></p>"
    )


def error_html(error: DiagramError, factory: str = "") -> str:
    """A visible placeholder naming the problem, so a broken model never vanishes silently."""
    what = f" for <code>{html.escape(factory)}</code>" if factory else ""
    return (
        f'<div class="model-diagram-error" role="note">'
        f"<p><strong>model-diagram: no diagram{what}</strong> "
        f"({html.escape(error.kind)} error)</p>"
        f"<pre>{html.escape(error.message)}</pre></div>"
    )


def layer_table_html(graph: LayerGraph) -> str:
    """A collapsible table of the layers in order, for readers who cannot see the drawing."""
    from .layergraph import shape_text  # loaded already: the graph was read

    rows = []
    for layer in graph.layers:
        if layer.kind == "tensor":
            continue
        name = layer.qualname or layer.label or layer.name
        kind = layer.name if layer.kind in {"module", "function"} else layer.kind
        repeat = f" (x{layer.repeat})" if layer.repeat else ""
        params = f"{layer.params:,}" if layer.params else ""
        rows.append(
            f"<tr><td>{html.escape(name)}{repeat}</td><td>{html.escape(kind)}</td>"
            f"<td>{html.escape(shape_text(layer.outputs))}</td><td>{params}</td></tr>"
        )
    return (
        '<details class="model-diagram-table"><summary>Layers as a table</summary>'
        "<table><thead><tr><th>Layer</th><th>Type</th><th>Output shape</th>"
        f"<th>Parameters</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )
