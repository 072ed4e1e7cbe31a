"""The explorer without a browser: folding to a node budget, views, sidecars, standalone HTML.

Real models traced at full depth (the example transformer, BERT from a config),
real Sphinx and MkDocs builds; the browser side is in ``test_browser.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

import model_diagram
from model_diagram import folding
from model_diagram.cli import main
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline, Views
from model_diagram.styles.repeats import collapse_repeats

SVG = "{http://www.w3.org/2000/svg}"
TRANSFORMER = {
    "factory": "example_project.models:make_transformer",
    "kwargs": {"input_ids": "long[1,16](0,1000)"},
}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explorer-cache")


def nodes_of(svg: str) -> list[ET.Element]:
    return [
        g for g in ET.fromstring(svg).iter(f"{SVG}g") if "node" in (g.get("class") or "").split()
    ]


def test_one_full_depth_trace_feeds_every_view(cache: Path) -> None:
    """Folding is derived from one trace: the budget holds, every leaf layer is drawn in
    some view, and a view of each folded module exists."""
    pipeline = Pipeline(cache)
    result = pipeline.diagram(parse_options({**TRANSFORMER, "max-nodes": 8}))
    assert pipeline.traced == 1
    graph = result.graph
    assert folding.foldable(graph) and any(m.qualname == "blocks.0" for m in graph.modules)
    assert len(nodes_of(result.svg)) <= 8
    views = {v.key: v for v in result.explorer.views}
    assert {"", "blocks.0", "blocks.0.attn", "blocks.0.ff"} <= set(views)
    assert views["blocks.0"].parent == ""
    assert "one of blocks.0-3" in views["blocks.0"].title
    assert ("blocks", 0, 3) in result.explorer.aliases
    for view in result.explorer.views[1:]:
        assert view.svg.startswith("<svg") and 'role="img"' in view.svg
    # every leaf module of the first block is drawn in some view
    drawn = {n.get("qualname") for v in result.explorer.views for n in v.nodes.values()}
    leaves = {n.qualname for n in graph.layers if (n.qualname or "").startswith("blocks.0.")}
    assert leaves and leaves <= drawn
    found = {e["label"]: e["view"] for e in result.explorer.index}
    assert found["blocks.0.ff.0"] == "blocks.0.ff"
    # the same options again: no trace, no new drawing
    again = pipeline.diagram(parse_options({**TRANSFORMER, "max-nodes": 8}))
    assert again.cached and pipeline.traced == 1
    assert [v.svg for v in again.explorer.views] == [v.svg for v in result.explorer.views]


def test_budget_picks_the_deepest_level_that_fits(cache: Path) -> None:
    pipeline = Pipeline(cache)
    graph = pipeline.diagram(parse_options(TRANSFORMER)).graph
    counts = {}
    for budget in (5, 8, 13, 40):
        shown = collapse_repeats(folding.overview(graph, budget))
        counts[budget] = len(shown.layers)
        assert counts[budget] <= budget or budget == 5
    assert counts[5] <= counts[8] <= counts[13] <= counts[40]
    whole = collapse_repeats(folding.fold(graph, "", 99))
    assert counts[40] == len(whole.layers), "a model that fits is drawn at full depth"
    assert {n.id for n in whole.layers} == {n.id for n in collapse_repeats(graph).layers}


def test_a_fixed_depth_keeps_todays_drawing_and_no_explorer(cache: Path) -> None:
    pipeline = Pipeline(cache)
    fixed = pipeline.diagram(parse_options({**TRANSFORMER, "depth": 1}))
    assert fixed.explorer.views == []
    labels = [t.text for t in ET.fromstring(fixed.svg).iter(f"{SVG}text")]
    assert labels.count("EncoderBlock") == 4, "depth 1 as before: four blocks, not folded"
    off = pipeline.diagram(parse_options({**TRANSFORMER, "max-nodes": 8, "explore": False}))
    assert off.explorer.views == []
    assert len(nodes_of(off.svg)) <= 8


def test_cli_writes_a_standalone_explorer(cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.html"
    args = ["render", TRANSFORMER["factory"], "--kwargs", '{input_ids: "long[1,16](0,1000)"}']
    code = main([*args, "--max-nodes", "8", "--cache-dir", str(cache), "-o", str(out)])
    assert code == 0
    page = BeautifulSoup(out.read_text("utf-8"), "lxml")
    assert not page.select("script[src], link[href]"), "standalone: nothing to fetch"
    data = json.loads(page.select_one("script.model-diagram-views").get_text())
    assert data["views"]["blocks.0"]["svg"].startswith("<svg")
    assert not page.select(".model-diagram-explorer-bar"), "the script draws the controls"
    assert "Explorer.prototype.open" in page.select("script")[-1].get_text()


def test_repr_html_shows_the_explorer_and_keeps_svg_png(cache: Path) -> None:
    diagram = model_diagram.render(
        TRANSFORMER["factory"], kwargs=TRANSFORMER["kwargs"], max_nodes=8, cache_dir=cache
    )
    html = diagram._repr_html_()
    assert "model-diagram-views" in html and "<style>" in html and "<script>" in html
    assert diagram._repr_svg_() == diagram.svg
    assert diagram._repr_png_().startswith(b"\x89PNG")
    saved = diagram.save(cache.parent / "saved.html")
    assert "model-diagram-views" in saved.read_text("utf-8")


def _sphinx(src: Path, out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-D",
         f"model_diagram_cache_dir={cache}", str(src), str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def test_sphinx_writes_sanitised_sidecars_next_to_the_page(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'example_project')!r})\n"
        "extensions = ['model_diagram']\n"
    )
    (src / "index.rst").write_text(
        "Page\n====\n\n.. model-diagram:: example_project.models:make_transformer\n"
        '   :kwargs: {input_ids: "long[1,16](0,1000)"}\n   :max-nodes: 8\n   :name: fig-t\n'
    )
    done = _sphinx(src, tmp_path / "out", cache)
    assert done.returncode == 0, done.stderr
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text("utf-8"), "lxml")
    data = json.loads(soup.select_one("#fig-t script.model-diagram-views").get_text())
    assert data["id"] == "fig-t"
    for key, view in data["views"].items():
        if not key:
            continue
        path = tmp_path / "out" / view["src"]
        assert path.parent.name == "_images" and path.stat().st_mode & 0o044 == 0o044
        text = path.read_text("utf-8")
        registered = re.fullmatch(
            r'\(window\.modelDiagramViews=window\.modelDiagramViews\|\|\{\}\)\["([0-9a-f]{20})"\]=(.*);\n',
            text,
            re.S,
        )
        assert registered and registered[1] == view["sid"]
        payload: dict[str, Any] = json.loads(registered[2])
        assert "<script" not in payload["svg"] and "</" not in registered[2]
        assert ET.fromstring(payload["svg"]).get("role") == "img"


def as_json(views: Views) -> str:
    return json.dumps(asdict(views), sort_keys=True)


def _views_entry(cache: Path) -> tuple[Path, Path]:
    """(the render pointer, the blob) of the one cached views entry of the diagram."""
    for pointer in (cache / "renders").glob("*.json"):
        blob = cache / "blobs" / f"{json.loads(pointer.read_text())['blob']}.json"
        if blob.is_file() and set(json.loads(blob.read_text())) == {"views", "index", "aliases"}:
            return pointer, blob
    raise AssertionError("no views entry in the cache")


def test_a_warm_build_reads_the_views_as_one_entry_and_survives_a_forged_one(
    tmp_path: Path,
) -> None:
    """The views are cached whole (a warm build does not fold again); a malformed entry
    is ignored and rebuilt, never a crash or an empty explorer."""
    options = parse_options({**TRANSFORMER, "max-nodes": 8})
    first = Pipeline(tmp_path).diagram(options)
    pointer, blob = _views_entry(tmp_path)
    again = Pipeline(tmp_path).diagram(options)  # a new build: nothing held in memory
    assert again.cached
    assert as_json(again.explorer) == as_json(first.explorer)
    for forged in ({"views": [{"key": 1}], "index": [], "aliases": []}, {"views": 3}, [1]):
        data = json.dumps(forged).encode()
        name = hashlib.sha256(data).hexdigest()
        (tmp_path / "blobs" / f"{name}.json").write_bytes(data)
        pointer.write_text(json.dumps({"blob": name}))
        rebuilt = Pipeline(tmp_path).diagram(options)
        assert as_json(rebuilt.explorer) == as_json(first.explorer), forged
    assert blob.is_file()
    # a well-formed entry with text no page can hold (a control, a lone surrogate): scrubbed
    view = {"key": "", "title": "a\x01b\ud800", "parent": None, "svg": "", "nodes": {}}
    data = json.dumps({"views": [view], "index": [], "aliases": []}).encode()
    name = hashlib.sha256(data).hexdigest()
    (tmp_path / "blobs" / f"{name}.json").write_bytes(data)
    pointer.write_text(json.dumps({"blob": name}))
    (title,) = [v.title for v in Pipeline(tmp_path).diagram(options).explorer.views]
    assert title == "ab\ufffd"
