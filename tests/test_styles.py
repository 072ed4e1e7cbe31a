"""The layered and LeNet styles end to end: real worker, real trace, real cache.

The three models of the VisualTorch paper (tests/models_styles.py) are drawn in
both styles and the SVG is parsed: one group per layer, sizes that grow with the
tensors, legend entries, dimension labels, options, branches, determinism, and
PNG/PDF export through the API and the CLI.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import model_diagram
from conftest import shared_pipeline
from model_diagram import cli
from model_diagram.errors import OptionError, RenderError
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline

SVG = "{http://www.w3.org/2000/svg}"
RECOMMENDER_INPUT = {
    "user_id": "long[2](0,1000)",
    "age": "float[2]",
    "hist": "long[2,10](0,1000)",
}

CNN = {"factory": "models_styles:make_layered_cnn", "input": "float[1,3,224,224]"}
LENET = {"factory": "models_styles:make_lenet", "input": "float[1,3,128,128]"}
DENSE = {"factory": "models_styles:make_dense", "input": "float[1,4]"}

CNN_TYPES = [
    "Input",
    *["Conv2d", "ReLU", "MaxPool2d"] * 3,
    "Flatten",
    "Linear",
    "ReLU",
    "Linear",
]
TIMES = "\u00d7"  # dimension labels use the multiplication sign


def dims_of(*labels: str) -> list[str]:
    return [label.replace("x", TIMES) for label in labels]


CNN_DIMS = dims_of(
    "3x224x224",
    "16x224x224",
    "16x224x224",
    "16x112x112",
    "32x112x112",
    "32x112x112",
    "32x56x56",
    "64x56x56",
    "64x56x56",
    "64x28x28",
    "50176",
    "256",
    "256",
    "10",
)
PAPER = {
    "cnn": (CNN, CNN_TYPES, CNN_DIMS),
    "lenet": (
        LENET,
        ["Input", "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d"],
        dims_of("3x128x128", "8x128x128", "8x64x64", "16x64x64", "16x32x32"),
    ),
    "dense": (DENSE, ["Input", "Linear", "Linear", "Linear", "Linear"], ["4", "8", "8", "4", "2"]),
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """One cache for the module: each model is traced once, then drawn in every style."""
    return shared_pipeline(tmp_path_factory.mktemp("cache"))


def draw(pipeline: Pipeline, **values: Any) -> ET.Element:
    return ET.fromstring(pipeline.diagram(parse_options(values)).svg)


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if cls in classes(g)]


def polygons(el: ET.Element, cls: str) -> list[ET.Element]:
    return [p for p in el.iter(f"{SVG}polygon") if cls in classes(p)]


def bbox(polygon: ET.Element) -> tuple[float, float]:
    """(width, height) of a polygon."""
    points = [tuple(map(float, p.split(","))) for p in polygon.get("points", "").split()]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return max(xs) - min(xs), max(ys) - min(ys)


def texts(el: ET.Element, cls: str) -> list[str]:
    return [t.text or "" for t in el.iter(f"{SVG}text") if cls in classes(t)]


def shape(layer: ET.Element) -> tuple[int, ...]:
    return tuple(int(d) for d in layer.get("data-shape", "").split("x") if d)


def pairs(items: list[Any]) -> Iterator[tuple[Any, Any]]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b


def assert_monotone(sizes: list[tuple[int, float]]) -> None:
    """A bigger tensor extent never gets a smaller drawing, and some differ."""
    for (n_a, px_a), (n_b, px_b) in pairs(sizes):
        if n_a < n_b:
            assert px_a <= px_b, sizes
        elif n_a > n_b:
            assert px_a >= px_b, sizes
    if len({n for n, _ in sizes}) > 1:
        assert len({round(px, 2) for _, px in sizes}) > 1, sizes


@pytest.mark.parametrize("model", list(PAPER))
def test_layered_paper_models(pipeline: Pipeline, model: str) -> None:
    values, types, dims = PAPER[model]
    root = draw(pipeline, **values, style="layered", legend=True)
    layers = groups(root, "md-layer")
    assert [g.get("data-type") for g in layers] == types
    for layer in layers:  # one 3D box: front, top and side faces
        assert len(polygons(layer, "md-front")) == 1
        assert len(polygons(layer, "md-top")) == len(polygons(layer, "md-side")) == 1
    assert texts(root, "md-dims") == dims
    legend = [g.get("data-type") for g in groups(root, "md-legend-entry")]
    assert legend == list(dict.fromkeys(types))
    assert len(groups(root, "md-funnel")) == len(layers) - 1
    # sizes grow with the tensor: height with H, width with C, depth with W
    maps = [
        (shape(g), *bbox(polygons(g, "md-front")[0]), bbox(polygons(g, "md-top")[0])[1])
        for g in layers
    ]
    spatial = [m for m in maps if len(m[0]) == 3]
    if spatial:
        assert_monotone([(s[1], h) for s, _, h, _ in spatial])
        assert_monotone([(s[0], w) for s, w, _, _ in spatial])
        assert_monotone([(s[2], d) for s, _, _, d in spatial])
    flat = [m for m in maps if len(m[0]) == 1]  # 1-D: tall columns (low-dim-orientation y)
    assert_monotone([(s[0], h) for s, _, h, _ in flat])


@pytest.mark.parametrize("model", list(PAPER))
def test_lenet_paper_models(pipeline: Pipeline, model: str) -> None:
    values, types, dims = PAPER[model]
    root = draw(pipeline, **values, style="lenet")
    layers = groups(root, "md-layer")
    assert [g.get("data-type") for g in layers] == types
    assert texts(root, "md-name") == types
    assert texts(root, "md-dims") == dims
    assert not groups(root, "md-legend")  # legend is off by default
    planes = []
    for layer in layers:
        s = shape(layer)
        stack = polygons(layer, "md-plane")
        expected = min(s[0], 16) if len(s) == 3 else 1  # max-channels defaults to 16
        assert len(stack) == expected
        assert len(polygons(layer, "md-front")) == 1
        planes.append((s, len(stack), *bbox(stack[0])))
    spatial = [p for p in planes if len(p[0]) == 3]
    assert_monotone([(s[0], n) for s, n, _, _ in spatial])
    assert_monotone([(s[1], h) for s, _, _, h in spatial])
    assert_monotone([(s[2], w) for s, _, w, _ in spatial])
    assert_monotone([(s[0], h) for s, _, _, h in planes if len(s) == 1])


def test_max_channels_caps_planes(pipeline: Pipeline) -> None:
    root = draw(pipeline, **LENET, style="lenet", max_channels=4, legend=True)
    assert [len(polygons(g, "md-plane")) for g in groups(root, "md-layer")] == [3, 4, 4, 4, 4]
    assert [g.get("data-type") for g in groups(root, "md-legend-entry")] == [
        "Input",
        "Conv2d",
        "MaxPool2d",
    ]


def test_type_ignore_drops_layers_and_legend_entries(pipeline: Pipeline) -> None:
    root = draw(pipeline, **CNN, style="layered", legend=True, type_ignore="ReLU, flatten")
    kept = [t for t in CNN_TYPES if t not in {"ReLU", "Flatten"}]
    assert [g.get("data-type") for g in groups(root, "md-layer")] == kept
    assert [g.get("data-type") for g in groups(root, "md-legend-entry")] == list(
        dict.fromkeys(kept)
    )
    assert len(groups(root, "md-funnel")) == len(kept) - 1  # the chain is bridged
    with pytest.raises(RenderError, match="every layer was removed"):
        draw(pipeline, **DENSE, style="layered", type_ignore=["Input", "Linear"])


def test_flat_boxes_without_volume_or_funnels(pipeline: Pipeline) -> None:
    root = draw(
        pipeline, **CNN, style="layered", draw_volume=False, draw_funnel=False, show_dimension=False
    )
    for layer in groups(root, "md-layer"):
        assert len(polygons(layer, "md-front")) == 1
        assert not polygons(layer, "md-top") and not polygons(layer, "md-side")
    assert not groups(root, "md-funnel") and not texts(root, "md-dims")


def test_colours_are_theme_variables_with_options(pipeline: Pipeline) -> None:
    root = draw(
        pipeline,
        **LENET,
        style="layered",
        legend=True,
        opacity=0.5,
        color_map={"conv2d": {"fill": "#123456", "outline": "#000"}},
        palette=["#aa0000"],
        background="white",
        legend_position="right",
    )
    style = "".join(s.text or "" for s in root.iter(f"{SVG}style"))
    assert "fill:var(--model-diagram-layer-conv2d, #123456)" in style
    assert "stroke:var(--model-diagram-layer-conv2d-outline, #000000)" in style
    assert "fill:var(--model-diagram-layer-maxpool2d, #aa0000)" in style
    assert "var(--model-diagram-ink, #1b1f23)" in style
    assert "fill:var(--model-diagram-background, #ffffff)" in style
    conv = polygons(groups(root, "md-t-conv2d")[0], "md-front")[0]
    assert conv.get("fill") == "#123456" and conv.get("fill-opacity") == "0.5"
    layer_right = max(
        float(x)
        for g in groups(root, "md-layer")
        for p in polygons(g, "md-front")
        for x in re.findall(r"([\d.]+),", p.get("points", ""))
    )
    legend_left = min(
        float(x)
        for g in groups(root, "md-legend-entry")
        for p in g.iter(f"{SVG}polygon")
        for x in re.findall(r"([\d.]+),", p.get("points", ""))
    )
    assert legend_left > layer_right
    with pytest.raises(OptionError, match="palette"):
        parse_options({"factory": "a:b", "palette": "rainbow"})
    with pytest.raises(OptionError, match="colour"):
        parse_options({"factory": "a:b", "color-map": {"Conv2d": "reddish"}})


def test_branches_get_rows_joined_where_they_merge(pipeline: Pipeline) -> None:
    root = draw(pipeline, factory="models:make_branchy", input="float[2,8]", style="layered")
    assert [g.get("data-type") for g in groups(root, "md-layer")] == [
        "Input",
        "Linear",
        "ReLU",
        "Linear",
        "add",
    ]
    assert len(groups(root, "md-fork")) == 1 and len(groups(root, "md-join")) == 1
    tops = {}
    for g in groups(root, "md-layer"):
        front = polygons(g, "md-front")[0].get("points", "")
        tops.setdefault(g.get("data-type"), []).append(float(front.split()[0].split(",")[1]))
    left, right = tops["Linear"]  # the right branch sits on a row below the main path
    assert right > left + 20


def test_dict_input_model_draws_each_input_row(pipeline: Pipeline) -> None:
    for style in ("layered", "lenet"):
        root = draw(
            pipeline,
            factory="example_project.models:make_recommender",
            input=RECOMMENDER_INPUT,
            style=style,
        )
        types = [g.get("data-type") for g in groups(root, "md-layer")]
        assert types.count("Input") == 3 and types.count("Embedding") == 2 and "cat" in types
        assert len(groups(root, "md-join")) == 2  # user and age rows merge into cat


def test_residual_skip_arcs_over_its_row(pipeline: Pipeline) -> None:
    root = draw(
        pipeline, factory="models_styles:make_residual", input="float[1,8,16,16]", style="layered"
    )
    assert len(groups(root, "md-skip")) == 1 and not groups(root, "md-fork")


def test_tangled_model_is_refused_with_advice(pipeline: Pipeline) -> None:
    with pytest.raises(RenderError, match="style: graph"):
        draw(pipeline, factory="models_styles:make_tangled", input="float[2,8]", style="layered")


def test_text_is_escaped(pipeline: Pipeline) -> None:
    result = pipeline.diagram(
        parse_options(
            {"factory": "models:make_hostile_names", "input": "float[2,8]", "style": "lenet"}
        )
    )
    root = ET.fromstring(result.svg)
    titles = [t.text or "" for g in groups(root, "md-layer") for t in g.findall(f"{SVG}title")]
    assert any('<script>alert("x")</script>&' in t for t in titles)
    assert "<script" not in result.svg


def test_same_bytes_from_two_fresh_caches(tmp_path: Path) -> None:
    for values in ({**CNN, "style": "layered", "legend": True}, {**LENET, "style": "lenet"}):
        options = parse_options(values)
        first = shared_pipeline(tmp_path / "a").diagram(options)
        second = shared_pipeline(tmp_path / "b").diagram(options)
        assert not second.cached and first.data == second.data
        pdfs = [shared_pipeline(tmp_path / d).diagram(options, fmt="pdf").data for d in ("a", "b")]
        assert pdfs[0] == pdfs[1] and pdfs[0].startswith(b"%PDF-1.4")


def png_info(path: Path) -> tuple[int, int, float]:
    """(width, height, dpi) from a PNG's IHDR and pHYs chunks."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    at = data.find(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    return width, height, per_metre * 0.0254


