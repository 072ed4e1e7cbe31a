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
from functools import lru_cache
from typing import Any
from xml.parsers import expat

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
_OPEN_ATTRIBUTE = re.compile(r"^(?:data|aria)-[a-z][a-z0-9-]*$")
#: references stay inside the drawing (``#id``) or are our class-link placeholders
_HREF = re.compile(r"^#[^\s\"'<>\\]*$")
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_CSS_DANGER = re.compile(
    r"@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|\\|</", re.I
)
_DECLARATIONS = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
#: characters XML 1.0 cannot hold (C0 controls but tab/newline/return, lone surrogates)
#: characters XML 1.0 cannot hold (C0 controls but tab/newline/return, lone surrogates)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNPLAIN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def plain_text(text: str) -> str:
    """Text that XML, HTML and UTF-8 can all hold: controls dropped, lone surrogates
    (which cannot be encoded) replaced by U+FFFD. One search first: almost every text
    has neither, and it then costs one pass, not two substitutions."""
    if not _UNPLAIN.search(text):
        return text
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
    """No imports, escapes or scripts, and ``url()`` only to ``#id`` inside the drawing.

    Remembered for short texts: every drawing carries the same theme stylesheet (two
    ``<style>`` elements of 2 KB), whose check was 40 % of a warm embed."""
    return _safe_css_remembered(css) if len(css) <= _REMEMBERED_CSS else _css_check(css)


_REMEMBERED_CSS = 16 * 1024


def _css_check(css: str) -> bool:
    if _CSS_DANGER.search(css):
        return False
    return all(m[2].strip().startswith("#") for m in _URL.finditer(css))


_safe_css_remembered = lru_cache(maxsize=64)(_css_check)


#: expat's name (``uri}local`` inside a namespace) of every allowed element -> its output name
_TAGS = {f"{SVG_NS}}}{name}": name for name in ELEMENTS}
_ROOT = f"{SVG_NS}}}svg"
#: expat's name of every allowed attribute that needs only the ``url()`` check -> its output name
_PLAIN = {name: name for name in ATTRIBUTES - {"href", "style"}} | {
    f"{XML_NS}}}space": "xml:space",
    f"{XML_NS}}}lang": "xml:lang",
}
_LINKS = {"href": "href", f"{XLINK_NS}}}href": "xlink:href"}
_XLINK_TITLE = f"{XLINK_NS}}}title"
_REFUSED = (
    "refusing to embed an SVG with a DOCTYPE or entity declarations (the cache entry "
    "was not written by model-diagram); run 'model-diagram cache clear'"
)


