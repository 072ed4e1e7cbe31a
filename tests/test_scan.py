"""The pre-scanner finds what the real parsers find, on a corpus of awkward pages.

reST and MyST: a real Sphinx build of ``tests/scan_corpus/`` (docutils and
MyST-Parser) whose ``model-diagram`` directive records its arguments, options
and line instead of drawing. Markdown: Python-Markdown renders a corpus with
SuperFences (admonitions, tabs, lists, quotes) and without it, recording
what reaches the fence. The scan must give the same blocks, in order.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import markdown
import pytest
import yaml
from sphinx.testing.util import SphinxTestApp

from model_diagram import sphinx_ext
from model_diagram.pipeline import Pipeline
from model_diagram.scan import Block, diagrams, markdown_fences, scan

CORPUS = Path(__file__).resolve().parent / "scan_corpus"
Found = list[tuple[str, int, dict[str, str]]]


@pytest.fixture
def parsed(
    make_app: Callable[..., SphinxTestApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Found:
    """Every directive docutils/MyST hands to ``model-diagram`` in the corpus."""
    src = tmp_path / "corpus"
    shutil.copytree(CORPUS, src)
    (src / "conf.py").write_text(
        'extensions = ["model_diagram", "myst_parser"]\n'
        'myst_enable_extensions = ["colon_fence"]\n'
        'source_suffix = {".rst": "restructuredtext", ".md": "markdown"}\n'
    )
    seen: Found = []

    def record(self: sphinx_ext.ModelDiagram) -> list[Any]:
        values = {"factory": self.arguments[0]} if self.arguments else {}
        values.update({name: value or "" for name, value in self.options.items()})
        seen.append((self.env.docname, self.lineno, values))
        return []

    monkeypatch.setattr(sphinx_ext.ModelDiagram, "run", record)
    monkeypatch.setattr(Pipeline, "start_worker", lambda self: None)  # nothing is drawn
    app = make_app("html", srcdir=src)
    app.build()
    app.cleanup()
    return seen


def scanned(name: str, syntax: Any) -> Found:
    text = (CORPUS / name).read_text("utf-8")
    return [(Path(name).stem, b.line, dict(b.values)) for b in scan(text, syntax)]


def test_rst_and_myst_scan_equals_the_parsers(parsed: Found) -> None:
    for docname, syntax in (("index", "rst"), ("myst", "myst")):
        real = [entry for entry in parsed if entry[0] == docname]
        found = scanned(f"{docname}.{'rst' if syntax == 'rst' else 'md'}", syntax)
        assert [values for *_, values in found] == [values for *_, values in real], docname
        assert len(real) >= 7, "the corpus exercises nesting"
        assert not any("shown:" in str(values) for *_, values in found)
        lines = [(a[1], b[1]) for a, b in zip(found, real, strict=True)]
        if syntax == "rst":
            assert all(mine == theirs for mine, theirs in lines), lines
        else:  # MyST-Parser reports a colon fence nested in a colon fence one line late
            assert all(theirs - mine in {0, 1} for mine, theirs in lines), lines
            assert sum(mine == theirs for mine, theirs in lines) == len(lines) - 1


MARKDOWN = textwrap.dedent("""\
    # A page

    ```model-diagram
    factory: models:make_mlp
    input: float[1,8]
    ```

    !!! note "In an admonition"

        ```model-diagram
        factory: models:make_mlp
        input: float[2,8]
        ```

    ??? example "In details"

        Text.

        ~~~~model-diagram
        factory: models:make_mlp
        input: float[3,8]
        ~~~~

    === "Tab one"

        ```model-diagram
        factory: models:make_mlp
        input: float[4,8]
        ```

    === "Tab two"

        !!! tip

            ```model-diagram
            factory: models:make_mlp
            input: float[5,8]
            ```

    - A list item

        ```model-diagram
        factory: models:make_mlp
        input: float[6,8]
        ```

    > ```model-diagram
    > factory: models:make_mlp
    > input: float[7,8]
    > ```

    Indented code is an example:

        ```model-diagram
        factory: shown:in_indented_code
        ```

    `````markdown
    ```model-diagram
    factory: shown:in_a_fence
    ```
    `````

    ```{ .model-diagram }
    factory: models:make_mlp
    input: float[8,8]
    ```
    """)


def rendered(superfences: bool) -> list[dict[str, Any]]:
    """Bodies of the blocks that end up in the HTML, parsed as YAML.

    SuperFences also formats a fence it then gives back as indented code, so a
    block counts when its formatted output survives (as the plugin's slots do).
    """
    bodies: list[str] = []
    if superfences:

        def fence(source: str, *args: Any, **kwargs: Any) -> str:
            bodies.append(source)
            return f'<div class="slot" data-n="{len(bodies) - 1}"></div>'

        md = markdown.Markdown(
            extensions=[
                "admonition",
                "pymdownx.details",
                "pymdownx.tabbed",
                "pymdownx.superfences",
            ],
            extension_configs={
                "pymdownx.superfences": {
                    "custom_fences": [
                        {"name": "model-diagram", "class": "model-diagram", "format": fence}
                    ]
                }
            },
        )
        html = md.convert(MARKDOWN)
        kept = [int(n) for n in re.findall(r'<div class="slot" data-n="(\d+)"></div>', html)]
        return [yaml.safe_load(bodies[n]) for n in kept]
    html = markdown.markdown(MARKDOWN, extensions=["admonition", "fenced_code"])
    count = html.count('class="language-model-diagram"')
    return [{} for _ in range(count)]


def test_superfences_scan_equals_markdown() -> None:
    real = rendered(superfences=True)
    found = [dict(b.values) for b in scan(MARKDOWN, "superfences")]
    assert found == real
    assert len(real) == 8 and not any("shown:" in str(v) for v in found)


def test_plain_markdown_scan_equals_fenced_code() -> None:
    """Without SuperFences only top-level fences are blocks (the plugin's own parser)."""
    found = scan(MARKDOWN, "markdown")
    assert len(found) == len(rendered(superfences=False))
    assert [b.values["input"] for b in found] == ["float[1,8]", "float[8,8]"]


def test_scan_lines_and_bodies() -> None:
    blocks = scan(MARKDOWN, "superfences")
    lines = MARKDOWN.splitlines()
    for block in blocks:
        assert "model-diagram" in lines[block.line - 1]
        assert yaml.safe_load(block.body) == block.values
    fences = list(markdown_fences(MARKDOWN.splitlines()))
    assert [f.start + 1 for f in fences if f.lang == "model-diagram"] == [b.line for b in blocks]


HOSTILE = [
    ".. model-diagram:: models:make_mlp\n   :depth: " + "1" * 5000 + "\n",
    ".. model-diagram:: models:make_mlp\n   :input-size: &a [*a]\n",
    "```{model-diagram} models:make_mlp\n:depth: " + "9" * 5000 + "\n```\n",
    "```model-diagram\nfactory: models:make_mlp\ndepth: " + "1" * 5000 + "\n```\n",
    "```model-diagram\nfactory: models:make_mlp\ninput-size: &a [*a]\n```\n",
    "```model-diagram\n" + "[" * 10000 + "\n```\n",
    ".. model-diagram:: models:make_mlp\n   :input: " + "[" * 10000 + "\n",
    "\ud800 .. model-diagram:: \ud800\n   :\ud800: x\n",
    "::\n\n" * 2000,
    "```{note}\n" * 300,
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("syntax", ["rst", "myst", "markdown", "superfences"])
def test_scan_never_raises(text: str, syntax: Any) -> None:
    blocks = scan(text, syntax)
    assert all(isinstance(b, Block) for b in blocks)
    list(diagrams(text, syntax))  # options that do not parse are skipped, not raised
