"""One list of drawing primitives -> SVG and PNG (Pillow); PDF is the SVG converted.

The layered and LeNet styles draw into a :class:`Canvas` (polygons, polylines
and text in CSS pixels at 96 dpi, y pointing down) and each output format is a
straight translation of the same list, so the SVG on a page, the PNG from
``save("x.png", dpi=300)`` and the PDF always show the same figure. SVG (and the
PDF made from it) are vector and byte-for-byte deterministic; PNG is rasterised by
Pillow with
supersampling (imported only when a PNG is asked for).

Colours are *paints*: named classes whose fill/stroke come from CSS custom
properties with light defaults, e.g. ``fill: var(--model-diagram-layer-conv2d, #e69f00)``.
The SVG carries one ``<style>`` element with these rules, scoped by a
per-diagram class so two diagrams on a page never share rules, and every
element also gets the default colour as a presentation attribute, for viewers
without CSS. A theme (dark mode) overrides the variables; PNG and PDF use the
defaults.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import RenderError
from ..fonts import FAMILIES, FontFamily
from ..scene import Scene

SANS = FAMILIES["sans-serif"]

#: ascent of the font as a fraction of the font size (cap height is ~0.72)
ASCENT = 0.72


@dataclass(frozen=True)
class Color:
    """A paint colour: a CSS custom property with its default (``var`` may be empty)."""

    default: str  # "#rrggbb"
    var: str = ""

    def css(self) -> str:
        return f"var({self.var}, {self.default})" if self.var else self.default

    def rgb(self) -> tuple[int, int, int]:
        return parse_hex(self.default)


@dataclass(frozen=True)
class Paint:
    """How a class of primitives is coloured (a CSS rule in SVG)."""

    fill: Color | None = None
    stroke: Color | None = None
    fill_opacity: float = 1.0
    stroke_width: float = 1.0


@dataclass(frozen=True)
class Poly:
    """A polygon (``closed``) or polyline; ``paint`` names a :class:`Paint`."""

    points: tuple[tuple[float, float], ...]
    paint: str
    cls: str = ""
    closed: bool = True


@dataclass(frozen=True)
class Text:
    """One line of text; ``y`` is the baseline; ``rotate`` is 0 or -90 (reads upwards)."""

    x: float
    y: float
    text: str
    size: float
    paint: str
    anchor: str = "start"  # start | middle | end
    cls: str = ""
    rotate: int = 0


@dataclass
class Group:
    """A semantic group (one layer, the legend, ...) with its own class, title and data."""

    cls: str
    title: str = ""
    data: dict[str, str] = field(default_factory=dict)
    items: list[Poly | Text | Group] = field(default_factory=list)

    def add(self, item: Poly | Text | Group) -> None:
        self.items.append(item)


@dataclass
class Canvas:
    """A figure: size in CSS px, the paints it uses, and its groups of primitives."""

    width: float
    height: float
    paints: dict[str, Paint]
    root: Group
    background: Color | None = None
    #: a text description of the figure (the SVG's accessible description)
    description: str = ""
    font: FontFamily = SANS
    #: CSS variables set on the figure itself (a painted background fixes its ink)
    pinned: dict[str, str] = field(default_factory=dict)
    #: facts about the layout for the caller (not drawn)
    data: dict[str, str] = field(default_factory=dict)
    #: the same figure as editable shapes and links (draw.io, TikZ, GraphML exports)
    scene: Scene | None = None
    #: printed size / drawn size (``print-width``): the SVG's width and height, PNG pixels
    #: and PDF page are scaled by it, the drawing's own coordinates are not
    print_scale: float = 1.0

    def walk(self) -> Iterator[Poly | Text]:
        def visit(group: Group) -> Iterator[Poly | Text]:
            for item in group.items:
                if isinstance(item, Group):
                    yield from visit(item)
                else:
                    yield item

        return visit(self.root)


def parse_hex(value: str) -> tuple[int, int, int]:
    text = value.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def num(value: float) -> str:
    """A coordinate as short, stable text (two decimals at most)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


#: largest side of a figure, in px: options multiply sizes, and a page cannot show more
MAX_SIDE = 100_000.0
#: most pixels of a PNG (about 200 MB of RGBA while it is drawn)
MAX_PIXELS = 50_000_000


