"""The Sphinx front end, built for real: HTML, LaTeX, text, man; MyST; -j 2; errors.

Each test root (tests/roots/test-*) is copied to its own directory, so its
diagram cache (``.model-diagram-cache`` next to conf.py) belongs to that test.
Tests that build one root several ways share the copy on purpose (a warm cache
is faster and is itself part of what is tested). The worker is per process, so
only the first test and the ``-j 2`` readers pay the torch import.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from pypdf import PdfReader
from sphinx.errors import ConfigError, ExtensionError
from sphinx.testing.util import SphinxTestApp

from model_diagram.cache import Cache
from model_diagram.html import CSS_NAME, stylesheet
from model_diagram.options import OPTIONS
from model_diagram.scan import scan
from model_diagram.sphinx_ext import model_diagram, scanned_misses

Build = Callable[..., SphinxTestApp]


@pytest.fixture
def build(make_app: Build, rootdir: Path, tmp_path: Path) -> Build:
    """``build(root, builder, srcdir=..., reads=[], **app_kwargs)``: copy the root once,
    build, return the app (``reads`` collects the documents Sphinx re-read).

    The previous app of the test is cleaned up first: two live apps in one process
    would register Sphinx's nodes twice and warn about it.
    """
    apps: list[SphinxTestApp] = []

    def run(
        root: str,
        buildername: str = "html",
        *,
        srcdir: Path | None = None,
        reads: list[str] | None = None,
        **kwargs: Any,
    ) -> SphinxTestApp:
        src = srcdir or tmp_path / root
        if not src.exists():
            shutil.copytree(rootdir / f"test-{root}", src)
        while apps:
            apps.pop().cleanup()
        app = make_app(buildername, srcdir=src, **kwargs)
        apps.append(app)
        if reads is not None:
            app.connect("env-before-read-docs", lambda app, env, docnames: reads.extend(docnames))
        app.build()
        return app

    return run


def page(app: SphinxTestApp, name: str) -> BeautifulSoup:
    return BeautifulSoup((app.outdir / f"{name}.html").read_text("utf-8"), "lxml")


def body(app: SphinxTestApp, name: str) -> Tag:
    found = page(app, name).select_one("div.body")
    assert found is not None
    return found


def by_label(soup: BeautifulSoup | Tag) -> dict[str, Tag]:
    """Inline SVGs by their accessible name (the ``alt`` option, else caption or model)."""
    return {svg["aria-label"]: svg for svg in soup.select("svg.model-diagram-svg")}


def texts(svg: Tag) -> list[str]:
    return [t.get_text().strip() for t in svg.find_all("text")]


def classes(svg: Tag) -> set[str]:
    return {c for g in svg.find_all("g") for c in g.get("class") or ()}


def size(svg: Tag) -> tuple[float, float]:
    return float(svg["width"].rstrip("pt")), float(svg["height"].rstrip("pt"))


def nodes_of(app: SphinxTestApp) -> list[model_diagram]:
    return [
        node
        for docname in sorted(app.env.found_docs)
        for node in app.env.get_doctree(docname).findall(model_diagram)
    ]


def _as_list(value: int | list[int]) -> list[int]:
    return value if isinstance(value, list) else [value]


def warnings(app: SphinxTestApp) -> str:
    return app.warning.getvalue()


# -- HTML: every option, figures, numref, MyST


@pytest.mark.sphinx("html", testroot="model-diagram", srcdir="md-main")
def test_html_figures_numref_and_myst(app: SphinxTestApp) -> None:
    app.build()
    assert warnings(app) == ""
    assert app.statuscode == 0
    figures = body(app, "figures")

    cnn = figures.select_one("figure#fig-cnn")
    assert cnn is not None
    assert {"model-diagram", "wide", "framed", "align-right"} <= set(cnn["class"])
    assert cnn["style"] == "width: 80%"
    svg = cnn.select_one("div.model-diagram-canvas > svg")
    assert svg["aria-label"] == "Small CNN architecture"
    assert {"Conv2d", "MaxPool2d", "Linear", "(2, 3, 32, 32)", "(2, 16, 32, 32)"} <= set(texts(svg))
    caption = cnn.figcaption
    assert caption.select_one(".caption-number").get_text().strip() == "Fig. 1"
    assert caption.em.get_text() == "small"
    assert "A legend paragraph." in caption.get_text()

    refs = {a.get_text(): a["href"] for a in figures.select("a.reference.internal")}
    assert refs["Fig. 1"] == "#fig-cnn"  # :numref:
    assert refs["The small CNN."] == "#fig-cnn"  # :ref:
    assert refs["the recommender"] == "#fig-rec"

    rec = figures.select_one("figure#fig-rec")
    assert rec.figcaption.code.get_text() == ":caption:"
    rec_svg = rec.svg
    assert rec_svg["aria-label"] == "The recommender, from :caption:."  # markup stripped
    assert {"Embedding", "cat", "x['user_id']", "x['hist']", "(2, 10, 16)"} <= set(texts(rec_svg))
    width, height = size(rec_svg)
    assert width > 3 * height  # direction: LR

    # a :name: without caption is still a numbered figure, captioned with its alt text
    named = figures.select_one("figure#fig-named")
    assert named.figcaption.get_text(" ", strip=True).startswith("Fig. 3 Sequential architecture")
    assert refs["Fig. 3"] == "#fig-named"

    # the same diagram three times on one page: ids stay unique
    ids = [el["id"] for el in figures.select("svg [id]")]
    assert len(ids) == len(set(ids))
    assert len(figures.select("figure.model-diagram")) == 5
    plain = figures.select("figure.model-diagram:not([id])")
    assert len(plain) == 2 and all(f.figcaption is None for f in plain)

    # MyST: a fenced directive with options and a caption; {numref} resolves
    myst = body(app, "myst")
    fig = myst.select_one("figure#fig-transformer")
    assert fig.svg["aria-label"] == "Tiny transformer"
    assert {"MultiheadAttention", "LayerNorm", "input_ids"} <= set(texts(fig.svg))
    assert "md-repeat" in classes(fig.svg)  # depth 2 collapses the four blocks
    assert fig.figcaption.strong.get_text() == "MyST"
    number = fig.select_one(".caption-number").get_text().strip()
    assert myst.select_one('a[href="#fig-transformer"]').get_text() == number

    # the layers are in the search index: a search for a layer type finds its page
    script = (app.outdir / "searchindex.js").read_text("utf-8")
    index = json.loads(script[script.index("(") + 1 : script.rindex(")")])
    figures_doc = index["docnames"].index("figures")
    assert figures_doc in _as_list(index["terms"]["conv2d"])
    assert index["docnames"].index("myst") in _as_list(index["terms"]["multiheadattent"])

    # the stylesheet ships with the site and every page links it (no CDN)
    assert (app.outdir / "_static" / CSS_NAME).read_text("utf-8") == stylesheet()
    for name in ("index", "figures", "options", "myst"):
        links = [link["href"] for link in page(app, name).select("link[rel=stylesheet]")]
        assert any(href.startswith(f"_static/{CSS_NAME}") for href in links), name
    assert "http" not in (app.outdir / "_static" / CSS_NAME).read_text("utf-8")


@pytest.mark.sphinx("html", testroot="model-diagram", srcdir="md-main")
def test_every_option_reaches_the_output(app: SphinxTestApp) -> None:
    app.build()
    assert warnings(app) == ""
    found = by_label(body(app, "options"))

    assert "(2, 7)" in texts(found["opt-factory-kwargs"])
    assert {"(2, 8)", "(2, 6)", "add"} <= set(texts(found["opt-inputs"]))
    assert "(3, 8)" in texts(found["opt-input-size"])
    assert "(5, 8)" in texts(found["opt-input-factory"])

    shallow = texts(found["opt-depth-1"])
    assert "Sequential" in shallow and "Conv2d" not in shallow
    assert not any(t.startswith("(") for t in shallow)  # show-shapes: false
    assert {"md-cluster", "md-tensor"} <= classes(found["opt-expand-nested"])
    functions = found["opt-hide-module-functions"]
    assert "md-function" in classes(functions) and "md-module" not in classes(functions)
    assert "md-repeat" not in classes(found["opt-collapse-repeats"])
    assert "blocks.3.norm1" in texts(found["opt-collapse-repeats"])
    assert texts(found["opt-roll"]).count("Linear") == 1
    assert texts(found["opt-unrolled"]).count("Linear") == 3
    assert "one_hot" in texts(found["opt-device-cpu"])  # data-dependent: traced on CPU

    annotated = found["opt-annotations"]
    assert "144 params" in texts(annotated)  # show-params
    assert "(2, 8) float32" in texts(annotated)  # show-dtypes
    assert "md-legend" in classes(annotated)  # legend

    table = found["opt-annotations"].find_parent("figure").select_one("details.model-diagram-table")
    assert {"Linear", "ReLU"} <= {td.get_text() for td in table.select("td")}  # table

    # link-classes: nodes of a class documented in the site link to it; others lose the link
    linked = found["opt-link-classes"]
    hrefs = [a.get("xlink:href") or a.get("href") for a in linked.find_all("a")]
    assert hrefs.count("#example_project.models.EncoderBlock") == 4
    assert not found["opt-no-links"].find_all("a", attrs={"xlink:href": True})
    for name in ("index", "figures", "options", "myst"):
        assert "#md-class:" not in str(body(app, name)), name

    nodes = {node["options"].alt: node["options"] for node in nodes_of(app)}
    assert nodes["opt-device-cpu"].mode == "train" and nodes["opt-device-cpu"].timeout == 60
    assert nodes["opt-input-factory"].batch_size == 4
    assert nodes["opt-input-factory"].seq_length == 12
    assert nodes["opt-input-factory"].input_provider == "auto"
    # model_diagram_defaults apply under the directive's options
    assert nodes["opt-inputs"].hide_module_functions is True
    assert nodes["opt-hide-module-functions"].hide_module_functions is False


SELF_EXPLAINED = {
    "factory",
    "factory-kwargs",
    "input",
    "inputs",
    "kwargs",
    "extra-kwargs",  # forward keywords an MLP lacks: see test_real_models.py
    "input-size",
    "input-factory",
    "input-provider",
    "compare-to",  # needs a matching snapshot: see test_diff.py
}  # need a matching model: see options.rst


def test_every_schema_option_reaches_its_node(make_app: Build, tmp_path: Path) -> None:
    """Generated from the schema, so an option added to options.py is covered at once:
    each option's documented example, on a small model, builds without a warning and
    arrives in the node with the value the schema parses."""
    src = tmp_path / "every-option"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["model_diagram"]\n', "utf-8")
    cases = [(name, OPTIONS[name].example) for name in OPTIONS if name not in SELF_EXPLAINED]
    # a bare flag means true for every boolean option
    cases += [(name, "") for name, spec in OPTIONS.items() if spec.type.startswith("bool")]
    lines = ["Every option", "============", ""]
    for name, value in cases:
        lines += [".. model-diagram:: models:make_mlp", "   :input: float[2,8]"]
        lines += [f"   :{name}: {value}".rstrip(), ""]
    (src / "index.rst").write_text("\n".join(lines), "utf-8")
    app = make_app("html", srcdir=src)
    app.build()
    assert warnings(app) == ""
    found = nodes_of(app)
    assert len(found) == len(cases)
    for (name, value), node in zip(cases, found, strict=True):
        spec = OPTIONS[name]
        assert "error" not in node, name
        expected = spec.from_string(value) if value else True
        assert getattr(node["options"], spec.attr) == expected, name
    assert len(body(app, "index").select("figure.model-diagram")) == len(cases)


# -- other builders sharing the same doctrees


def _png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int(struct.unpack(">I", data[16:20])[0])


def test_latex_img_and_other_builders(build: Build, tmp_path: Path) -> None:
    src = tmp_path / "md-builders"
    # the engine default comes from config (the CNN's directive says auto); every diagram
    # not asking for PNG is a vector PDF, whatever the engine
    latex = build(
        "model-diagram",
        "latex",
        srcdir=src,
        confoverrides={
            "model_diagram_defaults": {"hide-module-functions": True, "engine": "graphviz-pure"}
        },
    )
    assert warnings(latex) == ""
    (tex_file,) = latex.outdir.glob("*.tex")
    tex = tex_file.read_text("utf-8")
    included = re.findall(r"\\sphinxincludegraphics(?:\[([^\]]*)\])?\{([^}]+)\}", tex)
    assert len(included) == len(nodes_of(latex)) == 21
    for _, name in included:
        assert (latex.outdir / name).is_file(), name
    pdfs = [name for _, name in included if name.endswith(".pdf")]
    pngs = [name for _, name in included if name.endswith(".png")]
    assert len(pdfs) + len(pngs) == len(included)
    assert len(pngs) == sum(1 for node in nodes_of(latex) if node["options"].format == "png")
    for name in pdfs:
        reader = PdfReader(latex.outdir / name)
        for font in reader.pages[0]["/Resources"]["/Font"].values():
            assert "/FontFile2" in font.get_object()["/FontDescriptor"].get_object()
    pdf_texts = [PdfReader(latex.outdir / name).pages[0].extract_text() for name in pdfs]
    assert any("Conv2d" in text and "MaxPool2d" in text for text in pdf_texts)  # the CNN
    assert r"[width=0.800\linewidth]" in tex  # :width: 80%
    assert r"\label{\detokenize{figures:fig-cnn}}" in tex
    assert r"\ref{\detokenize{figures:fig-cnn}}" in tex  # :numref:
    assert r"\caption{The \sphinxstyleemphasis{small} CNN.}" in tex
    widths = {
        name: _png_width((latex.outdir / name).read_bytes())
        for _, name in included
        if name.endswith(".png")
    }
    # the one PNG is the MLP asked for at dpi 40: its pixels are its size in pt at 40 dpi
    (png_node,) = [node for node in nodes_of(latex) if node["options"].format == "png"]
    assert png_node["options"].dpi == 40
    width_pt = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', png_node["svg"])[1])
    (png_width,) = widths.values()
    assert abs(png_width - width_pt * 40 / 72) <= 2

    img = build(
        "model-diagram",
        srcdir=src,
        builddir=tmp_path / "img-build",
        confoverrides={"model_diagram_embed": "img"},
    )
    assert warnings(img) == ""
    figures = body(img, "figures")
    assert figures.select("svg") == []
    images = figures.select("figure.model-diagram img.model-diagram-img")
    assert len(images) == 5
    assert images[0]["alt"] == "Small CNN architecture"
    for image in [*images, *body(img, "options").select("img.model-diagram-img")]:
        path = (img.outdir / image["src"]).resolve()
        assert path.is_file() and path.is_relative_to(img.outdir / "_images")
    first = (img.outdir / images[0]["src"]).read_text("utf-8")
    assert first.startswith("<?xml") and "Conv2d" in first
    assert re.match(r"_images/model-diagram-[0-9a-f]{20}\.svg$", images[0]["src"])
    png = body(img, "options").select_one('img[alt="opt-engine-png"]')
    assert png["src"].endswith(".png")

    text = build("model-diagram", "text", srcdir=src)
    assert warnings(text) == ""
    options = (text.outdir / "options.txt").read_text("utf-8")
    assert "opt-factory-kwargs" in options and "<svg" not in options
    figures_txt = (text.outdir / "figures.txt").read_text("utf-8")
    assert "Small CNN architecture" in figures_txt and "Sequential architecture" in figures_txt

    man = build("model-diagram", "man", srcdir=src)
    assert warnings(man) == ""
    manpage = next(man.outdir.glob("*.1")).read_text("utf-8")
    assert "Tiny transformer" in manpage

    texinfo = build("model-diagram", "texinfo", srcdir=src)
    assert warnings(texinfo) == ""
    assert "opt-roll" in next(texinfo.outdir.glob("*.texi")).read_text("utf-8")
    for name in ("xml", "dummy", "dirhtml"):
        assert warnings(build("model-diagram", name, srcdir=src)) == "", name

    single = build("model-diagram", "singlehtml", srcdir=src)
    assert warnings(single) == ""
    whole = page(single, "index")
    ids = [el["id"] for el in whole.select("svg [id]")]
    assert len(ids) == len(set(ids))  # 21 diagrams, some identical, on one page
    assert len(whole.select("svg.model-diagram-svg")) == 21
    hrefs = {a.get("xlink:href") for a in whole.select("svg a") if a.get("xlink:href")}
    assert hrefs == {"#example_project.models.EncoderBlock"}


EPUB_PAGE = """\
E-book
======

