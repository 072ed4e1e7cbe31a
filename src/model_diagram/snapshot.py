"""Architecture snapshots: the layer graph as a stable, comparable JSON file.

A snapshot is the traced layer graph with every id replaced by one derived
from the model's structure (``module:encoder.0``, ``function:encoder.add``,
``input:x``, ``output``; ``#2`` for a second call), so two traces of the same
architecture give the same bytes on any machine, and a diff can match layers
by name. The schema is documented in ``docs/reference/snapshot.rst``; bump
:data:`SCHEMA` when its meaning changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import OptionError
from .layergraph import LayerGraph

#: a traced graph, or one read back from a snapshot file (structural ids, dict form)
Graph = LayerGraph | Mapping[str, Any]

#: the snapshot format's name and version, written into every file
SCHEMA = "model-diagram.architecture/1"

#: larger files are refused (a hostile file must not make a build crawl)
MAX_LAYERS = 50_000

#: layer fields a snapshot keeps (render-only fields such as repeat badges are dropped)
LAYER_FIELDS = (
    "id",
    "kind",
    "name",
    "depth",
    "label",
    "qualname",
    "cls",
    "params",
    "inputs",
    "outputs",
    "in_dtypes",
    "out_dtypes",
    "cluster",
    "scope",
)


def trace_form(graph: Graph) -> Mapping[str, Any]:
    """The dict form this module reads (``nodes``, ``clusters``; absent fields ``None``),
    from a :class:`LayerGraph`; a graph read back from a snapshot is already in it."""
    if not isinstance(graph, LayerGraph):
        return graph
    nodes = []
    for layer in graph.layers:
        module = layer.kind == "module" and layer.cls is not None
        nodes.append(
            {
                "id": layer.id,
                "kind": layer.kind,
                "name": layer.name,
                "depth": layer.depth,
                "label": layer.label,
                "qualname": layer.qualname,
                "cls": layer.cls,
                "params": layer.params if module else None,
                "inputs": [list(shape) for shape in layer.inputs],
                "outputs": [list(shape) for shape in layer.outputs],
                "in_dtypes": list(layer.in_dtypes) or None,
                "out_dtypes": list(layer.out_dtypes) or None,
                "cluster": layer.cluster,
                "scope": layer.scope,
            }
        )
    return {
        "model": graph.model,
        "nodes": nodes,
        "edges": [{"tail": e.tail, "head": e.head, "count": e.count} for e in graph.edges],
        "clusters": [{"id": g.id, "label": g.label, "parent": g.parent} for g in graph.groups],
    }


def stable_ids(graph: Graph) -> dict[str, str]:
    """Trace id -> structural id: the same architecture always gets the same ids."""
    graph = trace_form(graph)
    seen: dict[str, int] = {}
    ids: dict[str, str] = {}
    for node in graph["nodes"]:
        kind = node["kind"]
        if kind == "module":
            path = node.get("qualname") or node["name"]
        elif kind == "function":
            scope = node.get("scope") or ""
            path = f"{scope}.{node['name']}" if scope else node["name"]
        elif kind == "input":
            path = node.get("label") or ""
        elif kind == "tensor":
            path = node.get("scope") or ""
        else:  # outputs, in the order forward returns them
            path = ""
        base = f"{kind}:{path}" if path else kind
        seen[base] = seen.get(base, 0) + 1
        ids[node["id"]] = base if seen[base] == 1 else f"{base}#{seen[base]}"
    return ids


def total_params(graph: Graph) -> int:
    """Parameters of the drawn modules, each module counted once (reuse and nesting too)."""
    graph = trace_form(graph)
    params = {
        n.get("qualname") or "": n.get("params") or 0
        for n in graph["nodes"]
        if n["kind"] == "module"
    }
    if "" in params:  # the model itself is drawn: it holds everything
        return int(params[""])

    def nested(qualname: str) -> bool:
        parts = qualname.split(".")
        return any(".".join(parts[:i]) in params for i in range(1, len(parts)))

    return sum(count for qualname, count in params.items() if not nested(qualname))


def snapshot(graph: Graph) -> dict[str, Any]:
    """The snapshot of a layer graph: structural ids, stable order, ``schema`` field."""
    graph = trace_form(graph)
    ids = stable_ids(graph)
    groups = {c["id"]: f"group:{i}" for i, c in enumerate(graph.get("clusters", []))}
    layers = []
    for node in graph["nodes"]:
        layer = {k: node[k] for k in LAYER_FIELDS if node.get(k) is not None}
        layer["id"] = ids[node["id"]]
        if node.get("cluster") is not None:
            layer["cluster"] = groups[node["cluster"]]
        layers.append(layer)
    order = {ids[n["id"]]: i for i, n in enumerate(graph["nodes"])}
    edges = sorted(
        (
            {"tail": ids[e["tail"]], "head": ids[e["head"]], "count": e["count"]}
            for e in graph["edges"]
        ),
        key=lambda e: (order[e["tail"]], order[e["head"]]),
    )
    clusters = [
        {
            "id": groups[c["id"]],
            "label": c["label"],
            "parent": None if c.get("parent") is None else groups[c["parent"]],
        }
        for c in graph.get("clusters", [])
    ]
    return {
        "schema": SCHEMA,
        "model": graph.get("model", "Model"),
        "params": total_params(graph),
        "layers": layers,
        "edges": edges,
        "groups": clusters,
    }


def to_json(graph: Graph) -> str:
    """Byte-stable text: sorted keys, one layer or edge per line (so a review's diff
    of the file reads layer by layer), one trailing newline."""
    data = snapshot(graph)

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    parts = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list) and value:
            items = ",\n".join(f"  {dump(item)}" for item in value)
            parts.append(f"{dump(key)}: [\n{items}\n ]")
        else:
            parts.append(f"{dump(key)}: {dump(value)}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def from_json(text: str, source: str = "snapshot") -> dict[str, Any]:
    """Read a snapshot back into a layer graph any style or the diff can use."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise OptionError(f"{source} is not JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise OptionError(
            f"{source} is not a model-diagram snapshot (schema {found!r}, expected {SCHEMA!r}); "
            "write one with 'model-diagram render FACTORY -o arch.json'"
        )
    try:
        return _checked(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise OptionError(f"{source} is a damaged snapshot ({type(exc).__name__}: {exc})") from None


def load(path: Path) -> dict[str, Any]:
    """A snapshot file as a layer graph; a clear error when it is missing or not one."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"cannot read the snapshot {str(path)!r} ({exc})") from None
    return from_json(text, f"{path.name!r}")


def _shapes(value: Any) -> list[list[int]]:
    if not isinstance(value, list):
        raise TypeError("shapes must be a list of lists of integers")
    out = []
    for shape in value:
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape
        ):
            raise TypeError(f"bad shape {shape!r}")
        out.append(list(shape))
    return out


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    """Validate field types (a snapshot is input from a file; it may be hand-edited)."""
    kinds = {"input", "output", "tensor", "module", "function"}
    if len(data["layers"]) > MAX_LAYERS or len(data["edges"]) > 4 * MAX_LAYERS:
        raise ValueError(f"more than {MAX_LAYERS:,} layers")
    nodes = []
    for raw in data["layers"]:
        node = {k: raw[k] for k in LAYER_FIELDS if k in raw}
        if not isinstance(node["id"], str) or node["kind"] not in kinds:
            raise ValueError(f"bad layer {raw.get('id')!r}")
        node.setdefault("name", node["kind"])
        node.setdefault("depth", 0)
        node.setdefault("cluster", None)
        node["inputs"] = _shapes(node.get("inputs", []))
        node["outputs"] = _shapes(node.get("outputs", []))
        for key in ("name", "label", "qualname", "cls", "scope"):
            if key in node and not isinstance(node[key], str):
                raise TypeError(f"layer {node['id']!r}: {key} must be text")
        for key in ("in_dtypes", "out_dtypes"):
            if key in node and not (
                isinstance(node[key], list) and all(isinstance(d, str) for d in node[key])
            ):
                raise TypeError(f"layer {node['id']!r}: {key} must be a list of text")
        for key in ("depth", "params"):
            if key in node and (not isinstance(node[key], int) or isinstance(node[key], bool)):
                raise TypeError(f"layer {node['id']!r}: {key} must be an integer")
        nodes.append(node)
    ids = {n["id"] for n in nodes}
    if len(ids) != len(nodes):
        raise ValueError("two layers have the same id")
    edges = []
    for edge in data["edges"]:
        if edge["tail"] not in ids or edge["head"] not in ids:
            raise ValueError(f"edge {edge['tail']!r} -> {edge['head']!r} names an unknown layer")
        edges.append({"tail": edge["tail"], "head": edge["head"], "count": int(edge["count"])})
    clusters = [
        {"id": str(c["id"]), "label": str(c["label"]), "parent": c.get("parent")}
        for c in data.get("groups", [])
    ]
    groups = {c["id"] for c in clusters}
    for item in [*clusters, *nodes]:
        parent = item.get("parent", item.get("cluster"))
        if parent is not None and parent not in groups:
            raise ValueError(f"{item['id']!r} is in an unknown cluster {parent!r}")
    return {
        "model": str(data.get("model", "Model")),
        "nodes": nodes,
        "edges": edges,
        "clusters": clusters,
    }
