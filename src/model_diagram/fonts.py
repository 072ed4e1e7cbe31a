"""The font families a figure can be set in, with metrics that match what is drawn.

Only three families: their metrics (``fonts.json``, advance widths per 1000 em)
are the ones both Graphviz engines know (``graphviz-pure`` has built-in metrics
for the Helvetica, Times and Courier families only), PDF embeds a
face for each, and every system has a metric-compatible face for the SVG and PNG.
So the boxes sized from :meth:`FontFamily.text_width` fit the text in every
output and with either engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["FAMILIES", "FontFamily", "family"]


@dataclass(frozen=True)
class FontFamily:
    """One family: its CSS stack, Graphviz name, TrueType files (PNG) and metrics; the
    PDF embeds a face of the same metrics from PyPI (:data:`model_diagram.pdf.FACES`)."""

    name: str
    css: str
    graphviz: str
    files: tuple[str, ...]

    def text_width(self, text: str, size: float) -> float:
        """Width of ``text`` at ``size`` px (unknown glyphs count as 'n')."""
        widths, fallback = _metrics(self.name)
        return sum(widths.get(ch, fallback) for ch in text) * size / 1000.0


@cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files(__package__).joinpath("fonts.json").read_text("utf-8"))
    return data


@cache
def _metrics(name: str) -> tuple[dict[str, int], int]:
    table = _table()
    entry = table[name]
    return dict(zip(table["chars"], entry["widths"], strict=True)), int(entry["fallback"])


FAMILIES: dict[str, FontFamily] = {
    "sans-serif": FontFamily(
        "sans-serif",
        "Helvetica, Arial, 'Liberation Sans', sans-serif",
        "Helvetica",
        ("LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc"),
    ),
    "serif": FontFamily(
        "serif",
        "'Times New Roman', Times, 'Liberation Serif', serif",
        "Times-Roman",
        ("LiberationSerif-Regular.ttf", "Times New Roman.ttf", "times.ttf", "Times.ttc"),
    ),
    "monospace": FontFamily(
        "monospace",
        "'Courier New', Courier, 'Liberation Mono', monospace",
        "Courier",
        ("LiberationMono-Regular.ttf", "Courier New.ttf", "cour.ttf", "Courier.ttc"),
    ),
}
#: other spellings accepted by the ``font-family`` option
ALIASES = {
    "sans": "sans-serif",
    "helvetica": "sans-serif",
    "arial": "sans-serif",
    "times": "serif",
    "times-roman": "serif",
    "times new roman": "serif",
    "mono": "monospace",
    "courier": "monospace",
    "courier new": "monospace",
}


def family(name: str) -> FontFamily:
    """The family for an option value (already validated: a key or alias)."""
    key = name.strip().lower()
    return FAMILIES[ALIASES.get(key, key)]