.. model-diagram:: models:make_mlp
   :input: float[2,8]
   :table:

.. model-diagram:: models:make_mlp
   :input: float[2,8]
   :format: drawio
   :caption: An editable drawing.

.. model-diagram:: models:make_raises
   :name: fig-raises
"""


def test_epub_pages_are_well_formed_xhtml(build: Build, tmp_path: Path) -> None:
    """EPUB readers parse pages as XML: a bare attribute (``download``) broke every page
    with a diagram, and a download link pointed at a file EPUB cannot list."""
    src = tmp_path / "ebook"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["model_diagram"]\n', "utf-8")
    (src / "index.rst").write_text(EPUB_PAGE, "utf-8")
    overrides = {"version": "1", "copyright": "2026, tests"}
    html = build("ebook", srcdir=src, confoverrides=overrides)
    assert len(body(html, "index").select(".model-diagram-download a[download]")) == 1
    epub = build("ebook", "epub", srcdir=src, confoverrides=overrides)
    log = warnings(epub)
    assert "unknown mimetype" not in log
    assert [line for line in log.splitlines() if "WARNING" in line] == [
        line for line in log.splitlines() if "make_raises" in line
    ], log
    page = ET.parse(epub.outdir / "index.xhtml").getroot()  # raises if not well formed
    svgs = page.findall(".//{http://www.w3.org/2000/svg}svg")
    assert len(svgs) == 2
    assert page.findall(".//{http://www.w3.org/1999/xhtml}a[@download]") == []
    assert page.find(".//*[@id='fig-raises']") is not None


# -- incremental and parallel builds


def traced(app: SphinxTestApp) -> int:
    """Diagrams the build's own worker traced."""
    return app.env.model_diagram_build.pipeline.traced  # type: ignore[attr-defined, no-any-return]


