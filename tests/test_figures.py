"""Figures for papers and slides: colours, sizes, print width, fonts, input names, formats.

Real worker, real trace, real cache; the SVG (and PNG/PDF) is parsed and measured.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import model_diagram
from model_diagram import cli
from model_diagram.errors import OptionError
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline
from model_diagram.theme import PALETTE, contrast

SVG = "{http://www.w3.org/2000/svg}"
CNN = {"factory": "models_styles:make_layered_cnn", "input": "float[1,3,224,224]"}
LENET = {"factory": "models_styles:make_lenet", "input": "float[1,3,128,128]"}
RECOMMENDER = {
    "factory": "example_project.models:make_recommender",
    "input": {"user_id": "long[2](0,1000)", "age": "float[2]", "hist": "long[2,10](0,1000)"},
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("cache"))


def draw(pipeline: Pipeline, **values: Any) -> ET.Element:
    return ET.fromstring(pipeline.diagram(parse_options(values)).svg)


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def layer_groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "md-layer" in classes(g)]


def front_height(group: ET.Element) -> float:
    front = next(p for p in group.iter(f"{SVG}polygon") if "md-front" in classes(p))
    ys = [float(pt.split(",")[1]) for pt in (front.get("points") or "").split()]
    return max(ys) - min(ys)


def text_fills(root: ET.Element) -> set[str]:
    return {t.get("fill") or "" for t in root.iter(f"{SVG}text")}


# -- colours


def test_colour_names_palettes_and_bare_hex_are_accepted() -> None:
    parsed = parse_options(
        {
            "factory": "a:b",
            "background": "orange",
            "text-color": "rebeccapurple",
            "line-color": "'#abc'",
            "palette": "okabe_ito",
            "color-map": {"Conv2d": "tomato"},
        }
    )
    assert parsed.background == "#ffa500"
    assert parsed.text_color == "#663399"
    assert parsed.line_color == "#aabbcc"
    assert parsed.palette == "okabe-ito"
    assert parsed.color_map == {"Conv2d": {"fill": "#ff6347"}}
    for name in ("tab10", "tol_muted", "grayscale", "nord", "catppuccin"):
        assert parse_options({"factory": "a:b", "palette": name}).palette == name.replace("_", "-")
    # strings as typed on a command line or in rST: '#hex' is not a YAML comment
    strings = parse_options(
        {
            "factory": "a:b",
            "background": "#222222",
            "palette": "[#fff, #000000]",
            "color-map": "{Conv2d: #56b4e9, Linear: {fill: #e69f00}}",
        },
        strings=True,
    )
    assert strings.background == "#222222"
    assert strings.palette == ["#ffffff", "#000000"]
    assert strings.color_map == {"Conv2d": {"fill": "#56b4e9"}, "Linear": {"fill": "#e69f00"}}
    with pytest.raises(OptionError, match="did you mean orange"):
        parse_options({"factory": "a:b", "background": "orang"})
    with pytest.raises(OptionError, match="tab10"):
        parse_options({"factory": "a:b", "palette": "rainbow"})


@pytest.mark.parametrize("style", ["layered", "lenet"])
def test_dark_background_gets_light_text_and_lines(pipeline: Pipeline, style: str) -> None:
    root = draw(pipeline, **LENET, style=style, legend=True, background="#222222")
    ink = PALETTE["--model-diagram-ink"][1]
    assert text_fills(root) == {ink}
    assert contrast(ink, "#222222") >= 4.5
    css = "".join(s.text or "" for s in root.iter(f"{SVG}style"))
    # pinned on the figure: a light page theme cannot turn the text dark again
    assert f"--model-diagram-ink:{ink}" in css
    lines = [p for p in root.iter(f"{SVG}polyline") if "md-line" in classes(p)]
    assert lines and {p.get("stroke") for p in lines} == {PALETTE["--model-diagram-muted"][1]}


def test_explicit_text_and_line_colours(pipeline: Pipeline) -> None:
    root = draw(
        pipeline, **LENET, style="lenet", text_color="gold", line_color="#ff0000", legend=True
    )
    assert text_fills(root) == {"#ffd700"}
    lines = [p for p in root.iter(f"{SVG}polyline") if "md-line" in classes(p)]
    assert {p.get("stroke") for p in lines} == {"#ff0000"}


def test_graph_style_background_and_colours(pipeline: Pipeline) -> None:
    result = pipeline.diagram(
        parse_options({**LENET, "background": "black", "line-color": "#00ff00", "depth": 1})
    )
    root = ET.fromstring(result.svg)
    edges = [g for g in root.iter(f"{SVG}g") if "md-edge" in classes(g)]
    assert edges
    strokes = {p.get("stroke") for g in edges for p in g.iter(f"{SVG}path")}
    assert strokes == {"#00ff00"}
    assert any(
        p.get("fill") == "black" or p.get("fill") == "#000000" for p in root.iter(f"{SVG}polygon")
    )


# -- sizes


@pytest.mark.parametrize("scale", ["linear", "sqrt", "log"])
def test_size_scale_keeps_flatten_and_linear_apart(pipeline: Pipeline, scale: str) -> None:
    """Flatten (50,176 features), Linear (256) and Linear (10): the largest reaches
    max-xy, and all three stay visibly different (today's clipping drew 200 vs 192)."""
    root = draw(pipeline, **CNN, style="layered", size_scale=scale, draw_volume=False)
    by_shape = {g.get("data-shape"): front_height(g) for g in layer_groups(root)}
    flatten, hidden, out = by_shape["50176"], by_shape["256"], by_shape["10"]
    assert flatten == pytest.approx(200.0)
    assert flatten > (1.5 if scale == "log" else 2) * hidden
    assert hidden > out + 1 or scale == "linear"  # linear: 256 and 10 are both tiny next to 50k
    assert min(by_shape.values()) >= 12.0 - 0.01
    heights = [h for shape, h in by_shape.items() if "x" in shape]  # images: H grows with size
    assert len(set(heights)) > 1


def test_size_scale_leaves_figures_that_fit_alone(pipeline: Pipeline) -> None:
    """LeNet's sizes fit between min-xy and max-xy: the scale changes nothing."""
    root = draw(pipeline, **LENET, style="layered", draw_volume=False)
    heights = sorted({round(front_height(g), 2) for g in layer_groups(root)})
    assert heights == [round(12 * n**0.5, 2) for n in (32, 64, 128)]


@pytest.mark.parametrize("width", ["3.3in", "7in"])
def test_print_width_keeps_text_legible(pipeline: Pipeline, width: str) -> None:
    inches = float(width.removesuffix("in"))
    root = draw(pipeline, **CNN, style="lenet", print_width=width, legend=True)
    assert root.get("width") == f"{round(inches * 72, 2):g}pt"
    view = [float(v) for v in (root.get("viewBox") or "").split()]
    scale = inches * 72 / view[2]  # printed pt per SVG unit
    sizes = {float(t.get("font-size") or 0) * 0.75 for t in root.iter(f"{SVG}text")}
    assert min(sizes) * scale >= 7.0 - 0.05  # font-size is in px inside a 0.75 scale group


def test_print_width_png_and_pdf_have_the_printed_size(tmp_path: Path) -> None:
    diagram = model_diagram.render(
        CNN["factory"],
        input=CNN["input"],
        style="layered",
        print_width="85mm",
        cache_dir=tmp_path / "cache",
    )
    png = diagram.save(tmp_path / "x.png", dpi=300)
    from PIL import Image

    with Image.open(png) as image:
        assert abs(image.width - round(85 / 25.4 * 300)) <= 2
    from pypdf import PdfReader

    box = PdfReader(diagram.save(tmp_path / "x.pdf")).pages[0].mediabox
    assert abs(float(box.width) - 85 / 25.4 * 72) < 0.5


# -- fonts and input names


def test_font_family_is_measured_and_named_everywhere(pipeline: Pipeline, tmp_path: Path) -> None:
    legend = {"legend": True, "legend_position": "right"}
    sans = draw(pipeline, **LENET, style="lenet", **legend)
    serif = draw(pipeline, **LENET, style="lenet", font_family="times", **legend)
    mono = draw(pipeline, **LENET, style="lenet", font_family="monospace", **legend)
    family = {
        name: next(g.get("font-family") for g in root.iter(f"{SVG}g") if g.get("font-family"))
        for name, root in (("sans", sans), ("serif", serif), ("mono", mono))
    }
    assert "Helvetica" in family["sans"] and "Times" in family["serif"]
    assert "Courier" in family["mono"]
    widths = [float((r.get("viewBox") or "").split()[2]) for r in (serif, sans, mono)]
    assert widths[0] < widths[1] < widths[2]  # labels are measured in the chosen metrics
    options = parse_options({**LENET, "font-family": "serif", "depth": 1})
    dot = pipeline.diagram(options)
    assert "Times" in dot.svg
    pdf = Pipeline(tmp_path).diagram(
        parse_options({**LENET, "style": "lenet", "font-family": "serif"}), fmt="pdf"
    )
    assert b"PTSerif-Regular" in pdf.data and b"/FontFile2" in pdf.data  # an embedded serif
    with pytest.raises(OptionError, match="sans-serif, serif, monospace"):
        parse_options({"factory": "a:b", "font-family": "Comic Sans"})


@pytest.mark.parametrize("style", ["layered", "lenet"])
def test_dict_inputs_are_labelled_with_their_keys(pipeline: Pipeline, style: str) -> None:
    root = draw(pipeline, **RECOMMENDER, style=style)
    inputs = [g for g in layer_groups(root) if g.get("data-kind") == "input"]
    assert sorted(g.get("data-name") or "" for g in inputs) == ["age", "hist", "user_id"]
    labels = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for key in ("user_id", "age", "hist"):
        assert key in labels
    desc = "".join(d.text or "" for d in root.iter(f"{SVG}desc"))
    assert "Input user_id" in desc


def test_single_tensor_input_keeps_its_plain_label(pipeline: Pipeline) -> None:
    root = draw(pipeline, **LENET, style="lenet")
    assert "Input" in [t.text for t in root.iter(f"{SVG}text")]


# -- formats we cannot write


def test_unknown_extension_is_an_error_listing_formats(tmp_path: Path) -> None:
    diagram = model_diagram.render(
        LENET["factory"], input=LENET["input"], style="lenet", cache_dir=tmp_path / "cache"
    )
    with pytest.raises(OptionError, match=r"'\.docx'.*use a \.svg, \.png or \.pdf"):
        diagram.save(tmp_path / "cnn.docx")
    assert not (tmp_path / "cnn.docx").exists()
    with pytest.raises(OptionError, match="must be one of svg, png"):
        parse_options({**LENET, "format": "docx"})


def test_cli_refuses_an_unknown_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cnn.docx"
    code = cli.main(["render", LENET["factory"], "--input", LENET["input"], "-o", str(out)])
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err
    assert "cannot write" in err and ".svg, .png or .pdf" in err


def test_cli_reads_unquoted_hex(tmp_path: Path) -> None:
    out = tmp_path / "dark.svg"
    args = ["render", LENET["factory"], "--input", LENET["input"], "--style", "lenet"]
    args += ["--background", "#222222", "--palette", "[#ff0000, #00ff00]", "-o", str(out)]
    assert cli.main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    root = ET.fromstring(out.read_text("utf-8").split("\n", 1)[1])
    assert text_fills(root) == {PALETTE["--model-diagram-ink"][1]}
    fills = {p.get("fill") for p in root.iter(f"{SVG}polygon") if "md-front" in classes(p)}
    assert "#ff0000" in fills


# -- editable exports

DRAWIO_STYLES = ["graph", "layered", "lenet"]
LENET_TYPES = ["Input", "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d"]
#: the graph style also draws the output tensor
GRAPH_NAMES = ["input", "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "output"]


def counts(style: str) -> tuple[int, int]:
    """(layers, connections) of the LeNet model in a style."""
    return (6, 5) if style == "graph" else (5, 4)


def _export(pipeline: Pipeline, style: str, fmt: str, **values: Any) -> bytes:
    options = parse_options({**LENET, "style": style, "depth": 1, **values})
    return pipeline.diagram(options, fmt=fmt).data


@pytest.mark.parametrize("style", DRAWIO_STYLES)
def test_drawio_has_one_cell_per_layer_and_edge(pipeline: Pipeline, style: str) -> None:
    root = ET.fromstring(_export(pipeline, style, "drawio", legend=True))
    assert root.tag == "mxfile"
    cells = root.findall("./diagram/mxGraphModel/root/mxCell")
    vertices = [c for c in cells if c.get("vertex") == "1"]
    edges = [c for c in cells if c.get("edge") == "1"]
    assert (len(vertices), len(edges)) == counts(style)
    if style == "graph":
        firsts = [(c.get("value") or "").split("\n")[0].split()[0] for c in vertices]
        assert firsts == GRAPH_NAMES
    else:
        assert [(c.get("tooltip") or "").split(" (")[0] for c in vertices] == LENET_TYPES
    ids = {c.get("id") for c in vertices}
    assert all(e.get("source") in ids and e.get("target") in ids for e in edges)
    geometry = [c.find("mxGeometry") for c in vertices]
    xs = [float(g.get("x") or 0) for g in geometry if g is not None]
    if style != "graph":  # left to right, as drawn
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
        styles = [c.get("style") or "" for c in vertices]
        assert "fillColor=#e69f00" in styles[1]  # our palette's first colour: Conv2d
        assert ("shape=cube" in styles[1]) == (style == "layered")
    else:
        ys = [float(g.get("y") or 0) for g in geometry if g is not None]
        assert ys == sorted(ys) and len(set(ys)) == len(
            ys
        )  # top to bottom, as Graphviz placed them


@pytest.mark.parametrize("style", DRAWIO_STYLES)
def test_graphml_parses_with_layer_names_and_positions(pipeline: Pipeline, style: str) -> None:
    import networkx as nx

    data = _export(pipeline, style, "graphml")
    root = ET.fromstring(data)
    assert root.tag == "{http://graphml.graphdrawing.org/xmlns}graphml"
    graph = nx.read_graphml(__import__("io").BytesIO(data))
    assert (graph.number_of_nodes(), graph.number_of_edges()) == counts(style)
    types = [graph.nodes[n]["type"].rsplit(".", 1)[-1] for n in nx.topological_sort(graph)]
    assert types[1:5] == LENET_TYPES[1:]
    assert all(
        graph.nodes[n]["width"] > 0 and graph.nodes[n]["fill"].startswith("#") for n in graph
    )


def _compile(tex: bytes, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        return
    (tmp_path / "fig.tex").write_bytes(tex)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "fig.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("style", DRAWIO_STYLES)
def test_tikz_is_a_standalone_document_with_every_layer(
    pipeline: Pipeline, style: str, tmp_path: Path
) -> None:
    tex = _export(pipeline, style, "tikz", background="#222222")
    text = tex.decode()
    assert text.count("\\documentclass[tikz,border=2pt]{standalone}") == 1
    body = text.split("\\begin{tikzpicture}", 1)[1].split("\\end{tikzpicture}", 1)[0]
    assert text.rstrip().endswith("\\end{document}")
    layers, links = counts(style)
    for i in range(layers):
        assert f"(layer-{i})" in body
    assert body.count("\n% ") == 2 + layers  # a note per layer, and two section notes
    assert body.count("-{Stealth") == links
    assert "{HTML}{222222}" in text
    assert text.count("{") == text.count("}")
    _compile(tex, tmp_path)


def test_tikz_escapes_text() -> None:
    from model_diagram.exports.tikz import tex

    assert tex("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
    assert tex("3\u00d74") == r"3$\times$4"


def test_exports_through_save_cli_and_sphinx(tmp_path: Path) -> None:
    diagram = model_diagram.render(
        LENET["factory"], input=LENET["input"], style="layered", cache_dir=tmp_path / "cache"
    )
    for ext, head in ((".drawio", b"<?xml"), (".tex", b"% Sequential"), (".graphml", b"<?xml")):
        assert diagram.save(tmp_path / f"fig{ext}").read_bytes().startswith(head)
    out = tmp_path / "cnn.drawio"
    args = ["render", LENET["factory"], "--input", LENET["input"], "--style", "lenet"]
    assert cli.main([*args, "-o", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert ET.fromstring(out.read_bytes()).tag == "mxfile"
    assert parse_options({**LENET, "format": "tikz"}).format == "tikz"


def test_sphinx_and_mkdocs_link_the_editable_drawing(
    make_app: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import yaml
    from bs4 import BeautifulSoup
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"extensions = ['model_diagram']\nmodel_diagram_cache_dir = {str(tmp_path / 'cache')!r}\n",
        "utf-8",
    )
    (src / "index.rst").write_text(
        "Home\n====\n\n.. model-diagram:: models_styles:make_lenet\n"
        "   :input: float[1,3,128,128]\n   :style: layered\n   :format: drawio\n\n"
        ".. model-diagram:: models_styles:make_lenet\n"
        "   :input: float[1,3,128,128]\n   :format: xlsx\n",
        "utf-8",
    )
    app = make_app("html", srcdir=src)
    app.build()
    log = app.warning.getvalue()
    assert "must be one of svg, png, pdf, drawio, tikz, graphml" in log
    assert "index.rst:9" in log or "index.rst:8" in log
    soup = BeautifulSoup((app.outdir / "index.html").read_text("utf-8"), "lxml")
    link = soup.select_one("p.model-diagram-download a")
    assert link is not None and str(link["href"]).endswith(".drawio")
    assert soup.select_one("figure.model-diagram svg, div.model-diagram svg") is not None
    drawing = ET.fromstring((app.outdir / str(link["href"])).read_bytes())
    assert drawing.tag == "mxfile"

    docs = tmp_path / "site-src" / "docs"
    (docs / "deep").mkdir(parents=True)
    (docs / "deep" / "page.md").write_text(
        "# Page\n\n```model-diagram\nfactory: models_styles:make_lenet\n"
        "input: float[1,3,128,128]\nstyle: lenet\nformat: graphml\n```\n",
        "utf-8",
    )
    config_file = tmp_path / "site-src" / "mkdocs.yml"
    plugin = {"cache_dir": str(tmp_path / "cache")}
    config_file.write_text(
        yaml.safe_dump({"site_name": "T", "plugins": [{"model-diagram": plugin}]}), "utf-8"
    )
    build(load_config(config_file=str(config_file)))
    page = tmp_path / "site-src" / "site" / "deep" / "page" / "index.html"
    soup = BeautifulSoup(page.read_text("utf-8"), "lxml")
    link = soup.select_one("p.model-diagram-download a")
    assert link is not None and str(link["href"]).startswith("../../assets/model-diagram/")
    target = (page.parent / str(link["href"])).resolve()
    assert ET.fromstring(target.read_bytes()).tag.endswith("graphml")


# -- the neurons style

DENSE = {"factory": "models_styles:make_dense", "input": "float[1,4]"}


def neurons(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}polygon") if "md-neuron" in classes(p)]


def test_neurons_draws_simple_dense_with_26_neurons(pipeline: Pipeline) -> None:
    root = draw(pipeline, **DENSE, style="neurons", legend=True)
    assert len(neurons(root)) == 4 + 8 + 8 + 4 + 2 + 2  # + the two legend swatches
    columns = layer_groups(root)
    assert [g.get("data-units") for g in columns] == ["4", "8", "8", "4", "2"]
    assert sum(len(neurons(g)) for g in columns) == 26
    weights = [p for p in root.iter(f"{SVG}polyline") if "md-weight" in classes(p)]
    assert len(weights) == 4 * 8 + 8 * 8 + 8 * 4 + 4 * 2
    # columns left to right, each centred on the same line
    xs = [
        min(float(pt.split(",")[0]) for pt in (neurons(g)[0].get("points") or "").split())
        for g in columns
    ]
    assert xs == sorted(xs) and len(set(xs)) == 5
    desc = "".join(d.text or "" for d in root.iter(f"{SVG}desc"))
    assert "26 neurons" in desc


def test_neurons_caps_wide_layers_with_an_ellipsis(pipeline: Pipeline) -> None:
    root = draw(
        pipeline, factory="models_styles:make_wide_dense", input="float[1,4]", style="neurons"
    )
    columns = layer_groups(root)
    # ReLU keeps the 100 units and has no weights: folded into the Linear before it
    assert [g.get("data-units") for g in columns] == ["4", "100", "3"]
    wide = columns[1]
    assert len(neurons(wide)) == 9
    assert len([p for p in wide.iter(f"{SVG}polygon") if "md-ellipsis" in classes(p)]) == 3
    assert "ReLU" in (wide.findtext(f"{SVG}title") or "")
    assert "100" in [t.text for t in root.iter(f"{SVG}text")]
    capped = draw(
        pipeline,
        factory="models_styles:make_wide_dense",
        input="float[1,4]",
        style="neurons",
        max_neurons=5,
    )
    assert len(neurons(layer_groups(capped)[1])) == 4


def test_neurons_of_a_convnet_are_channels(pipeline: Pipeline, tmp_path: Path) -> None:
    values = {"factory": "models_styles:make_tiny_conv", "input": "float[1,1,8,8]"}
    root = draw(pipeline, **values, style="neurons", background="#222222")
    columns = layer_groups(root)
    assert [g.get("data-units") for g in columns] == ["1", "4", "6", "384", "10"]
    squares = [p for p in neurons(columns[1]) if len((p.get("points") or "").split()) == 4]
    assert len(squares) == 4  # feature maps are squares, vector units circles
    assert text_fills(root) == {PALETTE["--model-diagram-ink"][1]}
    drawing = ET.fromstring(
        pipeline.diagram(parse_options({**values, "style": "neurons"}), fmt="drawio").data
    )
    cells = drawing.findall("./diagram/mxGraphModel/root/mxCell")
    assert len([c for c in cells if c.get("vertex") == "1"]) == 1 + 4 + 6 + 9 + 10
    assert any("ellipse" in (c.get("style") or "") for c in cells)
    diagram = model_diagram.render(
        values["factory"], input=values["input"], style="neurons", cache_dir=tmp_path
    )
    png = diagram.save(tmp_path / "n.png")
    assert png.read_bytes().startswith(b"\x89PNG")


# -- VisualTorch's calls


def test_visualtorch_calls_return_pil_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from PIL import Image
    from torch import nn

    import models_styles
    from model_diagram import visualtorch

    monkeypatch.chdir(tmp_path)  # the API's default cache goes here
    model = models_styles.make_layered_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    image = visualtorch.layered_view(model, input_shape=(1, 3, 224, 224), legend=True)
    assert isinstance(image, Image.Image) and image.width > 500
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert image.getpixel((1, 1))[:3] == (255, 255, 255)  # VisualTorch's white background

    lenet = visualtorch.lenet_view(
        models_styles.make_lenet(),
        (1, 3, 128, 128),
        to_file=tmp_path / "lenet.svg",
        color_map={nn.Conv2d: {"fill": (255, 0, 0, 255), "outline": "black"}},
        type_ignore=[nn.MaxPool2d],
        background_fill=(34, 34, 34),
        font_color="white",
        legend=True,
        legend_position="top-left",
        show_input=False,
    )
    assert isinstance(lenet, Image.Image)
    root = ET.fromstring((tmp_path / "lenet.svg").read_text("utf-8").split("\n", 1)[1])
    types = [g.get("data-type") for g in layer_groups(root)]
    assert types == ["Conv2d", "Conv2d"]
    assert text_fills(root) == {"#ffffff"}
    fronts = {p.get("fill") for p in root.iter(f"{SVG}polygon") if "md-front" in classes(p)}
    assert "#ff0000" in fronts
    legend = next(g for g in root.iter(f"{SVG}g") if "md-legend" in classes(g))
    assert "md-legend-top" in classes(legend)

    with pytest.warns(UserWarning, match="node_size has no equivalent"):
        neurons_image = visualtorch.graph_view(
            models_styles.make_dense(), (1, 4), node_size=30, to_file=tmp_path / "dense.png"
        )
    ours = model_diagram.render(
        models_styles.make_dense(),
        input_data=torch.rand(1, 4),
        style="neurons",
        background="white",
    )
    with Image.open(io.BytesIO(ours._repr_png_())) as reference:
        assert reference.size == neurons_image.size
    with Image.open(tmp_path / "dense.png") as saved:
        assert saved.size == neurons_image.size
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour_map'"):
        visualtorch.layered_view(model, (1, 3, 224, 224), colour_map={})


def test_neurons_refuses_a_network_too_big_to_read(pipeline: Pipeline) -> None:
    from model_diagram.errors import RenderError

    with pytest.raises(RenderError, match="use style: layered or style: graph"):
        pipeline.diagram(parse_options({**CNN, "style": "neurons", "max-neurons": 256}))


def test_print_width_fits_the_neurons_style(pipeline: Pipeline) -> None:
    root = draw(pipeline, **DENSE, style="neurons", print_width="3.3in", legend=True)
    assert root.get("width") == "237.6pt"
    scale = 237.6 / float((root.get("viewBox") or "").split()[2])
    sizes = {float(t.get("font-size") or 0) * 0.75 for t in root.iter(f"{SVG}text")}
    assert min(sizes) * scale >= 7.0 - 0.05


def test_graph_exports_keep_nested_module_frames(pipeline: Pipeline) -> None:
    values = {
        "factory": "example_project.models:make_transformer",
        "kwargs": {"input_ids": "long[2,16](0,1000)"},
        "depth": 2,
        "expand-nested": True,
    }
    drawing = ET.fromstring(pipeline.diagram(parse_options(values), fmt="drawio").data)
    cells = drawing.findall("./diagram/mxGraphModel/root/mxCell")
    frames = [c for c in cells if (c.get("id") or "").startswith("frame-")]
    layers = [c for c in cells if (c.get("id") or "").startswith("layer-")]
    assert frames and layers
    assert cells.index(frames[-1]) < cells.index(layers[0])  # behind the layers
    assert any("x4" in (c.get("value") or "") for c in frames)  # the collapsed repeat
    tex = pipeline.diagram(parse_options(values), fmt="tikz").data.decode()
    assert tex.count("dashed, rounded corners=3pt") == len(frames)


def test_exports_escape_hostile_names(pipeline: Pipeline) -> None:
    """The graph style labels modules with their qualified names: a hostile one survives
    as text in every export and breaks none of them."""
    values = {"factory": "models:make_hostile_names", "input": "float[2,8]", "depth": 2}
    hostile = '<script>alert("x")</script>&'
    drawing = ET.fromstring(pipeline.diagram(parse_options(values), fmt="drawio").data)
    assert hostile in " ".join(c.get("value") or "" for c in drawing.iter("mxCell"))
    graphml = pipeline.diagram(parse_options(values), fmt="graphml").data
    assert b"<script>" not in graphml
    assert hostile in "".join(d.text or "" for d in ET.fromstring(graphml).iter())
    body = pipeline.diagram(parse_options(values), fmt="tikz").data.decode()
    assert '<script>alert("x")</script>\\&' in body  # TeX's specials escaped
    assert body.replace("\\&", "").count("&") == 0