def _text(text: str) -> str:
    """Character data escaped as :mod:`xml.etree.ElementTree` writes it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


#: stand for the quotes around attribute values until the whole SVG is written, so one
#: search per element finds a value to escape and a search of the SVG finds an
#: ``xlink:`` attribute: expat never reports them (XML 1.0 cannot hold them, raw or as
#: references) and :func:`plain_text` drops them
_OPEN, _CLOSE = "\x01", "\x02"
_NEEDS_ESCAPE = re.compile('[&<>"\r\n\t]').search
_QUOTED = re.compile("\x01([^\x02]*)\x02")
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
     "\t": "&#09;"}
)  # fmt: skip


def _escape_value(match: re.Match[str]) -> str:
    return f"{_OPEN}{match[1].translate(_ATTRIBUTE_ESCAPES)}{_CLOSE}"


def _css_ok(value: str) -> bool:
    """A value without ``url()`` is inert; one with it must pass :func:`_safe_css`."""
    return "(" not in value or "url(" not in value.lower() or _safe_css(value)


def _checked_name(key: str, value: str) -> str | None:
    """The output name of an attribute that is not a plain presentation one, if it may stay."""
    if key in _LINKS:
        return _LINKS[key] if _HREF.match(value) else None
    if key == "style":
        return key if _safe_css(value) else None
    if key == _XLINK_TITLE:
        return "xlink:title" if _css_ok(value) else None
    if "}" not in key and _OPEN_ATTRIBUTE.match(key):  # data-*, aria-*
        return key if (_HREF.match(value) if key.endswith("href") else _css_ok(value)) else None
    return None


def _attributes(pairs: list[str]) -> str:
    """The allowed attributes of one element as written out (values between :data:`_OPEN`
    and :data:`_CLOSE`); the common case first: this runs for every element rebuilt."""
    written = ""
    items = iter(pairs)
    for key, value in zip(items, items, strict=True):
        name = _PLAIN.get(key)
        if name is None or "(" in value:
            name = _checked_name(key, value) if name is None else name if _css_ok(value) else None
            if name is None:
                continue
        written += f" {name}={_OPEN}{value}{_CLOSE}"
    if _NEEDS_ESCAPE(written):
        return _QUOTED.sub(_escape_value, written)
    return written


def _rebuild(svg: str) -> str:
    """One streaming pass of expat: allowed elements and attributes are written out as
    they are read, everything else is skipped with its subtree (and, as ElementTree's
    ``remove`` did, with the text that follows it up to the next tag). Comments and
    processing instructions are never written; a ``<style>`` is held until its end to
    check its CSS (and that it holds no element)."""
    out: list[str] = []
    write = out.append
    opened: list[str] = []  # the written elements not yet closed
    pending = False  # the last start tag still lacks its ">" (it may end as " />")
    drop_tail = False  # the text after a dropped element is dropped with it
    # off the common path: before the root, inside a dropped subtree or a <style>
    special = True
    skip = 0  # depth inside a dropped subtree
    style: str | None = None  # the held start tag of a <style> being read
    css: list[str] = []
    root: str | None = None

    def start(name: str, pairs: list[str]) -> None:
        nonlocal pending, drop_tail, special, skip, style, root
        drop_tail = False
        if special:
            if skip:
                skip += 1
                return
            if style is not None:  # an element inside <style>: the style goes with it
                style, skip = None, 2
                return
            root = name
            if name != _ROOT:
                skip = 1
                return
            special = False
            if pairs:  # the root's "<svg" and namespaces are written at the end
                write(_attributes(pairs))
            opened.append("svg")
            pending = True
            return
        tag = _TAGS.get(name)
        if tag is None:
            special, skip = True, 1
            return
        if tag == "style":
            special, style = True, "<style" + _attributes(pairs)
            css.clear()
            return
        opener = "><" if pending else "<"
        write(f"{opener}{tag}{_attributes(pairs)}" if pairs else opener + tag)
        opened.append(tag)
        pending = True

    def end(name: str) -> None:
        nonlocal pending, drop_tail, special, skip, style
        drop_tail = False
        if special:
            if skip:
                skip -= 1
                if not skip:
                    drop_tail, special = True, not opened
                return
            if style is not None:
                text, held, style, special = "".join(css), style, None, False
                if not _safe_css(text):
                    drop_tail = True
                    return
                if pending:
                    write(">")
                    pending = False
                write(f"{held}>{_text(text)}</style>" if text else held + " />")
                return
        if pending:
            write(" />")
            pending = False
            opened.pop()
        else:
            write(f"</{opened.pop()}>")

    def data(text: str) -> None:
        nonlocal pending
        if special or drop_tail:
            if style is not None:
                css.append(text)
            return
        if "&" in text or "<" in text or ">" in text:
            text = _text(text)
        if pending:
            write(">" + text)
            pending = False
        else:
            write(text)

    def doctype(*_: object) -> None:
        raise CacheError(_REFUSED)  # the declarations check above already refused them

    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.Parse(svg, True)
    if root != _ROOT:
        tag = f"{{{root}" if root and "}" in root else root
        raise CacheError(f"the cached drawing is a <{tag}>, not an SVG; clear the cache")
    written = "".join(out)
    head = _HEAD
    if f" xlink:href={_OPEN}" in written or f" xlink:title={_OPEN}" in written:
        head += f' xmlns:xlink="{XLINK_NS}"'
    return f"{head}{written}".replace(_OPEN, '"').replace(_CLOSE, '"')


def _trie(words: frozenset[str]) -> str:
    """A regex for exactly ``words``, shaped as a trie: a name costs a few steps, not one
    per word (a flat alternation of the allow-list made the check below cost a rebuild)."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(tree)


