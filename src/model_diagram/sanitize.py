"""An allow-list SVG sanitiser, applied where an SVG is embedded in a page or file.

The cache is untrusted input (it may come from another machine, or be edited),
so what :func:`model_diagram.rendering.clean_svg` did when the SVG was drawn is
not relied on: every SVG is parsed again with a real XML parser and rebuilt
from SVG elements and attributes known to be inert. Anything else is dropped:
scripts, ``foreignObject``, event handlers, ``javascript:``/``data:`` and other
external references, CSS that can load or run something, DOCTYPEs and entities.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from .errors import CacheError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: SVG elements that draw, group, label or paint: none runs code or loads anything
ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "symbol",
        "use",
        "title",
        "desc",
        "a",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "textPath",
        "linearGradient",
        "radialGradient",
        "stop",
        "pattern",
        "clipPath",
        "mask",
        "marker",
        "style",
    }
)
#: presentation, geometry, text and accessibility attributes (plus ``data-*``)
ATTRIBUTES = frozenset(
    {
        "id",
        "class",
        "style",
        "role",
        "lang",
        "version",
        "baseProfile",
        "focusable",
        "transform",
        "viewBox",
        "preserveAspectRatio",
        "width",
        "height",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "cx",
        "cy",
        "r",
        "rx",
        "ry",
        "d",
        "points",
        "pathLength",
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-opacity",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "opacity",
        "color",
        "font-family",
        "font-size",
        "font-weight",
        "font-style",
        "font-variant",
        "font-stretch",
        "text-anchor",
        "dominant-baseline",
        "alignment-baseline",
        "baseline-shift",
        "letter-spacing",
        "word-spacing",
        "text-decoration",
        "white-space",
        "dx",
        "dy",
        "rotate",
        "textLength",
        "lengthAdjust",
        "startOffset",
        "visibility",
        "display",
        "overflow",
        "clip-path",
        "clip-rule",
        "mask",
        "marker-start",
        "marker-mid",
        "marker-end",
        "markerWidth",
        "markerHeight",
        "markerUnits",
        "refX",
        "refY",
        "orient",
        "offset",
        "stop-color",
        "stop-opacity",
        "gradientUnits",
        "gradientTransform",
        "spreadMethod",
        "fx",
        "fy",
        "fr",
        "patternUnits",
        "patternTransform",
        "patternContentUnits",
        "clipPathUnits",
        "maskUnits",
        "maskContentUnits",
        "vector-effect",
        "paint-order",
        "shape-rendering",
        "text-rendering",
        "color-interpolation",
        "href",
        "tabindex",
        "cursor",
        "pointer-events",
    }
)
_NAMESPACED = frozenset(
    {f"{{{XLINK_NS}}}href", f"{{{XLINK_NS}}}title", f"{{{XML_NS}}}space", f"{{{XML_NS}}}lang"}
)
_OPEN_ATTRIBUTE = re.compile(r"^(?:data|aria)-[a-z][a-z0-9-]*$")
#: references stay inside the drawing (``#id``) or are our class-link placeholders
_HREF = re.compile(r"^#[^\s\"'<>\\]*$")
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_CSS_DANGER = re.compile(
    r"@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|\\|</", re.I
)
_DECLARATIONS = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
#: characters XML 1.0 cannot hold (C0 controls but tab/newline/return, lone surrogates)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def plain_text(text: str) -> str:
    """Text that XML, HTML and UTF-8 can all hold: controls dropped, lone surrogates
    (which cannot be encoded) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


#: what JSON text must hold for :func:`scrub` to change anything once it is loaded: a
#: control, a noncharacter or a surrogate, raw or as a ``\u`` escape
_SCRUBBED_IN_JSON = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]"
    r"|\\u(?:00[01][0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
)


def loads_scrubbed(raw: str | bytes) -> Any:
    """``json.loads`` then :func:`scrub`, skipping the walk when the text cannot hold
    anything it would change (every graph model-diagram writes: a warm build reads many)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    value = json.loads(text)
    return scrub(value) if _SCRUBBED_IN_JSON.search(text) else value


def scrub(value: Any) -> Any:
    """:func:`plain_text` on every string (keys too) of a JSON value, e.g. a layer graph
    from the worker or the cache (a hostile model names its classes as it likes)."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {plain_text(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _safe_css(css: str) -> bool:
    """No imports, escapes or scripts, and ``url()`` only to ``#id`` inside the drawing."""
    if _CSS_DANGER.search(css):
        return False
    return all(m[2].strip().startswith("#") for m in _URL.finditer(css))


def _allowed_attribute(key: str) -> bool:
    if key.startswith("{"):
        return key in _NAMESPACED
    return key in ATTRIBUTES or bool(_OPEN_ATTRIBUTE.match(key))


_TAGS = frozenset(f"{{{SVG_NS}}}{name}" for name in ELEMENTS)
_STYLE = f"{{{SVG_NS}}}style"


def _clean_attributes(element: ET.Element) -> None:
    attrib = element.attrib
    for key, value in list(attrib.items()):
        if not _allowed_attribute(key) or "\x00" in value:
            del attrib[key]
        elif key.endswith("href"):
            if not _HREF.match(value):
                del attrib[key]
        elif (key == "style" or "url(" in value.lower()) and not _safe_css(value):
            del attrib[key]


def _clean(root: ET.Element) -> None:
    """Drop every element (with its subtree) and attribute not on the allow-lists."""
    stack = [root]
    while stack:
        element = stack.pop()
        _clean_attributes(element)
        for child in list(element):
            tag = child.tag
            if tag not in _TAGS or (
                tag == _STYLE and (len(child) or not _safe_css(child.text or ""))
            ):
                element.remove(child)
            else:
                stack.append(child)


def sanitize_svg(svg: str) -> str:
    """The SVG rebuilt from allowed parts only; :class:`CacheError` if it is not SVG at all."""
    svg = plain_text(svg)
    if _DECLARATIONS.search(svg):
        raise CacheError(
            "refusing to embed an SVG with a DOCTYPE or entity declarations (the cache entry "
            "was not written by model-diagram); run 'model-diagram cache clear'"
        )
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise CacheError(f"the cached SVG does not parse ({exc}); clear the cache") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise CacheError(f"the cached drawing is a <{root.tag}>, not an SVG; clear the cache")
    _clean(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")