def export(canvas: Canvas, fmt: str, dpi: int, scope: str) -> bytes:
    """The figure as ``svg`` (to be passed through ``clean_svg``, or converted to PDF by
    :mod:`model_diagram.pdf`) or ``png``.

    A figure too large to show (sizes and spacing multiply) is refused, never drawn
    with an infinite or enormous ``viewBox``.
    """
    w, h = canvas.width, canvas.height
    if not (math.isfinite(w) and math.isfinite(h)) or max(w, h) > MAX_SIDE:
        raise RenderError(
            f"the figure would be {w:.3g} x {h:.3g} px (at most {MAX_SIDE:.0f} px a side); "
            "use smaller spacing, sizes, scales or font-size"
        )
    if fmt == "png" and w * h * (dpi / 96.0) ** 2 > MAX_PIXELS:
        raise RenderError(
            f"a PNG of this figure at {dpi} dpi would have over {MAX_PIXELS:,} pixels; "
            "lower dpi or save as SVG"
        )
    if fmt == "png":
        return to_png(canvas, dpi)
    return to_svg(canvas, scope).encode("utf-8")


# -- SVG


def to_svg(canvas: Canvas, scope: str) -> str:
    """SVG text; ``scope`` is a class unique to this diagram that scopes the style rules."""
    w, h = num(canvas.width), num(canvas.height)
    # sized in pt with a viewBox in pt, like Graphviz's SVG (the page viewer expects it);
    # the drawing itself stays in px, scaled by 3/4
    wpt, hpt = num(canvas.width * 0.75), num(canvas.height * 0.75)
    k = canvas.print_scale
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(canvas.width * 0.75 * k)}pt" '
        f'height="{num(canvas.height * 0.75 * k)}pt" viewBox="0 0 {wpt} {hpt}">',
        "<style>" + _style_rules(canvas, scope) + "</style>",
        f'<g class="{scope} md-figure" transform="scale(0.75)" '
        f'font-family="{html.escape(canvas.font.css)}">',
    ]
    if canvas.background is not None:
        out.append(
            f'<rect class="md-background" x="0" y="0" width="{w}" height="{h}" '
            f'fill="{canvas.background.default}"/>'
        )
    _svg_group(canvas.root, canvas.paints, out)
    out.append("</g></svg>")
    return "\n".join(out)


def _style_rules(canvas: Canvas, scope: str) -> str:
    rules = []
    if canvas.pinned:
        pins = ";".join(f"{var}:{value}" for var, value in sorted(canvas.pinned.items()))
        rules.append(f".{scope}{{{pins}}}")
    if canvas.background is not None:
        rules.append(f".{scope} .md-background{{fill:{canvas.background.css()}}}")
    for name, paint in sorted(canvas.paints.items()):
        decl = []
        if paint.fill is not None:
            decl.append(f"fill:{paint.fill.css()}")
        if paint.stroke is not None:
            decl.append(f"stroke:{paint.stroke.css()}")
        rules.append(f".{scope} .{name}{{{';'.join(decl)}}}")
    return "".join(rules)


def _paint_attrs(paint: Paint, closed: bool) -> str:
    attrs = []
    if paint.fill is not None and closed:
        attrs.append(f'fill="{paint.fill.default}"')
        if paint.fill_opacity < 1:
            attrs.append(f'fill-opacity="{num(paint.fill_opacity)}"')
    else:
        attrs.append('fill="none"')
    if paint.stroke is not None:
        attrs.append(f'stroke="{paint.stroke.default}" stroke-width="{num(paint.stroke_width)}"')
        attrs.append('stroke-linejoin="round"')
    return " ".join(attrs)


def _svg_group(group: Group, paints: dict[str, Paint], out: list[str]) -> None:
    data = "".join(
        f' data-{key}="{html.escape(value, quote=True)}"' for key, value in group.data.items()
    )
    out.append(f'<g class="{group.cls}"{data}>')
    if group.title:
        out.append(f"<title>{html.escape(group.title, quote=False)}</title>")
    for item in group.items:
        if isinstance(item, Group):
            _svg_group(item, paints, out)
        elif isinstance(item, Poly):
            paint = paints[item.paint]
            points = " ".join(f"{num(x)},{num(y)}" for x, y in item.points)
            tag = "polygon" if item.closed else "polyline"
            cls = f"{item.cls} {item.paint}".strip()
            out.append(
                f'<{tag} class="{cls}" points="{points}" {_paint_attrs(paint, item.closed)}/>'
            )
        else:
            paint = paints[item.paint]
            fill = paint.fill.default if paint.fill else "#000000"
            cls = f"{item.cls} {item.paint}".strip()
            rotate = (
                f' transform="rotate({item.rotate} {num(item.x)} {num(item.y)})"'
                if item.rotate
                else ""
            )
            out.append(
                f'<text class="{cls}" x="{num(item.x)}" y="{num(item.y)}" '
                f'font-size="{num(item.size)}" text-anchor="{item.anchor}" fill="{fill}"'
                f"{rotate}>{html.escape(item.text, quote=False)}</text>"
            )
    out.append("</g>")


