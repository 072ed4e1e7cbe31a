"""Links from a drawn layer to its class's API page.

The styles write a placeholder ``href`` for each layer's class; each front end points
it at the page its site documents the class on (autodoc, mkdocstrings), or drops it.
A module of its own so that embedding a cached drawing loads nothing else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import unquote

#: href placeholder for a layer's class
CLASS_LINK = "#md-class:"

#: a placeholder's ``href``: a literal to search for (a pattern that starts with ``\s``, as
#: the attribute does, tries every space of the SVG: a third of a warm embed's cost)
_CLASS_HREF = re.compile(rf'href="{re.escape(CLASS_LINK)}([^"]*)"')


def resolve_class_links(svg: str, resolve: Callable[[str], str | None] | None = None) -> str:
    """Point class placeholders (``#md-class:pkg.Cls``) at API pages, or drop them.

    ``resolve`` maps a class path to a URL (the site's autodoc/mkdocstrings
    page) or ``None``; without it every placeholder is dropped. A placeholder is
    an ``href`` or ``xlink:href`` attribute after a space.
    """
    pieces: list[str] = []
    done = pos = 0
    while match := _CLASS_HREF.search(svg, pos):
        start = match.start()
        if start >= 7 and svg[start - 6 : start] == "xlink:" and svg[start - 7].isspace():
            start, name = start - 7, "xlink:href"
        elif start >= 1 and svg[start - 1].isspace():
            start, name = start - 1, "href"
        else:
            pos = start + 1
            continue
        url = resolve(unquote(html.unescape(match[1]))) if resolve else None
        pieces += (svg[done:start], f' {name}="{html.escape(url)}"' if url else "")
        pos = done = match.end()
    return "".join(pieces) + svg[done:] if pieces else svg
