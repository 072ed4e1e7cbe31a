"""The Performance page's results, drawn at build time from ``docs/_data/benchmarks.csv``.

Directive ``.. benchmark-results:: _data/benchmarks.csv`` (path relative to the
page) gives three things:

- an inline SVG bar chart of every row whose target is a ratio (``<= 0.80``):
  the measured ratio as a bar, the target as a tick, met or missed as a class.
  Colours come from CSS (``docs.css``, furo's variables), so light and dark
  themes both work, and nothing is fetched from a CDN;
- the table of results without the command column, so it fits the page;
- the command of each row, as a list under the table.

The CSV is a dependency of the page: re-recording a benchmark rebuilds it.
Non-HTML builders get the table and the list (no chart).
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TARGET = re.compile(r"^\s*<=\s*(\d+(?:\.\d+)?)")


def ratio_and_target(row: dict[str, str]) -> tuple[float, float] | None:
    """The measured time ratio and its target, when the row has both."""
    target = _TARGET.match(row.get("Target", ""))
    ratio = _NUMBER.match(row.get("Ratio A/B", "").strip())
    if target is None or ratio is None:
        return None
    return float(ratio[0]), float(target[1])


def verdict(row: dict[str, str]) -> str:
    """``met`` or ``missed``: the benchmark's own verdict (it compared unrounded numbers),
    else the rounded ratio against the target."""
    text = row.get("Ratio A/B", "")
    if "(MISSED)" in text.split(";")[0]:
        return "missed"
    if "(met)" in text.split(";")[0]:
        return "met"
    found = ratio_and_target(row)
    return "met" if found and found[0] <= found[1] else "missed"


def chart_svg(rows: list[dict[str, str]]) -> str:
    """Horizontal bars, one per benchmark with a ratio target; 1.0 marks parity."""
    bars = [(row["Benchmark"], *found) for row in rows if (found := ratio_and_target(row))]
    if not bars:
        return ""
    label_w, bar_w, row_h, top = 230, 380, 26, 24
    scale = max(1.5, *(max(r, t) for _, r, t in bars)) * 1.05
    height = top + row_h * len(bars) + 12
    width = label_w + bar_w + 70
    x = lambda value: label_w + bar_w * value / scale  # noqa: E731
    parts = [
        f'<svg class="bench-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="bench-chart-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="bench-chart-title">Measured ratios (bars) against their targets '
        "(ticks); shorter is faster</title>",
        f'<line class="bench-parity" x1="{x(1):.1f}" y1="{top - 8}" x2="{x(1):.1f}" '
        f'y2="{height - 8}"/>',
        f'<text class="bench-axis" x="{x(1):.1f}" y="{top - 12}" text-anchor="middle">'
        "1.0 = same time</text>",
    ]
    verdicts = {row["Benchmark"]: verdict(row) for row in rows}
    for index, (name, ratio, target) in enumerate(bars):
        y = top + index * row_h
        status = verdicts[name]
        parts += [
            f'<text class="bench-label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
            f"{html.escape(name)}</text>",
            f'<rect class="bench-bar bench-{status}" x="{label_w}" y="{y + 4}" '
            f'width="{x(ratio) - label_w:.1f}" height="{row_h - 10}" rx="2">'
            f"<title>{html.escape(name)}: {ratio:.2f} against a target of {target:.2f} "
            f"({status})</title></rect>",
            f'<line class="bench-target" x1="{x(target):.1f}" y1="{y + 1}" '
            f'x2="{x(target):.1f}" y2="{y + row_h - 3}"/>',
            f'<text class="bench-value" x="{x(max(ratio, target)) + 6:.1f}" y="{y + 15}">'
            f"{ratio:.2f} / {target:.2f}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


class BenchmarkResults(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        result: list[nodes.Node] = []
        svg = chart_svg(rows)
        if svg:
            legend = (
                '<p class="bench-legend"><span class="bench-key bench-met"></span> met '
                '<span class="bench-key bench-missed"></span> missed '
                '<span class="bench-key bench-tick"></span> target</p>'
            )
            result.append(
                nodes.raw("", f'<div class="bench-chart-box">{svg}{legend}</div>', format="html")
            )
        result.append(self._table(rows))
        commands = nodes.bullet_list()
        for row in rows:
            item = nodes.list_item()
            paragraph = nodes.paragraph()
            paragraph += nodes.strong(text=row["Benchmark"])
            paragraph += nodes.Text(": ")
            paragraph += nodes.literal(text=row["Command"].strip("`"))
            item += paragraph
            commands += item
        heading = nodes.paragraph(text="The command behind each row:")
        return [*result, heading, commands]

    def _table(self, rows: list[dict[str, str]]) -> nodes.table:
        columns = ["Benchmark", "A", "B", "Median A", "Median B", "Ratio A/B", "Target"]
        widths = [14, 14, 18, 10, 10, 20, 14]
        table = nodes.table(classes=["bench-table"])
        table += nodes.title(text="Results (from docs/_data/benchmarks.csv)")
        group = nodes.tgroup(cols=len(columns))
        table += group
        for width in widths:
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += self._row(columns)
        for row in rows:
            body += self._row([row.get(c, "") for c in columns])
        return table

    def _row(self, cells: list[str]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            inline, _ = self.state.inline_text(text, self.lineno)
            entry += nodes.paragraph("", "", *inline)
            row += entry
        return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
