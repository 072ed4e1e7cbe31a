"""Every SVG model-diagram writes is safe to inline: a test of its own.

The sweep (tests/svg_safety.py) is checked against SVGs that break each rule.
Then one model whose module names carry markup is drawn in every style through
every front end (Sphinx inline and ``img``, MkDocs, the CLI), and every
model-diagram SVG under the test's folder is parsed: pages, image files and
cache blobs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from bs4 import BeautifulSoup
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from sphinx.testing.util import SphinxTestApp

from model_diagram.cli import main
from svg_safety import our_svgs, svg_problems, sweep

TESTS = Path(__file__).resolve().parent
STYLES = ("graph", "layered", "lenet", "neurons")
HOSTILE = "models:make_hostile_names"


def test_the_safety_check_catches_what_it_must() -> None:
    bad = BeautifulSoup(
        '<svg class="model-diagram-svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<script>alert(1)</script><g onclick="x()"><a xlink:href="javascript:alert(1)">'
        '<image href="https://evil.example/x.png"/></a></g><foreignObject/>'
        '<rect style="fill: url(https://evil.example/p)"/><a href="//evil.example">x</a>'
        "<style>@import 'https://evil.example/x.css';</style></svg>",
        "lxml",
    )
    problems = svg_problems(our_svgs(bad)[0], page_links=True)
    assert len(problems) == 8, problems
    good = BeautifulSoup(
        '<svg class="model-diagram-svg"><a href="api.html#pkg.Cls"><rect '
        'style="fill: url(#md0-grad)"/></a><use href="#md0-n1"/></svg>',
        "lxml",
    )
    assert svg_problems(our_svgs(good)[0], page_links=True) == []
    assert svg_problems(our_svgs(good)[0], page_links=False) == [
        "external reference href='api.html#pkg.Cls' on <a>"
    ]
    # the sweep finds our SVGs in pages, files and cache blobs, and skips other SVGs
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "blobs").mkdir()
        (root / "blobs" / "x.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" class="model-diagram-svg" onload="x()"/>'
        )
        (root / "page.html").write_text(str(bad))
        (root / "icon.svg").write_text('<svg onload="theirs()"/>')
        checked, problems = sweep(root)
    assert checked == 2 and len(problems) == 9, problems


def test_every_style_and_front_end_writes_safe_svgs(
    make_app: Callable[..., SphinxTestApp], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    rst = "Hostile\n=======\n\n" + "".join(
        f".. model-diagram:: {HOSTILE}\n   :input: float[2,8]\n   :style: {style}\n"
        f"   :legend:\n   :alt: sphinx-{style}\n\n"
        for style in STYLES
    )
    for embed in ("inline", "img"):
        src = tmp_path / f"sphinx-{embed}"
        src.mkdir()
        (src / "conf.py").write_text(
            f'extensions = ["model_diagram"]\nmodel_diagram_embed = "{embed}"\n'
            f"model_diagram_cache_dir = {str(cache)!r}\n"
        )
        (src / "index.rst").write_text(rst)
        app = make_app("html", srcdir=src)
        app.build()
        assert app.statuscode == 0
        app.cleanup()
    docs = tmp_path / "mkdocs" / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(
        "".join(
            f"```model-diagram\nfactory: {HOSTILE}\ninput: float[2,8]\nstyle: {style}\n"
            f"alt: mkdocs-{style}\n```\n\n"
            for style in STYLES
        )
    )
    config = tmp_path / "mkdocs" / "mkdocs.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_name": "Hostile",
                "plugins": [{"model-diagram": {"cache_dir": str(cache), "paths": [str(TESTS)]}}],
            }
        )
    )
    mkdocs_build(load_config(config_file=str(config)))
    for style in STYLES:
        out = tmp_path / "cli" / f"{style}.svg"
        argv = ["render", HOSTILE, "--input", "float[2,8]", "--style", style, "-o", str(out)]
        assert main([*argv, "--cache-dir", str(cache)]) == 0
    inline = BeautifulSoup(
        (tmp_path / "sphinx-inline" / "_build" / "html" / "index.html").read_text("utf-8"), "lxml"
    )
    assert len(our_svgs(inline)) == len(STYLES)
    checked, problems = sweep(tmp_path)
    assert problems == []
    # 4 inline Sphinx + 4 img files + 4 MkDocs + 4 CLI files + the cache's SVG blobs
    assert checked >= 4 * len(STYLES) + len(STYLES), checked
