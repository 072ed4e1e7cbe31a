"""Editable exports of a :class:`~model_diagram.scene.Scene`: draw.io, TikZ, GraphML.

Pictures (SVG, PNG, PDF) show a figure; these open it for editing, one shape per
layer and one connector per connection, where our layout put them:

- ``drawio``: diagrams.net XML (uncompressed ``mxfile``), our own writer over
  ``xml.etree`` since the format is a few elements and no maintained library
  writes it;
- ``tikz``: a standalone LaTeX document with one ``tikzpicture`` (compiles with
  ``pdflatex``), plain text;
- ``graphml``: written by networkx (already installed with torch), with our
  positions, sizes, labels and colours as node and edge data.
"""

from __future__ import annotations

from collections.abc import Callable

from ..scene import Scene
from . import drawio, graphml, tikz

#: format name -> writer
WRITERS: dict[str, Callable[[Scene], bytes]] = {
    "drawio": drawio.write,
    "tikz": tikz.write,
    "graphml": graphml.write,
}


def write(scene: Scene, fmt: str) -> bytes:
    """The scene in an editable format (a key of :data:`WRITERS`)."""
    return WRITERS[fmt](scene)