# -- PNG (Pillow)


def to_png(canvas: Canvas, dpi: int) -> bytes:
    """Rasterise at ``dpi`` (the SVG is 96 dpi) with 2-4x supersampling for smooth edges."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise RenderError(
            "PNG output of the layered and lenet styles needs Pillow: 'pip install pillow' "
            "(or save as .svg or .pdf)"
        ) from None
    scale = dpi / 96.0 * canvas.print_scale
    width = max(1, round(canvas.width * scale))
    height = max(1, round(canvas.height * scale))
    ss = max(1, min(4, int(math.sqrt(48e6 / (width * height)))))
    k = scale * ss
    background = (*canvas.background.rgb(), 255) if canvas.background else (255, 255, 255, 0)
    image = Image.new("RGBA", (width * ss, height * ss), background)
    draw = ImageDraw.Draw(image, "RGBA")
    fonts: dict[int, Any] = {}
    for item in canvas.walk():
        paint = canvas.paints[item.paint]
        if isinstance(item, Poly):
            points = [(x * k, y * k) for x, y in item.points]
            if item.closed and paint.fill is not None:
                alpha = round(255 * paint.fill_opacity)
                if alpha >= 255:
                    draw.polygon(points, fill=(*paint.fill.rgb(), 255))
                elif alpha > 0:
                    _composite_polygon(image, points, (*paint.fill.rgb(), alpha))
            if paint.stroke is not None:
                line = [*points, points[0]] if item.closed else points
                draw.line(
                    line,
                    fill=(*paint.stroke.rgb(), 255),
                    width=max(1, round(paint.stroke_width * k)),
                    joint="curve",
                )
        else:
            size = max(1, round(item.size * k))
            font = fonts.get(size) or fonts.setdefault(size, _font(size, canvas.font))
            fill = (*(paint.fill.rgb() if paint.fill else (0, 0, 0)), 255)
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[item.anchor]
            if not item.rotate:
                draw.text((item.x * k, item.y * k), item.text, font=font, fill=fill, anchor=anchor)
                continue
            # draw horizontally on a scratch image, turn it, paste with its baseline in place
            length = draw.textlength(item.text, font=font)
            pad = size * 2
            scratch = Image.new("RGBA", (int(length + 2 * pad), int(3 * size)), (0, 0, 0, 0))
            offset = {"start": pad, "middle": pad + length / 2, "end": pad + length}[item.anchor]
            ImageDraw.Draw(scratch).text(
                (offset, 2 * size), item.text, font=font, fill=fill, anchor=anchor
            )
            turned = scratch.rotate(90, expand=True)
            # after a 90 degree turn the point (offset, 2*size) lands at (2*size, w - offset)
            x = round(item.x * k - 2 * size)
            y = round(item.y * k - (scratch.width - offset))
            image.alpha_composite(turned, (max(0, x), max(0, y)))
    if ss > 1:
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buffer.getvalue()


def _composite_polygon(
    image: Any, points: list[tuple[float, float]], rgba: tuple[int, int, int, int]
) -> None:
    """Blend a translucent polygon over ``image`` (drawing on RGBA would replace pixels)."""
    from PIL import Image, ImageDraw

    left = max(0, math.floor(min(x for x, _ in points)))
    top = max(0, math.floor(min(y for _, y in points)))
    right = min(image.width, math.ceil(max(x for x, _ in points)) + 1)
    bottom = min(image.height, math.ceil(max(y for _, y in points)) + 1)
    if right <= left or bottom <= top:
        return
    layer = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(layer).polygon([(x - left, y - top) for x, y in points], fill=rgba)
    image.alpha_composite(layer, (left, top))


def _font(size: int, family: FontFamily) -> Any:
    """A metric-compatible font when the system has one, else Pillow's own scalable font."""
    from PIL import ImageFont

    for name in (*family.files, "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)
