"""The SVG of each style through each front end, compared with files kept under review.

Output is deterministic (the bundled ``graphviz-pure`` engine, our own figure
styles), so a change to any drawing shows up here as a diff of
``tests/snapshots/*.svg`` to review. Ids made from cache keys (``md`` + ten hex
digits, which change with every source edit) are normalised first. After an
intended change, regenerate the files and review them like code::

    MODEL_DIAGRAM_UPDATE_SNAPSHOTS=1 pytest tests/test_svg_snapshots.py
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from sphinx.testing.util import SphinxTestApp

from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline

TESTS = Path(__file__).resolve().parent
SNAPSHOTS = TESTS / "snapshots"
UPDATE = os.environ.get("MODEL_DIAGRAM_UPDATE_SNAPSHOTS") == "1"
STYLES = ("graph", "layered", "lenet", "neurons")
MODEL = {"factory": "models:make_branchy", "input": "float[2,8]", "engine": "graphviz-pure"}
_KEY_IDS = re.compile(r"\bmdd?[0-9a-f]{10}")


def normalised(svg: str) -> str:
    return _KEY_IDS.sub("mdKEY", svg).rstrip() + "\n"


def check(name: str, svg: str) -> None:
    """Compare with ``snapshots/<name>.svg`` (or write it when updating)."""
    path = SNAPSHOTS / f"{name}.svg"
    text = normalised(svg)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        if not UPDATE:
            pytest.fail(f"{path.name} did not exist and was written: review and commit it")
        return
    kept = path.read_text("utf-8")
    if kept != text:
        diff = "".join(
            difflib.unified_diff(kept.splitlines(True), text.splitlines(True), "kept", "now", n=1)
        )
        pytest.fail(
            f"{path.name} changed; review, then MODEL_DIAGRAM_UPDATE_SNAPSHOTS=1:\n{diff[:3000]}"
        )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = Pipeline(tmp_path_factory.mktemp("cache"))
    yield pipe
    pipe.worker.stop()


@pytest.mark.parametrize("style", STYLES)
def test_python_api(pipeline: Pipeline, style: str) -> None:
    result = pipeline.diagram(parse_options({**MODEL, "style": style, "legend": True}))
    check(f"api-{style}", result.svg)


def _block_options(style: str) -> dict[str, object]:
    return {**MODEL, "style": style, "alt": f"snapshot-{style}"}


def test_sphinx(make_app: Callable[..., SphinxTestApp], pipeline: Pipeline, tmp_path: Path) -> None:
    src = tmp_path / "sphinx"
    src.mkdir()
    (src / "conf.py").write_text(
        f'extensions = ["model_diagram"]\nmodel_diagram_cache_dir = {str(pipeline.cache.root)!r}\n'
    )
    (src / "index.rst").write_text(
        "Snapshots\n=========\n\n"
        + "".join(
            f".. model-diagram:: {MODEL['factory']}\n"
            + "".join(f"   :{k}: {v}\n" for k, v in _block_options(style).items() if k != "factory")
            + "\n"
            for style in STYLES
        )
    )
    app = make_app("html", srcdir=src)
    app.build()
    assert app.statuscode == 0
    soup = BeautifulSoup((app.outdir / "index.html").read_text("utf-8"), "lxml")
    svgs = {svg["aria-label"]: svg for svg in soup.select("svg.model-diagram-svg")}
    app.cleanup()
    for style in STYLES:
        check(f"sphinx-{style}", str(svgs[f"snapshot-{style}"]))


def test_mkdocs(pipeline: Pipeline, tmp_path: Path) -> None:
    docs = tmp_path / "mkdocs" / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(
        "".join(
            "```model-diagram\n"
            + yaml.safe_dump(_block_options(style), sort_keys=False)
            + "```\n\n"
            for style in STYLES
        )
    )
    config = tmp_path / "mkdocs" / "mkdocs.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_name": "Snapshots",
                "plugins": [
                    {
                        "model-diagram": {
                            "cache_dir": str(pipeline.cache.root),
                            "paths": [str(TESTS)],
                        }
                    }
                ],
            }
        )
    )
    mkdocs_build(load_config(config_file=str(config)))
    soup = BeautifulSoup((tmp_path / "mkdocs" / "site" / "index.html").read_text("utf-8"), "lxml")
    svgs = {svg["aria-label"]: svg for svg in soup.select("svg.model-diagram-svg")}
    for style in STYLES:
        check(f"mkdocs-{style}", str(svgs[f"snapshot-{style}"]))
