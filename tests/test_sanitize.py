"""The streaming sanitiser keeps exactly what the allow-list defines.

:func:`model_diagram.sanitize.sanitize_svg` rebuilds an SVG in one expat pass (or
returns it as it is when it is already in the form that pass writes). Here an
independent reference applies the same allow-list to an ElementTree, the plain way:
parse, drop what is not allowed (an element with its subtree and the text after
it), and the two results must be the same tree: elements, attributes and text, in
order. The corpus: hostile SVGs breaking each rule, the forged cache entry of
test_hostile.py, the snapshot files, SVGs drawn here in every style from the test
models, and seeded mutations of all of them.
"""

from __future__ import annotations

import random
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_diagram import sanitize
from model_diagram.errors import CacheError
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline
from test_hostile import FORGED

TESTS = Path(__file__).resolve().parent
SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"
PLAIN = f'<svg xmlns="{SVG}"'
HEAD = f'{PLAIN} xmlns:xlink="{XLINK}"'
STYLES = ("graph", "layered", "lenet", "neurons")

HOSTILE = [
    FORGED,
    "",
    "not xml at all <",
    "<html><script>alert(1)</script></html>",
    "<svg/>",
    "<svg xmlns='http://example.com/'/>",
    '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
    f"{HEAD}>&undefined;</svg>",
    f"{HEAD}><g></svg>",
    f"{HEAD}/><svg/>",
    f"{HEAD}>a<script>x</script>tail<!--c-->more<g>in</g>after</svg>",
    f"{HEAD}><g>a<!--c-->b</g><g><!--c--></g><?pi x?><g>t<?pi y?>u</g></svg>",
    f"{HEAD}><style>a{{fill:red}}</style><style>@import x</style>t1<style><g/>x</style>t2</svg>",
    f"{HEAD}><style>a<!--c-->b</style><style><![CDATA[a>b{{}}]]></style><style/></svg>",
    f"{HEAD}><g>p<style>.a{{fill:url(http://x)}}</style>q</g><style>.b{{fill:url(#a)}}</style></svg>",
    f"{HEAD}><a xlink:href='#x' xlink:title='t&quot;&#10;&#9;&#13;&lt;'>y</a></svg>",
    f"{HEAD}><a xlink:href='javascript:x'>y</a><a href='//evil.example'>z</a></svg>",
    f"<svg xmlns='{SVG}' xmlns:x='{XLINK}'><a x:href='#a'/></svg>",
    f"<svg:svg xmlns:svg='{SVG}'><svg:g id='a'/></svg:svg>",
    f"{HEAD} xml:space='preserve'><text xml:lang='en'> a  b </text></svg>",
    f"{HEAD} data-x='1' aria-label='q' data-href='http://x' data-Y='z' foo='1' onload='x'/>",
    f"{HEAD}><rect style='fill:url(#a)' fill='url(http://x)' stroke='URL(#b)' "
    "mask='url( \"#c\" )'/></svg>",
    f"{HEAD}><rect style='behavior: x' class='a\tb\nc' transform='rotate(1) translate(2 3)'/>"
    "</svg>",
    f"{HEAD}>&amp;&lt;&gt;&quot;&#x41;\r\n\r</svg>",
    f"{HEAD}>\x01\ud800\x7f<g id='\x07a\udfff\x7f'/>&#x7f;\ufffe</svg>",
    f"<?xml version='1.0' encoding='latin-1'?>{HEAD}>\u00e9</svg>",
    f"{HEAD}><foreignObject><div xmlns='http://www.w3.org/1999/xhtml'><svg/></div></foreignObject>"
    "x</svg>",
    f"{HEAD}><g xmlns='http://example.com'><rect/></g>tail<rect/><svg><rect/></svg></svg>",
    f"<!-- pre --><?xml-stylesheet href='x'?>\n{HEAD}><g></g>\n<!-- gen -->\n</svg>\n",
    f"{HEAD}><use href='#a b'/><use href='#a\"'/><use href=' #a'/><g id='a xlink:href='/></svg>",
    f'{HEAD} class="a"><g id="b"><title>x&gt;y</title></g></svg>',
    # in the form the rebuild writes, each but for one thing it would change
    f'{PLAIN}><style><g /></style><g id="a" /></svg>',
    f"{PLAIN}><style>@import url(x)</style><style>a &gt; b {{}}</style></svg>",
    f'{HEAD}><g id="a" /></svg>',
    f'{PLAIN}><g id="a xlink:href=" /><g data-href="http://x" /><g fill="url(http://x)" /></svg>',
    f'{PLAIN}><g style="fill:red" /></svg>',
    f'{PLAIN}><g id="a"></g></svg>',
    f"{PLAIN}></svg>",
    f"{PLAIN}>\n</svg>\n",
    f"{PLAIN} />",
]
#: what the mutations insert: each breaks one rule of the allow-list or of its output form
TOKENS = [
    "<script>x</script>", ' onload="x"', "&#45;", "'", "\r", "<!--c-->", ' xlink:href="#a"',
    ' style="fill:url(http://x)"', ' style="fill:red"', "<style>@import x</style>", "url(",
    "<g></g>", "<g/>", ' xmlns:xlink="http://www.w3.org/1999/xlink"', ' fill="url(#a)"',
    ' href="http://x"', "&amp;", "&quot;", '"', ">", "<![CDATA[x]]>", "<?pi x?>", "&#10;",
    ' data-href="x"', ' aria-label="a&gt;"', "<foreignObject><g/></foreignObject>", "</g>",
    "<style><g/></style>", "<style><g /></style>", ' xml:space="preserve"', "\x7f", "\x01",
    ' xmlns:foo="urn:x" foo:bar="1"', "\ud800", "\u00e9", "<style>", "</style>", "xlink:", "=", " ",
]  # fmt: skip


