"""The editable view of a figure: one shape per layer, one link per connection.

Every style reduces to a :class:`Scene` (positions in CSS px, y down, resolved
colours): the figure styles while they compose, the graph style from the
engine's own ``-Tjson`` layout. The editable exports (draw.io, TikZ, GraphML)
write a scene, so they show the layout and colours of the figure they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fonts import FAMILIES, FontFamily


@dataclass(frozen=True)
class Node:
    """One layer. ``x, y, width, height`` bound all of it (3D depth, stacked planes);
    ``front`` is its front face (x, y, width, height); ``shape`` is ``box``, ``cube``
    (depth going up-right), ``planes`` (stacked, going down-right) or ``circle``."""

    id: str
    label: tuple[str, ...]
    kind: str
    type: str
    x: float
    y: float
    width: float
    height: float
    front: tuple[float, float, float, float]
    shape: str = "box"
    depth: float = 0.0
    planes: int = 1
    fill: str = "#ffffff"
    stroke: str = "#000000"
    opacity: float = 1.0
    #: "below" (figure styles) or "inside" (graph boxes)
    label_at: str = "below"


@dataclass(frozen=True)
class Link:
    """A connection from ``tail`` to ``head`` along ``points`` (at least two)."""

    tail: str
    head: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Frame:
    """A labelled frame around a group of layers (a nested module, a repeated block)."""

    id: str
    label: str
    x: float
    y: float
    width: float
    height: float


@dataclass
class Scene:
    """A figure's layers and connections, for the editable exports."""

    width: float
    height: float
    nodes: list[Node] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    background: str | None = None
    text: str = "#1b1f23"
    line: str = "#4a5159"
    font: FontFamily = FAMILIES["sans-serif"]
    font_size: float = 12.0
    title: str = "Model"
    #: drawn behind the layers
    frames: list[Frame] = field(default_factory=list)
