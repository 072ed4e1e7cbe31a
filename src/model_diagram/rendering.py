"""DOT -> SVG/PNG with the chosen engine, and SVG clean-up for inlining.

Engines: ``dot`` (a system Graphviz) and ``graphviz-pure`` (a self-contained
binary installed with this package). ``auto`` prefers ``dot`` from PATH.
The cleaned SVG has no prolog, doctype or comments, ids prefixed per diagram,
no scripts, event attributes or external references, and carries
``role="img"`` plus an accessible title.
"""

from __future__ import annotations

import re
import shutil
import sys
import sysconfig
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .classlinks import resolve_class_links
from .errors import RenderError
from .sanitize import plain_text, sanitize_svg
from .theme import dark_media_rule

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# once, at import: registering rewrites a global map, which drawing threads read
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

RENDER_TIMEOUT = 120.0


@dataclass(frozen=True)
class Engine:
    name: str
    path: str
    version: str

    #: what the engine writes itself (json: the layout, for the editable exports); PDF is
    #: its SVG converted by :mod:`model_diagram.pdf`
    formats = ("svg", "png", "json")


def _graphviz_pure_path() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / (
            "graphviz-pure.exe" if sys.platform == "win32" else "graphviz-pure"
        )
        if candidate.is_file():
            return str(candidate)
    return None


@cache
def find_engine(name: str = "auto") -> Engine:
    """Resolve an engine name to a binary and its version (cached per process)."""
    engine_name, path = locate_engine(name)
    return Engine(engine_name, path, engine_version(path))


def locate_engine(name: str = "auto") -> tuple[str, str]:
    """(engine name, binary path) for ``auto``, ``dot`` or ``graphviz-pure``."""
    candidates: list[tuple[str, str | None]] = []
    if name in {"auto", "dot"}:
        candidates.append(("dot", shutil.which("dot")))
    if name in {"auto", "graphviz-pure"}:
        candidates.append(("graphviz-pure", _graphviz_pure_path()))
    for engine_name, path in candidates:
        if path:
            return engine_name, path
    wanted = "Graphviz's 'dot' on PATH" if name == "dot" else "the 'graphviz-pure' binary"
    raise RenderError(
        f"engine {name!r} is not available: cannot find {wanted}; install Graphviz or "
        "'pip install graphviz-pure', or set engine: auto"
    )


def engine_version(path: str) -> str:
    """What ``path -V`` prints: part of every render key, so a new Graphviz redraws."""
    import subprocess  # here and below: a warm build starts no process

    try:
        done = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"cannot run the Graphviz engine {path!r}: {exc}") from None
    return (
        (done.stderr or done.stdout).strip().splitlines()[0]
        if (done.stderr or done.stdout)
        else "?"
    )


def run_engine(engine: Engine, dot: str, fmt: str, dpi: int = 96) -> bytes:
    """Lay out ``dot`` and return the bytes of ``fmt``; errors name the engine and cause."""
    if fmt not in engine.formats:
        raise RenderError(
            f"the {engine.name} engine cannot write {fmt.upper()}; use one of "
            f"{', '.join(engine.formats)} (PDF is converted from the SVG)"
        )
    args = [engine.path, f"-T{fmt}"]
    if fmt == "png":
        args.append(f"-Gdpi={dpi}")
    import subprocess

    try:
        done = subprocess.run(
            args, input=dot.encode(), capture_output=True, timeout=RENDER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"Graphviz ({engine.name}) failed: {exc}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
        raise RenderError(f"Graphviz ({engine.name}) failed: {message}")
    return done.stdout


_EVENT_ATTR = re.compile(r"^on", re.IGNORECASE)
_URL_REF = re.compile(r"url\(\s*['\"]?([^)'\"]*)['\"]?\s*\)")
_FORBIDDEN = {"script", "foreignObject", "iframe", "object", "embed"}


def clean_svg(
    svg: bytes | str,
    prefix: str,
    title: str | None = None,
    style: str | None = None,
    description: str | None = None,
) -> str:
    """Make SVG safe and unique for inlining into an HTML page.

    ``style`` goes inside it; ``title``/``description`` become the accessible
    name and description; node tooltips become each node's ``<title>``.
    """
    text = plain_text(svg.decode("utf-8", "replace") if isinstance(svg, bytes) else svg)
    title = plain_text(title) if title else title
    description = plain_text(description) if description else description
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise RenderError(f"the engine wrote SVG that does not parse: {exc}") from None
    ids = {el.get("id") for el in root.iter() if el.get("id")}

    def fix_ref(value: str) -> str:
        if value.startswith("#") and value[1:] in ids:
            return f"#{prefix}-{value[1:]}"
        return _URL_REF.sub(
            lambda m: (
                f"url(#{prefix}-{m[1][1:]})" if m[1][1:] in ids and m[1][0:1] == "#" else "none"
            ),
            value,
        )

    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) in _FORBIDDEN:
                parent.remove(child)
    for el in root.iter():
        for key in list(el.attrib):
            local = _local(key)
            value = el.attrib[key]
            if _EVENT_ATTR.match(local):
                del el.attrib[key]
            elif local == "id":
                el.attrib[key] = f"{prefix}-{value}"
            elif local == "href":
                fixed = fix_ref(value)
                if fixed.startswith("#"):
                    el.attrib[key] = fixed
                else:
                    del el.attrib[key]  # no external references in inlined SVG
            elif "url(" in value:
                el.attrib[key] = fix_ref(value)
    _tooltips_to_titles(root)
    root.set("role", "img")
    root.set("class", "model-diagram-svg")
    graph_title = root.find(f"{{{SVG_NS}}}g/{{{SVG_NS}}}title")
    if title:
        root.set("aria-label", title)
        element = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{prefix}-title"})
        element.text = title
        root.insert(0, element)
        root.set("aria-labelledby", f"{prefix}-title")
    if graph_title is not None and graph_title.text == "model":
        graph_title.text = title or ""
    if description:
        element = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{prefix}-desc"})
        element.text = description
        root.insert(1 if title else 0, element)
        root.set("aria-describedby", f"{prefix}-desc")
    if style:
        element = ET.Element(f"{{{SVG_NS}}}style")
        element.text = style
        root.insert(0, element)
    return ET.tostring(root, encoding="unicode")


def standalone_svg(svg: str) -> str:
    """An SVG file of its own (``save()``, CLI, ``<img>``): XML prolog, and dark mode
    that follows the viewer's ``prefers-color-scheme``. Sanitised: it may come from
    the cache (see :mod:`model_diagram.sanitize`)."""
    head, sep, rest = resolve_class_links(sanitize_svg(svg)).partition(">")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{sep}<style>{dark_media_rule()}</style>'
        f"{rest}\n"
    )


def _tooltips_to_titles(root: ET.Element) -> None:
    """Graphviz puts tooltips on an ``<a>``; screen readers and browsers read ``<title>``."""
    title_attr = f"{{{XLINK_NS}}}title"
    for group in root.iter(f"{{{SVG_NS}}}g"):
        title = group.find(f"{{{SVG_NS}}}title")
        # a node's or edge's own link sits in its <g id="a_..."> child; looking deeper
        # would hand the first node's tooltip to the whole graph
        link = group.find(f"{{{SVG_NS}}}g/{{{SVG_NS}}}a")
        if title is not None and link is not None and title_attr in link.attrib:
            title.text = link.attrib.pop(title_attr)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