def test_incremental_rebuilds_follow_model_files(build: Build, tmp_path: Path) -> None:
    src = tmp_path / "incremental"
    seen: list[str] = []
    first = build("incremental", srcdir=src, reads=seen)
    assert sorted(seen) == ["index", "one", "three", "two"]
    assert warnings(first) == ""
    assert "(2, 16)" in texts(body(first, "one").svg)
    deps = first.env.dependencies
    assert any(Path(p).name == "md_incr_one.py" for p in deps["one"])
    # traced while the pages were written, after Sphinx saved the environment: it was
    # saved again with the dependencies, which is what the rebuilds below read
    saved = pickle.loads((Path(first.doctreedir) / "environment.pickle").read_bytes())
    assert any(Path(p).name == "md_incr_one.py" for p in saved.dependencies["one"])
    assert not any(Path(p).name == "md_incr_one.py" for p in deps["two"])

    seen = []
    second = build("incremental", srcdir=src, reads=seen)
    assert seen == []  # nothing re-read ...
    assert traced(second) == 0  # ... and nothing traced

    model = src / "md_incr_one.py"
    # a different size too, so the worker cannot reuse a stale .pyc from the same second
    model.write_text(model.read_text("utf-8").replace("Linear(8, 16)", "Linear(8, 128)"))
    edited = build("incremental", srcdir=src, reads=seen)
    assert seen == ["one"]  # exactly the page that uses the model
    assert traced(edited) == 1
    assert "(2, 128)" in texts(body(edited, "one").svg)
    assert "(2, 4)" in texts(body(edited, "two").svg)
    assert warnings(edited) == ""


