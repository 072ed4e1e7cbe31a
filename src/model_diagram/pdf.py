"""SVG -> PDF with svglib and reportlab: vector, text kept as text, fonts embedded.

Every style's PDF is its SVG converted here, with pip packages only (Graphviz's
own PDF needs a system ``dot``), so the figure in a LaTeX build is the one on
the HTML page. Each font family of :mod:`model_diagram.fonts` is set in a face
from PyPI that is embedded as a TrueType subset, so no unembedded base-14 font
is left for a journal's preflight to reject: Arimo for sans-serif (metric-
compatible with Helvetica/Arial, the metrics the layout used; Latin, Greek,
Cyrillic, Hebrew), IBM Plex Mono for monospace (Courier's 600-unit advance;
Latin, Cyrillic) and PT Serif for serif (Latin, Cyrillic; about 7 % wider than
Times). Arimo ships as a variable font: regular is its default instance, bold
is instantiated once per process.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources

from .errors import RenderError
from .fonts import ALIASES, FAMILIES

#: family -> (package, regular file, bold file; None: the regular file's weight axis)
FACES: dict[str, tuple[str, str, str | None]] = {
    "sans-serif": ("fontpkg_arimo", "Arimo[wght].ttf", None),
    "serif": ("fontpkg_pt_serif", "PT_Serif-Web-Regular.ttf", "PT_Serif-Web-Bold.ttf"),
    "monospace": ("fontpkg_ibm_plex_mono", "IBMPlexMono-Regular.ttf", "IBMPlexMono-Bold.ttf"),
}

_SVG_NS = "{http://www.w3.org/2000/svg}"
_BOLD = re.compile(r"bold|bolder|[6-9]00")


@cache
def _family_of() -> dict[str, str]:
    """Every name an SVG may give a family (CSS stacks, Graphviz names, aliases)."""
    names = dict(ALIASES)
    for key, fam in FAMILIES.items():
        for name in (key, fam.graphviz, *fam.css.split(",")):
            names[name.strip().strip("'\"").lower()] = key
    return names


def _face_bytes(package: str, filename: str) -> bytes:
    try:
        return (resources.files(package) / "files" / filename).read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise RenderError(
            f"PDF output needs a font package ({exc}); 'pip install {package.replace('_', '-')}'"
        ) from None


def _instance_bold(data: bytes, name: str) -> bytes:
    """The bold instance of a variable font, under its own PostScript name (reportlab
    tells embedded faces apart by it)."""
    from fontTools.ttLib import TTFont as FontFile
    from fontTools.varLib import instancer

    face = instancer.instantiateVariableFont(
        FontFile(io.BytesIO(data)), {"wght": 700}, updateFontNames=False
    )
    for record in face["name"].names:
        if record.nameID in {4, 6}:
            record.string = {4: f"{name} Bold", 6: f"{name}-Bold"}[record.nameID]
    buffer = io.BytesIO()
    face.save(buffer)
    return buffer.getvalue()


@cache
def _register(family: str, bold: bool) -> str:
    """Register one face with reportlab once per process; its reportlab name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    package, regular, bold_file = FACES[family]
    if not bold:
        data = _face_bytes(package, regular)
    elif bold_file is not None:
        data = _face_bytes(package, bold_file)
    else:
        data = _instance_bold(_face_bytes(package, regular), regular.split("[")[0])
    name = f"ModelDiagram-{family}-{'Bold' if bold else 'Regular'}"
    pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    return name


class _Faces:
    """svglib's font lookup, answered with our embedded faces only: never the machine's
    fontconfig, so the PDF is the same everywhere and every font is embedded. A name
    outside our families is not an exact match, so svglib tries the next in the list."""

    def find_font(
        self, name: str, weight: str = "normal", style: str = "normal"
    ) -> tuple[str, bool]:
        family = _family_of().get(name.strip().strip("'\"").lower())
        bold = bool(_BOLD.fullmatch(weight.strip()))
        return _register(family or "sans-serif", bold), family is not None


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

    drawing = svg2rlg(io.BytesIO(_without_css(svg)), font_map=_Faces())
    if drawing is None:
        raise RenderError("cannot convert the diagram to PDF: svglib could not read its SVG")
    # the canvas's initial font would otherwise be an unembedded Helvetica
    drawing.initialFontName = _register("sans-serif", bold=False)
    return bytes(renderPDF.drawToString(drawing, invariant=1))
