"""A scene as GraphML (networkx writes it): layers with position, size, label, colours."""

from __future__ import annotations

import io

from ..scene import Scene


def write(scene: Scene) -> bytes:
    """GraphML of ``scene``: node data ``label, kind, type, shape, x, y, width, height,
    fill, stroke`` (px, y down); edge data ``points`` ("x,y x,y ...")."""
    import networkx as nx  # imported when asked for: only this export needs it

    graph = nx.DiGraph(name=scene.title)
    for node in scene.nodes:
        graph.add_node(
            f"layer-{node.id}",
            label="\n".join(node.label),
            kind=node.kind,
            type=node.type,
            shape=node.shape,
            x=node.x,
            y=node.y,
            width=node.width,
            height=node.height,
            fill=node.fill,
            stroke=node.stroke,
        )
    for link in scene.links:
        graph.add_edge(
            f"layer-{link.tail}",
            f"layer-{link.head}",
            points=" ".join(f"{x:.2f},{y:.2f}" for x, y in link.points),
        )
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue()
