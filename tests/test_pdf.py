"""PDF for every style with pip packages only, read back with a real PDF reader (pypdf).

What journals and LaTeX need: vector pages whose text is real, extractable text,
every font embedded (a FontFile2 stream, never an unembedded base-14 font), and
labels outside Latin-1 intact. Runs with whatever Graphviz engine is available,
so it holds on a machine without system Graphviz.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from model_diagram import cli
from model_diagram.options import parse_options
from model_diagram.pdf import svg_to_pdf
from model_diagram.pipeline import Pipeline

STYLES = ("graph", "layered", "lenet")
UNICODE = {"factory": "models:make_unicode_names", "input": "float[2,8]"}


def fonts_of(reader: PdfReader) -> list[dict[str, Any]]:
    """Every font dictionary the pages use, form XObjects included."""
    found = []

    def visit(resources: Any) -> None:
        resources = resources.get_object() if resources is not None else {}
        found.extend(font.get_object() for font in (resources.get("/Font") or {}).values())
        for xobject in (resources.get("/XObject") or {}).values():
            visit(xobject.get_object().get("/Resources"))

    for pdf_page in reader.pages:
        visit(pdf_page.get("/Resources"))
    return found


def assert_fonts_embedded(reader: PdfReader) -> None:
    fonts = fonts_of(reader)
    assert fonts
    for font in fonts:
        assert font["/Subtype"] == "/TrueType", font
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert len(descriptor["/FontFile2"].get_object().get_data()) > 1000


def text_of(data: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("pdf-cache"))


@pytest.mark.parametrize("style", STYLES)
def test_every_style_writes_a_pdf_with_embedded_fonts_and_text(
    pipeline: Pipeline, style: str
) -> None:
    # the layered style names layer types in its legend only
    options = parse_options({**UNICODE, "style": style, "legend": style == "layered"})
    result = pipeline.diagram(options, fmt="pdf")
    assert result.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(result.data))
    assert len(reader.pages) == 1
    assert_fonts_embedded(reader)
    text = text_of(result.data)
    assert "Проекция" in text  # a class name in Cyrillic
    if style == "graph":
        assert "вход_\u03b1" in text and "выход" in text  # layer names, Greek and Cyrillic
    # the page is the SVG's size (pt), not a paper size
    svg = pipeline.diagram(options).svg
    width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg)[1])  # type: ignore[index]
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - width) < 1.5
    # deterministic: the same bytes from a second, empty cache
    again = Pipeline(pipeline.cache.root.parent / f"again-{style}").diagram(options, fmt="pdf")
    assert not again.cached and again.data == result.data


def test_bold_text_gets_an_embedded_bold_face() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120pt" height="40pt">'
        "<style>text { fill: var(--x, #000) }</style>"
        '<text x="4" y="14" font-family="Linux libertine" font-size="10">plain Ωμέγα</text>'
        '<text x="4" y="30" font-family="Helvetica" font-weight="bold" font-size="10">'
        "Bold Жирный</text></svg>"
    )
    data = svg_to_pdf(svg.encode())
    reader = PdfReader(io.BytesIO(data))
    assert_fonts_embedded(reader)
    names = sorted(str(f["/BaseFont"]).split("+")[-1] for f in fonts_of(reader))
    assert names == ["Arimo-Bold", "Arimo-Regular"]
    text = text_of(data)
    assert "plain Ωμέγα" in text and "Bold Жирный" in text


@pytest.mark.parametrize(("family", "face"), [("serif", "PTSerif"), ("monospace", "IBMPlexMono")])
@pytest.mark.parametrize("style", ["graph", "lenet"])
def test_each_font_family_embeds_its_own_face(
    pipeline: Pipeline, style: str, family: str, face: str
) -> None:
    options = parse_options({**UNICODE, "style": style, "font-family": family})
    data = pipeline.diagram(options, fmt="pdf").data
    reader = PdfReader(io.BytesIO(data))
    assert_fonts_embedded(reader)
    assert {str(f["/BaseFont"]).split("+")[-1].split("-")[0] for f in fonts_of(reader)} == {face}
    assert "Проекция" in text_of(data)


def test_cli_writes_a_pdf_on_any_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's command, here with graphviz-pure named explicitly (what a machine
    without 'dot' gets from engine auto)."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1] / "example_project")
    out = tmp_path / "cnn.pdf"
    code = cli.main(
        [
            "render",
            "example_project.models:make_cnn",
            "--input",
            "float[2,3,32,32]",
            "--engine",
            "graphviz-pure",
            "--cache-dir",
            str(tmp_path / "cache"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    reader = PdfReader(out)
    assert_fonts_embedded(reader)
    assert "Conv2d" in text_of(out.read_bytes())
