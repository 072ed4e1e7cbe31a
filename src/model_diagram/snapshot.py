"""Architecture snapshots: the layer graph as a stable, comparable JSON file.

A snapshot is a projection of :class:`~model_diagram.layergraph.LayerGraph`:
every id is replaced by one derived from the model's structure
(``module:encoder.0``, ``function:encoder.add``, ``input:x``, ``output``;
``#2`` for a second call) and render-only fields are dropped, so two traces
of the same architecture give the same bytes on any machine, and a diff can
match layers by name. The schema is documented in
``docs/reference/snapshot.rst``; bump :data:`SCHEMA` when its meaning changes.
Reading one back gives a ``LayerGraph`` again, checked like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import layergraph
from .errors import OptionError
from .layergraph import Layer, LayerGraph, LayerGraphError

#: the snapshot format's name and version, written into every file
SCHEMA = "model-diagram.architecture/1"

#: larger files are refused (a hostile file must not make a build crawl)
MAX_LAYERS = 50_000

#: layer fields a snapshot may hold besides ``id`` (repeat badges are drawing-only)
LAYER_FIELDS = (
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


def stable_ids(graph: LayerGraph) -> dict[str, str]:
    """Trace id -> structural id: the same architecture always gets the same ids."""
    seen: dict[str, int] = {}
    ids: dict[str, str] = {}
    for layer in graph.layers:
        if layer.kind == "module":
            path = layer.qualname or layer.name
        elif layer.kind == "function":
            path = f"{layer.scope}.{layer.name}" if layer.scope else layer.name
        elif layer.kind == "input":
            path = layer.label or ""
        elif layer.kind == "tensor":
            path = layer.scope or ""
        else:  # outputs, in the order forward returns them
            path = ""
        base = f"{layer.kind}:{path}" if path else layer.kind
        seen[base] = seen.get(base, 0) + 1
        ids[layer.id] = base if seen[base] == 1 else f"{base}#{seen[base]}"
    return ids


def total_params(graph: LayerGraph) -> int:
    """Parameters of the drawn modules, each module counted once (reuse and nesting too)."""
    params = {
        layer.qualname or "": layer.params for layer in graph.layers if layer.kind == "module"
    }
    if "" in params:  # the model itself is drawn: it holds everything
        return params[""]

    def nested(qualname: str) -> bool:
        parts = qualname.split(".")
        return any(".".join(parts[:i]) in params for i in range(1, len(parts)))

    return sum(count for qualname, count in params.items() if not nested(qualname))


def _layer(layer: Layer, sid: str, group: str | None) -> dict[str, Any]:
    """One layer of a snapshot: empty fields left out; a module always gives its
    qualified name and parameter count."""
    values: dict[str, Any] = {
        "kind": layer.kind,
        "name": layer.name,
        "depth": layer.depth,
        "label": layer.label,
        "qualname": layer.qualname,
        "cls": layer.cls,
        "inputs": [list(shape) for shape in layer.inputs],
        "outputs": [list(shape) for shape in layer.outputs],
        "in_dtypes": list(layer.in_dtypes),
        "out_dtypes": list(layer.out_dtypes),
        "cluster": group,
        "scope": layer.scope,
    }
    found = {k: v for k, v in values.items() if v not in (None, "", [])}
    if layer.kind == "module":
        found.update(qualname=layer.qualname or "", params=layer.params)
    return {"id": sid, **found}


def snapshot(graph: LayerGraph) -> dict[str, Any]:
    """The snapshot of a layer graph: structural ids, stable order, ``schema`` field."""
    ids = stable_ids(graph)
    groups = {group.id: f"group:{i}" for i, group in enumerate(graph.groups)}
    layers = [
        _layer(layer, ids[layer.id], None if layer.cluster is None else groups[layer.cluster])
        for layer in graph.layers
    ]
    order = {layer.id: i for i, layer in enumerate(graph.layers)}
    edges = [
        {"tail": ids[e.tail], "head": ids[e.head], "count": e.count}
        for e in sorted(graph.edges, key=lambda e: (order[e.tail], order[e.head]))
    ]
    group_list = [
        {
            "id": groups[g.id],
            "label": g.label,
            "parent": None if g.parent is None else groups[g.parent],
        }
        for g in graph.groups
    ]
    return {
        "schema": SCHEMA,
        "model": graph.model,
        "params": total_params(graph),
        "layers": layers,
        "edges": edges,
        "groups": group_list,
    }


def to_json(graph: LayerGraph) -> str:
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


def from_json(text: str, source: str = "snapshot") -> LayerGraph:
    """Read a snapshot back into a layer graph (ids ``0..n``) any style or the diff can use."""
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
        return LayerGraph.from_dict(_graph_form(data))
    except (LayerGraphError, KeyError, TypeError, ValueError) as exc:
        raise OptionError(f"{source} is a damaged snapshot ({exc})") from None


def load(path: Path) -> LayerGraph:
    """A snapshot file as a layer graph; a clear error when it is missing or not one."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"cannot read the snapshot {str(path)!r} ({exc})") from None
    return from_json(text, f"{path.name!r}")


def _graph_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """The layer graph's JSON form of a snapshot: structural ids mapped to ``0..n``
    (:meth:`LayerGraph.from_dict` then checks every field and reference)."""
    layers, edges, groups = (_list(data, key) for key in ("layers", "edges", "groups"))
    if len(layers) > MAX_LAYERS or len(edges) > 4 * MAX_LAYERS:
        raise ValueError(f"more than {MAX_LAYERS:,} layers")
    group_ids = {str(g.get("id")): f"g{i}" for i, g in enumerate(groups)}
    layer_ids: dict[str, str] = {}
    for i, layer in enumerate(layers):
        if str(layer.get("id")) in layer_ids:
            raise ValueError(f"two layers have the id {layer.get('id')!r}")
        layer_ids[str(layer.get("id"))] = str(i)

    def ref(table: Mapping[str, str], value: Any, what: str) -> str | None:
        if value is None:
            return None
        if str(value) not in table:
            raise ValueError(f"{value!r} names an unknown {what}")
        return table[str(value)]

    return {
        "schema": layergraph.SCHEMA,
        "model": data.get("model", "Model"),
        "layers": [
            {
                **{k: v for k, v in layer.items() if k in LAYER_FIELDS},
                "id": layer_ids[str(layer.get("id"))],
                "cluster": ref(group_ids, layer.get("cluster"), "group"),
            }
            for layer in layers
        ],
        "edges": [
            {
                **edge,
                "tail": ref(layer_ids, edge.get("tail"), "layer"),
                "head": ref(layer_ids, edge.get("head"), "layer"),
            }
            for edge in edges
        ],
        "groups": [
            {
                **g,
                "id": group_ids[str(g.get("id"))],
                "parent": ref(group_ids, g.get("parent"), "group"),
            }
            for g in groups
        ],
    }


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise TypeError(f"{key!r} must be a list of objects")
    return value