def test_parallel_build_matches_serial(build: Build, tmp_path: Path) -> None:
    serial = build("parallel", srcdir=tmp_path / "serial")
    parallel = build("parallel", srcdir=tmp_path / "parallel", parallel=2)
    assert warnings(serial) == "" and warnings(parallel) == ""
    assert parallel.parallel == 2
    pages = ["index", "vision", "recommender", "small"]
    assert sum(len(body(serial, p).select("svg.model-diagram-svg")) for p in pages) == 7
    for name in pages:
        assert str(body(parallel, name)) == str(body(serial, name)), name
    records = parallel.env.model_diagram_records
    assert {d: len(r) for d, r in records.items()} == {"vision": 2, "recommender": 2, "small": 3}

    # with -j the main process traces before the readers fork, so readers read the cache
    def unflagged(recs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        return {
            d: [{k: v for k, v in r.items() if k != "traced"} for r in rs] for d, rs in recs.items()
        }

    assert unflagged(records) == unflagged(serial.env.model_diagram_records)
    assert not any(r["traced"] for rs in records.values() for r in rs)
    assert "7 diagram(s) on 3 page(s): 7 traced" in parallel.status.getvalue()


def test_parallel_readers_count_the_diagrams_they_trace(build: Build, tmp_path: Path) -> None:
    """A figure with only ``:name:`` waits for its model's name while its page is read,
    so a ``-j`` reader traces it itself: those traces were counted as cache hits."""
    src = tmp_path / "named"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["model_diagram"]\n', "utf-8")
    pages = [f"p{n}" for n in range(6)]  # Sphinx reads in parallel from six pages
    toctree = "".join(f"   {name}\n" for name in pages)
    (src / "index.rst").write_text(f"Named\n=====\n\n.. toctree::\n\n{toctree}", "utf-8")
    for n, name in enumerate(pages):
        (src / f"{name}.rst").write_text(
            f"Page {n}\n======\n\n.. model-diagram:: models:make_mlp\n"
            f"   :input: float[{n + 2},8]\n   :name: fig-{name}\n",
            "utf-8",
        )
    app = build("named", srcdir=src, parallel=2)
    assert warnings(app) == ""
    assert "6 diagram(s) on 6 page(s): 6 traced" in app.status.getvalue(), app.status.getvalue()


def test_parallel_prescan_finds_nested_directives(build: Build, tmp_path: Path) -> None:
    """D17: with ``-j 2`` directives in containers or with options over several lines
    are traced once, before the readers fork: no reader starts a worker of its own."""
    app = build("parallel-nested", srcdir=tmp_path / "nested", parallel=2)
    assert warnings(app) == ""
    records = app.env.model_diagram_records
    assert sorted(records) == [f"p{i}" for i in range(1, 7)]
    assert all(len(r) == 1 for r in records.values())
    assert not any(r["traced"] for rs in records.values() for r in rs), records
    assert app.env.model_diagram_pretraced == 6
    for name in records:
        assert len(body(app, name).select("svg.model-diagram-svg")) == 1, name


def test_warm_build_never_imports_torch(build: Build, tmp_path: Path) -> None:
    """A fresh process builds every page of a site whose diagrams are all cached."""
    src = tmp_path / "warm"
    cold = build("single", srcdir=src)
    assert warnings(cold) == ""
    # the scan that starts the worker early sees a miss only where there is one
    page = [Path(cold.env.doc2path("index"))]
    filled = Cache(Path(cold.config.model_diagram_cache_dir))
    assert next(scanned_misses(filled, cold.config, page), None) is None
    empty = Cache(tmp_path / "empty-cache")
    assert next(scanned_misses(empty, cold.config, page), None) is not None
    script = f"""
import io, json, sys
from sphinx.application import Sphinx
out = io.StringIO()
app = Sphinx({str(src)!r}, {str(src)!r}, sys.argv[1], sys.argv[1] + "-doctrees", "html",
             status=out, warning=out)
app.build()
started = app.env.model_diagram_build.pipeline.worker_started
print(json.dumps({{"torch": "torch" in sys.modules, "workers": int(started),
                  "status": app.statuscode, "log": out.getvalue()}}))
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))

    def warm_build(attempt: int) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"warm-{attempt}")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    report = warm_build(0)
    if "0 traced" not in report["log"]:
        # cache keys hash model_diagram's own sources: if they changed since the cold
        # build (a shared checkout being edited), that run re-traced; this one must not
        report = warm_build(1)
    assert report["status"] == 0
    assert "2 diagram(s) on 1 page(s): 0 traced, 2 from the cache" in report["log"]
    assert "WARNING" not in report["log"]
    assert report["torch"] is False
    assert report["workers"] == 0


def scan_directives(text: str, *, markdown: bool) -> list[dict[str, Any]]:
    return [dict(block.values) for block in scan(text, "myst" if markdown else "rst")]


def test_scan_reads_what_the_parser_reads() -> None:
    """Directives in code are examples; multi-line options and MyST's ``---`` options
    are read as the parsers read them (see test_scan.py for the full corpus)."""
    rst = """
.. model-diagram:: models:make_mlp
   :input: float[2,8]
   :depth: 2

   Caption.

.. code-block:: rst

   .. model-diagram:: models:make_branchy
      :input: float[2,8]

.. model-diagram:: models:make_cnn
   :input: {a: 1,
      b: 2}
"""
    assert scan_directives(rst, markdown=False) == [
        {"factory": "models:make_mlp", "input": "float[2,8]", "depth": "2"},
        {"factory": "models:make_cnn", "input": "{a: 1,\nb: 2}"},
    ]
    myst = """
```{model-diagram} models:make_mlp
:input: float[2,8]

Caption.
```

````md
```{model-diagram} models:make_branchy
:input: float[2,8]
```
````

```{model-diagram} models:make_two_inputs
---
inputs: [float[2,8], float[2,6]]
---
```

:::{model-diagram} models:make_branchy
:input: float[2,8]
:::
"""
    assert scan_directives(myst, markdown=True) == [
        {"factory": "models:make_mlp", "input": "float[2,8]"},
        {"factory": "models:make_two_inputs", "inputs": "[float[2,8], float[2,6]]"},
        {"factory": "models:make_branchy", "input": "float[2,8]"},
    ]


# -- errors


ERRORS = {  # line of the directive in test-errors/index.rst -> warning type
    14: "option",
    18: "input",
    21: "import",
    24: "import",
    27: "trace",
    33: "render",
}


def test_each_error_is_a_typed_located_warning(build: Build, tmp_path: Path) -> None:
    src = tmp_path / "errors"
    app = build("errors", srcdir=src)
    log = warnings(app)
    assert "Traceback" not in log + app.status.getvalue()
    for line, kind in ERRORS.items():
        pattern = rf"index\.rst:{line}: WARNING: model-diagram: .*\[model_diagram\.{kind}\]"
        assert re.search(pattern, log), (line, kind, log)
    assert len(log.strip().splitlines()) == len(ERRORS)  # the numref to the broken figure works
    assert "did you mean 'depth'" in log
    assert "cannot import 'nomodule:make' (No module named 'nomodule')" in log
    assert "factory exploded" in log
    assert "bad forward: shape mismatch" in log
    assert "nothing to draw" in log

    index = body(app, "index")
    placeholders = index.select("div.model-diagram-error")
    assert len(placeholders) == len(ERRORS)
    kinds = [p.p.get_text() for p in placeholders]
    assert [k.rsplit("(", 1)[1] for k in kinds] == [f"{k} error)" for k in ERRORS.values()]
    assert "nomodule:make" in kinds[2]
    broken = index.select_one("figure#fig-broken")
    assert broken.select_one("div.model-diagram-error") is not None
    assert "A figure whose model fails." in broken.figcaption.get_text()
    assert list(by_label(index)) == ["the working one"]  # the rest of the page builds
    assert "Linear" in texts(by_label(body(app, "fine"))["Branchy architecture"])

    # pages with failed diagrams are read again on the next build (cached failures
    # come back from the cache), so their warnings do not vanish;
    # -W turns each into a failure
    strict = build("errors", srcdir=src, warningiserror=True)
    assert strict.statuscode == 1
    assert len(warnings(strict).strip().splitlines()) == len(ERRORS)

    quiet = build(
        "errors",
        srcdir=src,
        freshenv=True,
        confoverrides={"suppress_warnings": ["model_diagram.trace"]},
    )
    assert "[model_diagram.trace]" not in warnings(quiet)
    assert "[model_diagram.import]" in warnings(quiet)

    text = build("errors", "text", srcdir=src, freshenv=True)
    index_txt = (text.outdir / "index.txt").read_text("utf-8")
    assert "model-diagram: no diagram for nomodule:make (import error)" in index_txt
    assert "the working one" in index_txt

    with pytest.raises(ExtensionError, match=r"index\.rst:14: model-diagram: .*option"):
        build(
            "errors",
            srcdir=src,
            freshenv=True,
            confoverrides={"model_diagram_on_error": "raise"},
        )


def test_unwritable_cache_warns_and_still_draws(build: Build, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    app = build(
        "single",
        srcdir=tmp_path / "cache",
        confoverrides={"model_diagram_cache_dir": str(blocker / "cache")},
    )
    log = warnings(app)
    assert re.search(r"index\.rst:4: WARNING: .*cannot write to the cache directory", log)
    assert "[model_diagram.cache]" in log
    assert "Linear" in texts(by_label(body(app, "index"))["Sequential architecture"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_diagram_defaults": {"dpeth": 2}}, r"model_diagram_defaults: .*mean 'depth'"),
        ({"model_diagram_defaults": {"depth": "deep"}}, r"model_diagram_defaults: .*'depth'"),
        ({"model_diagram_defaults": ["depth"]}, r"model_diagram_defaults: .*mapping"),
        ({"model_diagram_engine": "cairo"}, r"model_diagram_engine: .*auto, dot, graphviz-pure"),
        ({"model_diagram_timeout": -1}, r"model_diagram_timeout: .*positive"),
        ({"model_diagram_embed": "svg"}, r"model_diagram_embed: 'svg' is not one of inline, img"),
        ({"model_diagram_on_error": "ignore"}, r"model_diagram_on_error: 'ignore'"),
        ({"model_diagram_cache_dir": 3}, r"model_diagram_cache_dir: 3 is not a path"),
        ({"model_diagram_jobs": "two"}, r"model_diagram_jobs: 'two' is not a number"),
        ({"model_diagram_jobs": "0"}, r"model_diagram_jobs: 0 is not a number"),
        (
            {"model_diagram_preload": ["no_such_package_xyz"]},
            r"model_diagram_preload: no module named 'no_such_package_xyz' is installed",
        ),
        ({"model_diagram_preload": ["bad name"]}, r"model_diagram_preload: 'bad name' is not"),
        ({"model_diagram_preload": {"bs4": 1}}, r"model_diagram_preload: must be a list"),
        (
            {"model_diagram_engine": "dot", "model_diagram_defaults": {"engine": "graphviz-pure"}},
            r"model_diagram_engine: 'dot' contradicts 'engine': 'graphviz-pure' in "
            r"model_diagram_defaults; set it in one place",
        ),
    ],
)
def test_bad_config_names_the_key(
    make_app: Build, rootdir: Path, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app("html", srcdir=rootdir / "test-single", builddir=tmp_path, confoverrides=overrides)


def test_worker_settings_from_the_command_line(
    make_app: Build, rootdir: Path, tmp_path: Path
) -> None:
    """``-D model_diagram_jobs=1`` and ``-D model_diagram_preload=bs4,json`` arrive as
    text: read as the number and the module names they give."""
    srcdir = tmp_path / "test-single"  # a copy: configuring may write the cache's memo
    shutil.copytree(rootdir / "test-single", srcdir)
    app = make_app(
        "html",
        srcdir=srcdir,
        builddir=tmp_path / "build",
        confoverrides={"model_diagram_jobs": "1", "model_diagram_preload": "bs4, json"},
    )
    assert app.config.model_diagram_jobs == 1
    assert app.config.model_diagram_preload == ["bs4", "json"]
    app.cleanup()


def test_deprecated_engine_and_timeout_still_apply(build: Build, tmp_path: Path) -> None:
    """``model_diagram_engine``/``timeout`` keep old sites building, with a typed warning;
    the same value under ``model_diagram_defaults`` too is no conflict."""
    app = build(
        "single",
        confoverrides={
            "model_diagram_engine": "graphviz-pure",
            "model_diagram_timeout": 90,
            "model_diagram_defaults": {"timeout": 90.0},
        },
    )
    log = warnings(app)
    for key in ("engine", "timeout"):
        notice = (
            f"WARNING: model_diagram_{key} is deprecated; set '{key}' in "
            "model_diagram_defaults instead [model_diagram.deprecated]"
        )
        assert log.count(notice) == 1, log
    assert len(log.strip().splitlines()) == 2, log
    options = [node["options"] for node in nodes_of(app)]
    assert len(options) == 2
    assert all(o.engine == "graphviz-pure" and o.timeout == 90.0 for o in options)


def test_config_defaults_and_metadata(make_app: Build, rootdir: Path, tmp_path: Path) -> None:
    # a copy: configuring looks the pages' diagrams up, which may write the cache's
    # local memo files, and nothing may land in the source tree
    srcdir = tmp_path / "test-single"
    shutil.copytree(rootdir / "test-single", srcdir)
    app = make_app("html", srcdir=srcdir, builddir=tmp_path / "build")
    default = srcdir / ".model-diagram-cache"
    assert app.config.model_diagram_cache_dir == str(default)
    assert app.config.model_diagram_embed == "inline"
    assert app.config.model_diagram_on_error == "warn"
    ext = app.extensions["model_diagram"]
    assert ext.parallel_read_safe is True and ext.parallel_write_safe is True
    app.cleanup()
    relative = make_app(
        "html",
        srcdir=srcdir,
        builddir=tmp_path / "build",
        confoverrides={"model_diagram_cache_dir": "_cache"},
    )
    assert relative.config.model_diagram_cache_dir == str(srcdir / "_cache")


def test_front_end_never_imports_torch() -> None:
    code = "import sys, model_diagram.sphinx_ext; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_config_timeout_is_the_default(rootdir: Path, tmp_path: Path) -> None:
    """In a process of its own: the timeout kills that build's worker, not the one the
    other tests share, so this test runs in any order."""
    src = tmp_path / "timeout"
    shutil.copytree(rootdir / "test-timeout", src)
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
    )
    assert done.returncode == 0, done.stderr
    log = done.stderr
    timed_out = r"index\.rst:4: WARNING: .*timed out after 1.5 s.*\[model_diagram\.trace\]"
    assert re.search(timed_out, log), log
    assert len(log.strip().splitlines()) == 1, log
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text("utf-8"), "lxml")
    assert "Linear" in texts(by_label(soup)["Sequential architecture"])


def test_factory_only_directives_use_the_input_providers(build: Build, tmp_path: Path) -> None:
    """Issue 8 through the directive: Torch-RecHub, Lightning and transformers models."""
    app = build("providers")
    svgs = by_label(body(app, "index"))
    assert "Embedding" in texts(svgs["DeepFM"]) and "x['" in " ".join(texts(svgs["DeepFM"]))
    assert {"DSSM", "MMOE", "Lightning", "BERT"} <= set(svgs)
    bert = " ".join(texts(svgs["BERT"]))
    assert "input_ids" in bert and "(2, 12)" in bert and "embeddings.word_embeddings" in bert
    log = warnings(app)
    assert "Unguessable" not in svgs
    assert re.search(
        r"index\.rst:\d+: WARNING: .*none could be guessed for ConvFirst.*"
        r"input: 'float\[2,3,32,32\]'.*\[model_diagram\.input\]",
        log,
    ), log
    assert len(log.strip().splitlines()) == 1
