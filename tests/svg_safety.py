"""What makes an SVG unsafe to inline, and a sweep of every model-diagram SVG under a folder.

Used after the builds of test_reliability.py and by test_svg_safety.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Tag

_FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "handler", "listener"}
_SCHEME = re.compile(r"^\s*[a-zA-Z][a-zA-Z0-9+.-]*:")
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def svg_problems(svg: Tag, *, page_links: bool) -> list[str]:
    """What makes an SVG unsafe to inline: scripts, event attributes, external references.

    ``page_links``: in a page, ``<a>`` may point at another page of the site (class
    links); everywhere else every reference must stay inside the SVG (``#id``).
    """
    problems = []
    for el in [svg, *svg.find_all(True)]:
        name = el.name.rsplit(":", 1)[-1].lower()
        if name in _FORBIDDEN_TAGS:
            problems.append(f"<{el.name}> element")
        for key, raw in el.attrs.items():
            local = key.rsplit(":", 1)[-1].lower()
            value = " ".join(raw) if isinstance(raw, list) else str(raw)
            if local.startswith("on"):
                problems.append(f"event attribute {key}= on <{el.name}>")
            if local in {"href", "src"} and not value.startswith("#"):
                relative = not _SCHEME.match(value) and not value.startswith("//")
                if not (page_links and name == "a" and relative):
                    problems.append(f"external reference {key}={value!r} on <{el.name}>")
            if _EXTERNAL_URL.search(value):
                problems.append(f"external url() in {key}= on <{el.name}>")
        if name == "style":
            css = el.get_text()
            if "@import" in css or _EXTERNAL_URL.search(css):
                problems.append("external reference in <style>")
    return problems


def our_svgs(soup: BeautifulSoup) -> list[Tag]:
    return soup.select("svg.model-diagram-svg")


def sweep(root: Path) -> tuple[int, list[str]]:
    """Check every model-diagram SVG under ``root``: inline in HTML, files, cache blobs."""
    checked, problems = 0, []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".html", ".svg"} or not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "model-diagram-svg" not in text:
            continue  # theme icons and other people's SVGs
        if path.suffix == ".html":
            svgs = our_svgs(BeautifulSoup(text, "lxml"))
            page_links = True
        else:
            svgs = [s for s in BeautifulSoup(text, "xml").find_all("svg")[:1] if s]
            page_links = False
        for svg in svgs:
            checked += 1
            problems += [f"{path}: {p}" for p in svg_problems(svg, page_links=page_links)]
    return checked, problems


def assert_all_safe(root: Path) -> int:
    checked, problems = sweep(root)
    assert problems == []
    return checked