_HEAD = f'<svg xmlns="{SVG_NS}"'
_XLINK_HEAD = f'{_HEAD} xmlns:xlink="{XLINK_NS}"'
#: an attribute value as written: escaped, and no ``url(`` (that needs :func:`_safe_css`)
_VALUE = r'"(?:[^"<>&\r\n\t(]++|\((?<![uU][rR][lL]\()|&(?:amp|lt|gt|quot|#10|#13|#09);)*+"'
#: an allowed attribute as written (not ``style``: its CSS needs :func:`_safe_css`); a name
#: ending in ``href`` holds a ``#id`` reference
_WRITTEN_ATTRIBUTE = (
    f" (?:{_trie(frozenset(_PLAIN.values()) | {'href', 'xlink:href', 'xlink:title'})}"
    rf"|(?:data|aria)-[a-z][a-z0-9-]*+)(?:(?<!href)={_VALUE}|(?<=href)=\"#[^\s\"'<>\\&]*+\")"
)
_ELEMENT = _trie(ELEMENTS)
#: exactly what :func:`_rebuild` writes when it drops nothing: allowed elements and
#: attributes, written as it writes them (quotes, escapes, ``<x />``), text without a
#: ``\r``, no comment, CDATA, processing instruction or declaration
#: (matched against the SVG with its root's namespace declarations taken out, so the
#: root is one more tag: the grammar holds each name list once and compiles in half the time)
_WRITTEN = re.compile(
    rf"(?:[^<>&\r]++|&(?:amp|lt|gt);"
    rf"|<(?:/{_ELEMENT}>|{_ELEMENT}(?:{_WRITTEN_ATTRIBUTE})*+(?: />|>(?!</))))*+"
)
# in an SVG that :data:`_WRITTEN` matched, '<' starts a tag and no value holds a quote:
#: the first ``xlink:`` attribute
_XLINK_USE = re.compile(r'<[a-zA-Z]+(?: [^\s="]+="[^"]*")*? xlink:(?:href|title)="')
#: every ``<style>`` that holds text only
_STYLE_ELEMENT = re.compile(r'<style(?: [^\s="]+="[^"]*")*(?: />|>([^<]*)</style>)')


def _already_sanitized(svg: str) -> bool:
    """Whether :func:`_rebuild` would write ``svg`` back byte for byte: it matches
    :data:`_WRITTEN`, ends with its root, declares ``xlink`` only if it uses it, every
    ``<style>`` holds safe CSS and nothing else, and it parses. What model-diagram
    writes passes (so a warm embed costs a few regex passes and a handler-less parse,
    not a rebuild); anything else is rebuilt."""
    head = _XLINK_HEAD if svg.startswith(_XLINK_HEAD) else _HEAD
    if not (svg.startswith(head) and svg.endswith("</svg>")):
        return False
    if not _WRITTEN.fullmatch(f"<svg{svg[len(head) :]}"):
        return False
    if head is _XLINK_HEAD and not _XLINK_USE.search(svg):
        return False
    styles = _STYLE_ELEMENT.findall(svg)
    if len(styles) != svg.count("<style") or not all(
        _safe_css(css.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        for css in styles
    ):
        return False
    try:
        expat.ParserCreate(namespace_separator="}").Parse(svg, True)
    except (expat.ExpatError, UnicodeEncodeError):
        return False
    return True


def sanitize_svg(svg: str) -> str:
    """The SVG rebuilt from allowed parts only; :class:`CacheError` if it is not SVG at all.

    :func:`plain_text` changes nothing that expat accepts but DEL, so it runs only when
    there is a DEL or the parse fails (almost never: SVGs we wrote hold neither)."""
    if "\x7f" in svg:
        svg = plain_text(svg)
    if _DECLARATIONS.search(svg):
        raise CacheError(_REFUSED)
    if _already_sanitized(svg):
        return svg
    try:
        return _rebuild(svg)
    except (expat.ExpatError, UnicodeEncodeError) as exc:
        plain = plain_text(svg)
        if plain != svg:
            return sanitize_svg(plain)
        raise CacheError(f"the cached SVG does not parse ({exc}); clear the cache") from None