def reference(svg: str) -> ET.Element | None:
    """The allow-list applied to an ElementTree; ``None`` where the SVG is refused."""
    text = sanitize.plain_text(svg)
    if re.search("<!(?:DOCTYPE|ENTITY)", text, re.IGNORECASE):
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    if root.tag != f"{{{SVG}}}svg":
        return None
    keep(root)
    return root


def allowed(key: str, value: str) -> bool:
    if key.startswith("{"):
        if key not in {
            f"{{{XLINK}}}href",
            f"{{{XLINK}}}title",
            f"{{{XML}}}space",
            f"{{{XML}}}lang",
        }:
            return False
    elif key not in sanitize.ATTRIBUTES and not sanitize._OPEN_ATTRIBUTE.match(key):
        return False
    if key.endswith("href"):
        return bool(sanitize._HREF.match(value))
    if key == "style" or "url(" in value.lower():
        return sanitize._safe_css(value)
    return True


def keep(element: ET.Element) -> None:
    for key, value in list(element.attrib.items()):
        if not allowed(key, value):
            del element.attrib[key]
    for child in list(element):
        name = child.tag.removeprefix(f"{{{SVG}}}")
        if child.tag != f"{{{SVG}}}{name}" or name not in sanitize.ELEMENTS:
            element.remove(child)  # its tail goes with it
        elif name == "style" and (len(child) or not sanitize._safe_css(child.text or "")):
            element.remove(child)
        else:
            keep(child)


def shape(element: ET.Element) -> tuple[Any, ...]:
    return (
        element.tag,
        list(element.attrib.items()),
        element.text or "",
        [(*shape(child), child.tail or "") for child in element],
    )


def assert_same_as_reference(svg: str) -> None:
    expected = reference(svg)
    if expected is None:
        with pytest.raises(CacheError):
            sanitize.sanitize_svg(svg)
        return
    out = sanitize.sanitize_svg(svg)
    assert shape(ET.fromstring(out)) == shape(expected), (svg, out)
    # the output is in the rebuild's own form: written back as it is, by the rebuild and by
    # the fast path where it applies (but a DEL written from a reference: plain_text
    # drops it from the next input)
    assert sanitize._rebuild(out) == out
    if "\x7f" not in out:
        assert sanitize.sanitize_svg(out) == out


@pytest.fixture(scope="module")
def drawn() -> Iterator[list[str]]:
    """SVGs as the cache holds them: two test models in every style."""
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Path(tmp))
        try:
            yield [
                pipeline.diagram(
                    parse_options(
                        {"factory": factory, "input": "float[2,8]", "engine": "graphviz-pure",
                         "style": style, "legend": True}
                    )
                ).svg
                for factory in ("models:make_branchy", "models:make_hostile_names")
                for style in STYLES
            ]  # fmt: skip
        finally:
            pipeline.worker.stop()


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_svgs_keep_what_the_allow_list_keeps(index: int) -> None:
    assert_same_as_reference(HOSTILE[index])


def test_what_we_draw_is_kept_byte_for_byte_by_the_fast_path(drawn: list[str]) -> None:
    for svg in drawn:
        assert sanitize._already_sanitized(svg)
        assert sanitize.sanitize_svg(svg) == svg == sanitize._rebuild(svg)
        assert_same_as_reference(svg)


def test_snapshot_files_keep_what_the_allow_list_keeps() -> None:
    files = sorted((TESTS / "snapshots").glob("*.svg"))
    assert files
    for path in files:
        assert_same_as_reference(path.read_text("utf-8"))


def test_mutated_svgs_keep_what_the_allow_list_keeps(drawn: list[str]) -> None:
    rng = random.Random(20261202)
    bases = drawn + [svg for svg in HOSTILE if svg.startswith(PLAIN)]
    fast = 0
    for _ in range(600):
        svg = rng.choice(bases)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(svg))
            if rng.random() < 0.2:
                svg = svg[:at] + svg[at + rng.randint(1, 5) :]
            else:
                svg = svg[:at] + rng.choice(TOKENS) + svg[at:]
        fast += sanitize._already_sanitized(svg)
        assert_same_as_reference(svg)
    assert 0 < fast < 600  # both paths were taken
