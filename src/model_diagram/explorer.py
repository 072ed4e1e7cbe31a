"""HTML of the explorer: the manifest a figure carries, its sidecar files, a standalone page.

Framework-free. The overview is the figure's inline SVG, as without the
explorer (no JavaScript and print show it). The other views are drawn at build
time and written as small ``.js`` sidecar files that register themselves when
``assets/model-diagram.js`` adds them as ``<script>`` elements: that works on
``file://`` too, where ``fetch`` does not. A standalone page (CLI, Jupyter)
carries every view inline instead.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from typing import Any

from .classlinks import resolve_class_links
from .html import JS_NAME, asset_text, figure_html, stylesheet
from .pipeline import Views
from .sanitize import sanitize_svg

#: the global the sidecar scripts register their views in
REGISTRY = "modelDiagramViews"

Resolver = Callable[[str], str | None]


def is_html(filename: str) -> bool:
    """A file name asking for a standalone explorer page (CLI ``-o``, ``Diagram.save``)."""
    return filename.lower().endswith((".html", ".htm"))


def _json(value: Any) -> str:
    """JSON that is safe inside ``<script>`` and in a ``.js`` file (no ``</script>``)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def sidecar(payload: dict[str, Any]) -> tuple[str, bytes]:
    """A view as a self-registering script: (its registry key, the file's bytes)."""
    body = _json(payload)
    key = hashlib.sha256(body.encode()).hexdigest()[:20]
    script = f'(window.{REGISTRY}=window.{REGISTRY}||{{}})["{key}"]={body};\n'
    return key, script.encode("utf-8")


def manifest(
    views: Views,
    *,
    figure_id: str,
    resolve: Resolver | None = None,
    store: Callable[[str, bytes], str] | None = None,
) -> str:
    """The ``<script type="application/json">`` that turns a figure into an explorer.

    ``store(key, data)`` writes one sidecar and returns its URL relative to the page;
    without it every view is carried inline (a standalone page). ``resolve`` points
    class links at API pages (``link-classes``). Each view's SVG is sanitised here: like
    every cached SVG it is untrusted where it is embedded.
    """
    entries: dict[str, dict[str, Any]] = {}
    for view in views.views:
        entry: dict[str, Any] = {"title": view.title, "parent": view.parent}
        if not view.key:
            entry["nodes"] = view.nodes
        else:
            payload: dict[str, Any] = {
                "svg": resolve_class_links(sanitize_svg(view.svg), resolve),
                "nodes": view.nodes,
            }
            if store is None:
                entry.update(payload)
            else:
                key, script = sidecar(payload)
                entry.update(src=store(key, script), sid=key)
        entries[view.key] = entry
    data: dict[str, Any] = {
        "id": figure_id,
        "views": entries,
        "index": views.index,
        "aliases": [list(a) for a in views.aliases],
    }
    return f'<script type="application/json" class="model-diagram-views">{_json(data)}</script>'


def standalone_html(svg: str, views: Views, *, title: str, figure_id: str = "model") -> str:
    """One self-contained page that explores a model: no server, no network."""
    body = figure_html(
        resolve_class_links(svg) + (manifest(views, figure_id=figure_id) if views.views else ""),
        name=figure_id,
        caption=title,
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{stylesheet()}"
        "body{font-family:system-ui,sans-serif;margin:1.5em;}</style></head>"
        f"<body>{body}<script>{asset_text(JS_NAME)}</script></body></html>\n"
    )


def notebook_html(svg: str, views: Views, *, title: str, figure_id: str) -> str:
    """The explorer inside a notebook cell: the page's styles and script, scoped to the cell."""
    body = figure_html(
        resolve_class_links(svg) + (manifest(views, figure_id=figure_id) if views.views else ""),
        name=figure_id,
    )
    return (
        f'<div class="model-diagram-notebook" aria-label="{html.escape(title)}">'
        f"<style>{stylesheet()}</style>{body}<script>{asset_text(JS_NAME)}</script></div>"
    )
