"""SVG -> PDF with svglib and reportlab: vector, text kept as text, fonts embedded.

Every style's PDF is its SVG converted here, with pip packages only (Graphviz's
own PDF needs a system ``dot``), so the figure in a LaTeX build is the one on
the HTML page. All text is set in Arimo, which is metric-compatible with
Helvetica/Arial (the metrics both Graphviz engines and the figure styles lay
text out with) and covers Latin, Greek, Cyrillic and Hebrew; it is embedded as
a TrueType subset, so no unembedded base-14 font is left for a journal's
preflight to reject. Arimo ships as a variable font: the regular face is its
default instance, the bold one is instantiated once per process.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources

from .errors import RenderError

REGULAR = "ModelDiagramSans-Regular"
BOLD = "ModelDiagramSans-Bold"

_SVG_NS = "{http://www.w3.org/2000/svg}"
_BOLD = re.compile(r"bold|bolder|[6-9]00")


def _font_bytes() -> bytes:
    try:
        return (resources.files("fontpkg_arimo") / "files" / "Arimo[wght].ttf").read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise RenderError(
            f"PDF output needs the Arimo font package ({exc}); 'pip install fontpkg-arimo'"
        ) from None


@cache
def _register(bold: bool) -> str:
    """Register a face with reportlab once per process; its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    data = _font_bytes()
    if bold:
        from fontTools.ttLib import TTFont as FontFile
        from fontTools.varLib import instancer

        face = instancer.instantiateVariableFont(
            FontFile(io.BytesIO(data)), {"wght": 700}, updateFontNames=False
        )
        # its own PostScript name: reportlab tells embedded faces apart by it
        for record in face["name"].names:
            if record.nameID in {4, 6}:
                record.string = {4: "Arimo Bold", 6: "Arimo-Bold"}[record.nameID]
        buffer = io.BytesIO()
        face.save(buffer)
        data = buffer.getvalue()
    name = BOLD if bold else REGULAR
    pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    return name


class _OneFamily:
    """svglib's font lookup, answered with our faces only: never the machine's
    fontconfig, so the PDF is the same everywhere and every font is embedded."""

    def find_font(
        self, name: str, weight: str = "normal", style: str = "normal"
    ) -> tuple[str, bool]:
        return _register(bold=bool(_BOLD.fullmatch(weight.strip()))), True


def _without_css(svg: bytes) -> bytes:
    """The SVG minus its ``<style>`` (CSS variables svglib cannot resolve); every element
    carries its default colours as presentation attributes."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise RenderError(
            f"cannot convert the diagram to PDF: its SVG does not parse ({exc})"
        ) from None
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{_SVG_NS}style":
                parent.remove(child)
    return ET.tostring(root)


def svg_to_pdf(svg: bytes) -> bytes:
    """A one-page vector PDF of the same size as the SVG; deterministic bytes."""
    from reportlab.graphics import renderPDF
    from svglib.svglib import svg2rlg

    drawing = svg2rlg(io.BytesIO(_without_css(svg)), font_map=_OneFamily())
    if drawing is None:
        raise RenderError("cannot convert the diagram to PDF: svglib could not read its SVG")
    # the canvas's initial font would otherwise be an unembedded Helvetica
    drawing.initialFontName = REGULAR
    return bytes(renderPDF.drawToString(drawing, invariant=1))