def test_save_png_pdf_svg_through_the_api(tmp_path: Path) -> None:
    diagram = model_diagram.render(
        "models_styles:make_lenet",
        input="float[1,3,128,128]",
        style="lenet",
        cache_dir=tmp_path / "cache",
    )
    low, high = tmp_path / "low.png", tmp_path / "high.png"
    diagram.save(low, dpi=96)
    diagram.save(high, dpi=288)
    w1, h1, dpi1 = png_info(low)
    w3, h3, dpi3 = png_info(high)
    assert abs(w3 - 3 * w1) <= 3 and abs(h3 - 3 * h1) <= 3
    assert round(dpi1) == 96 and round(dpi3) == 288
    root = ET.fromstring(diagram.svg)
    width = float(root.get("width", "0").removesuffix("pt")) * 4 / 3  # pt, like Graphviz
    assert abs(w1 - width) <= 1
    pdf = diagram.save(tmp_path / "x.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and b"/FontFile2" in pdf and b"Helvetica" not in pdf
    svg = diagram.save(tmp_path / "x.svg").read_text("utf-8")
    assert len(groups(ET.fromstring(svg.split("\n", 1)[1]), "md-layer")) == 5


def test_cli_writes_png_at_dpi(tmp_path: Path) -> None:
    out = tmp_path / "dense.png"
    code = cli.main(
        [
            "render",
            "models_styles:make_dense",
            "--input",
            "float[1,4]",
            "--style",
            "layered",
            "--legend",
            "--dpi",
            "192",
            "-o",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    width, _, dpi = png_info(out)
    assert round(dpi) == 192 and width > 100
