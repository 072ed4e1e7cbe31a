"""A scene as a diagrams.net (draw.io) file: one vertex per layer, one edge per link.

Layers keep their position, size and colours; a layered box is draw.io's
``cube`` shape with our depth (mirrored so the depth goes up-right, as drawn);
labels sit under figure layers and inside graph boxes. Edges are connected to
their layers (moving a layer drags its edges) and keep our route as waypoints.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..scene import Node, Scene


def _style(pairs: dict[str, str | float]) -> str:
    return "".join(f"{key}={value};" for key, value in pairs.items())


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _vertex_style(node: Node, scene: Scene) -> str:
    style: dict[str, str | float] = {
        "whiteSpace": "wrap",
        "html": 0,
        "fillColor": node.fill,
        "strokeColor": node.stroke,
        "fontColor": scene.text,
        "fontFamily": scene.font.graphviz,
        "fontSize": _num(scene.font_size * 0.75),
    }
    if node.opacity < 1:
        style["fillOpacity"] = round(node.opacity * 100)
    if node.shape == "cube":
        style = {"shape": "cube", "size": _num(node.depth), "flipH": 1, **style}
        style |= {"darkOpacity": 0.05, "darkOpacity2": 0.15}
    elif node.shape == "circle":
        style = {"ellipse": "", **style, "aspect": "fixed"}
    elif node.shape == "planes":
        style = {"rounded": 0, **style, "shadow": 1}
    else:
        style = {"rounded": 0, **style}
    if node.label_at == "below":
        style |= {"verticalLabelPosition": "bottom", "verticalAlign": "top", "align": "center"}
    return _style(style).replace("ellipse=;", "ellipse;")


def _geometry(node: Node) -> tuple[float, float, float, float]:
    # a stack of planes is edited as its front plane; everything else as its bounds
    if node.shape == "planes":
        return node.front
    return node.x, node.y, node.width, node.height


def _el(parent: ET.Element, tag: str, attrs: dict[str, str]) -> ET.Element:
    return ET.SubElement(parent, tag, attrs)


def write(scene: Scene) -> bytes:
    """The diagrams.net XML of ``scene`` (deterministic bytes)."""
    mxfile = ET.Element("mxfile", {"host": "model-diagram", "type": "device"})
    diagram = _el(mxfile, "diagram", {"id": "model-diagram", "name": scene.title[:60]})
    settings = {"grid": "0", "gridSize": "10", "guides": "1", "tooltips": "1", "connect": "1"}
    settings |= {"arrows": "1", "fold": "1", "page": "0", "pageScale": "1", "math": "0"}
    settings |= {"pageWidth": _num(scene.width), "pageHeight": _num(scene.height)}
    if scene.background:
        settings["background"] = scene.background
    root = _el(_el(diagram, "mxGraphModel", settings), "root", {})
    _el(root, "mxCell", {"id": "0"})
    _el(root, "mxCell", {"id": "1", "parent": "0"})
    frame_style = _style(
        {
            "rounded": 1,
            "dashed": 1,
            "html": 0,
            "fillColor": "none",
            "strokeColor": scene.line,
            "fontColor": scene.text,
            "fontFamily": scene.font.graphviz,
            "verticalAlign": "top",
            "align": "left",
            "spacingLeft": 4,
        }
    )
    for frame in scene.frames:  # first, so they sit behind the layers
        cell = _el(
            root,
            "mxCell",
            {
                "id": f"frame-{frame.id}",
                "value": frame.label,
                "style": frame_style,
                "vertex": "1",
                "parent": "1",
            },
        )
        box = {"x": _num(frame.x), "y": _num(frame.y)}
        box |= {"width": _num(frame.width), "height": _num(frame.height)}
        _el(cell, "mxGeometry", {**box, "as": "geometry"})
    ids = {}
    for node in scene.nodes:
        ids[node.id] = f"layer-{node.id}"
        cell = _el(
            root,
            "mxCell",
            {
                "id": ids[node.id],
                "value": "\n".join(node.label),
                "tooltip": f"{node.type} ({node.kind})",
                "style": _vertex_style(node, scene),
                "vertex": "1",
                "parent": "1",
            },
        )
        x, y, w, h = _geometry(node)
        geometry = {"x": _num(x), "y": _num(y), "width": _num(w), "height": _num(h)}
        _el(cell, "mxGeometry", {**geometry, "as": "geometry"})
    edge_style = _style(
        {
            "edgeStyle": "none",
            "html": 0,
            "rounded": 0,
            "endArrow": "block",
            "endSize": 4,
            "strokeColor": scene.line,
        }
    )
    for i, link in enumerate(scene.links):
        cell = _el(
            root,
            "mxCell",
            {
                "id": f"link-{i}",
                "style": edge_style,
                "edge": "1",
                "parent": "1",
                "source": ids[link.tail],
                "target": ids[link.head],
            },
        )
        geometry_el = _el(cell, "mxGeometry", {"relative": "1", "as": "geometry"})
        if len(link.points) > 2:
            points = _el(geometry_el, "Array", {"as": "points"})
            for x, y in link.points[1:-1]:
                _el(points, "mxPoint", {"x": _num(x), "y": _num(y)})
    ET.indent(mxfile)
    data: bytes = ET.tostring(mxfile, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
