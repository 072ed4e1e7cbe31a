r"""A scene as a standalone LaTeX document with one ``tikzpicture``.

Coordinates are our CSS px (``x=0.75pt, y=-0.75pt``: 96 dpi, y down), so the
figure prints at the size of the SVG. Each layer is drawn with its shape (a box,
a 3D box with shaded top and side, a stack of planes, a circle) and named with a
``\coordinate`` (``(layer-3)``) for edits and references; connections are
``\draw`` paths with arrow tips. Colours are ``\definecolor`` s named after the
layer types. Needs only the ``standalone`` class, TikZ and the PSNFSS fonts.
"""

from __future__ import annotations

import re

from ..scene import Node, Scene

_FONT_PACKAGES = {
    "sans-serif": "\\usepackage{helvet}\n\\renewcommand{\\familydefault}{\\sfdefault}",
    "serif": "\\usepackage{mathptmx}",
    "monospace": "\\usepackage{courier}\n\\renewcommand{\\familydefault}{\\ttdefault}",
}
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\~{}",
    "\u00d7": r"$\times$",
    "\u2026": r"\ldots{}",
}


def tex(text: str) -> str:
    """Text as LaTeX source: specials escaped, other non-ASCII dropped to '?'."""
    out = []
    for ch in text:
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _pt(value: float) -> str:
    return f"{_n(value * 0.75)}pt"


class _Colors:
    """``\\definecolor`` names for the colours used, in order of first use."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, hex_color: str) -> str:
        key = hex_color.lower()
        if key not in self.names:
            self.names[key] = f"md{len(self.names)}"
        return self.names[key]

    def definitions(self) -> list[str]:
        return [
            f"\\definecolor{{{name}}}{{HTML}}{{{key.lstrip('#').upper()}}}"
            for key, name in self.names.items()
        ]


def _rect(x: float, y: float, w: float, h: float) -> str:
    return f"({_n(x)},{_n(y)}) rectangle ({_n(x + w)},{_n(y + h)})"


def _shape(node: Node, fill: str, stroke: str) -> list[str]:
    style = f"fill={fill}, draw={stroke}"
    if node.opacity < 1:
        style += f", fill opacity={_n(node.opacity)}"
    x, y, w, h = node.front
    if node.shape == "circle":
        r = min(w, h) / 2
        return [f"\\filldraw[{style}] ({_n(x + w / 2)},{_n(y + h / 2)}) circle[radius={_n(r)}];"]
    if node.shape == "planes":
        lines = []
        for i in range(node.planes):  # back to front
            behind = (node.planes - 1 - i) * node.depth
            lines.append(f"\\filldraw[{style}] {_rect(x - behind, y - behind, w, h)};")
        return lines
    lines = [f"\\filldraw[{style}] {_rect(x, y, w, h)};"]
    d = node.depth
    if node.shape == "cube" and d > 0:
        back = f"++({_n(d)},{_n(-d)})"
        front = f"++({_n(-d)},{_n(d)}) -- cycle"
        top = f"({_n(x)},{_n(y)}) -- {back} -- ++({_n(w)},0) -- {front}"
        side = f"({_n(x + w)},{_n(y)}) -- {back} -- ++(0,{_n(h)}) -- {front}"
        lines.append(f"\\filldraw[fill={fill}!70!white, draw={stroke}] {top};")
        lines.append(f"\\filldraw[fill={fill}!75!black, draw={stroke}] {side};")
    return lines


def write(scene: Scene) -> bytes:
    """The LaTeX source of ``scene`` (deterministic bytes)."""
    colors = _Colors()
    size = scene.font_size * 0.75
    body: list[str] = []
    if scene.background:
        body.append(f"\\fill[{colors(scene.background)}] {_rect(0, 0, scene.width, scene.height)};")
    line = colors(scene.line)
    text = colors(scene.text)
    for frame in scene.frames:
        body.append(
            f"\\draw[{line}, dashed, rounded corners=3pt] "
            f"{_rect(frame.x, frame.y, frame.width, frame.height)};"
        )
        body.append(
            f"\\node[{text}, anchor=north west, inner sep=2pt] at "
            f"({_n(frame.x)},{_n(frame.y)}) {{{tex(frame.label)}}};"
        )
    body.append("% connections")
    for link in scene.links:
        path = " -- ".join(f"({_n(x)},{_n(y)})" for x, y in link.points)
        body.append(f"\\draw[{line}, -{{Stealth[length=4pt]}}] {path};")
    body.append("% layers")
    for node in scene.nodes:
        name = f"layer-{re.sub(r'[^A-Za-z0-9-]', '-', node.id)}"
        body.append(f"% {tex(node.type)} ({node.kind})")
        body.extend(_shape(node, colors(node.fill), colors(node.stroke)))
        cx = node.front[0] + node.front[2] / 2
        label = r" \\ ".join(tex(part) for part in node.label)
        if node.label_at == "inside":
            body.append(
                f"\\node[{text}, align=center, inner sep=1pt] ({name}) at "
                f"({_n(cx)},{_n(node.y + node.height / 2)}) {{{label}}};"
            )
        else:
            body.append(
                f"\\coordinate ({name}) at ({_n(cx)},{_n(node.front[1] + node.front[3] / 2)});"
            )
            body.append(
                f"\\node[{text}, anchor=north, align=center, inner sep=1pt] at "
                f"({_n(cx)},{_n(node.y + node.height + 4)}) {{{label}}};"
            )
    head = [
        "% " + tex(scene.title) + ", drawn by model-diagram",
        "\\documentclass[tikz,border=2pt]{standalone}",
        "\\usepackage[T1]{fontenc}",
        _FONT_PACKAGES[scene.font.name],
        "\\usetikzlibrary{arrows.meta}",
        *colors.definitions(),
        "\\begin{document}",
        "\\begin{tikzpicture}[x=0.75pt, y=-0.75pt, line join=round,",
        f"  every node/.style={{font=\\fontsize{{{_n(size)}}}{{{_n(size * 1.2)}}}\\selectfont}}]",
    ]
    return ("\n".join([*head, *body, "\\end{tikzpicture}", "\\end{document}"]) + "\n").encode()
