"""Fold a full-depth layer graph into views that fit a node budget (``max-nodes``).

A diagram is traced once at full depth; every view is derived from that one
graph, so views are cheap (no torch, no trace) and consistent with each other.
A view is the inside of one module (the model itself for the overview) drawn
``level`` module levels deep: whatever lies deeper is folded into one node
for the module that holds it. The explorer opens a folded node as its own
view. Modules are known from the trace's ``modules`` record (every module with
children the walk entered) and the leaf module nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .layergraph import SCHEMA, Layer, LayerGraph
from .styles.repeats import collapse_repeats

#: the explorer draws at most this many views of one diagram (a safety limit, not a budget)
MAX_VIEWS = 400


@dataclass(frozen=True)
class ViewGraph:
    """One view: the module it opens (``""`` for the whole model) and its layer graph."""

    key: str
    title: str
    parent: str | None
    graph: LayerGraph
    #: SVG element id (``n12``, ``cluster_repeat_0``) -> the view that opens it
    targets: dict[str, str] = field(default_factory=dict)
    #: the layers as drawn (repeated blocks collapsed, badges set)
    shown: tuple[Layer, ...] = ()


@dataclass(frozen=True)
class Exploration:
    """Every view of a diagram, the search index and the repeat aliases."""

    views: list[ViewGraph]
    #: {"label", "type", "view", "node"} per layer or module drawn somewhere
    index: list[dict[str, str]]
    #: (container, first, last): ``container.k`` stands for ``container.first`` in views
    aliases: list[tuple[str, int, int]]


def foldable(graph: LayerGraph) -> bool:
    """Whether the graph carries the module record folding needs (a full-depth trace)."""
    return any(module.qualname == "" for module in graph.modules)


def owner(node: Mapping[str, Any]) -> str | None:
    """The module a node belongs to: a leaf module is its own, others live in their scope."""
    if node["kind"] == "module" and node.get("qualname") is not None:
        return str(node["qualname"])
    scope = node.get("scope")
    return None if scope is None else str(scope)


def _inside(path: str, root: str) -> bool:
    return root in {"", path} or path.startswith(root + ".")


class _Tree:
    """The module containers of a graph, with each node's chain of containers.

    Works on the JSON form (plain dicts), which each view is built in and read
    back from (:meth:`LayerGraph.from_dict` checks it).
    """

    def __init__(self, typed: LayerGraph) -> None:
        graph = typed.to_dict()
        self.graph = graph
        self.containers: dict[str, dict[str, Any]] = {
            m["qualname"]: m for m in graph.get("modules", [])
        }
        self.order = {q: i for i, q in enumerate(self.containers)}
        self.chains: dict[str, list[str]] = {}
        for node in graph["layers"]:
            path = owner(node)
            if path is None:
                self.chains[node["id"]] = []
                continue
            own = node["kind"] != "module"  # a function is inside its scope module
            chain = [
                q
                for q in self.containers
                if q == "" or path.startswith(q + ".") or (own and q == path)
            ]
            chain.sort(key=lambda q: self.containers[q]["depth"])
            self.chains[node["id"]] = chain

    def depth(self, qualname: str) -> int:
        return int(self.containers[qualname]["depth"])

    def max_level(self, root: str) -> int:
        """Levels below ``root`` until nothing is folded."""
        base = self.depth(root)
        deepest = max(
            (int(n.get("depth", 0)) for n in self.graph["layers"] if n["kind"] != "input"),
            default=base,
        )
        return max(1, deepest - base)

    def folded_id(self, qualname: str) -> str:
        return f"f{self.order[qualname]}"  # trace ids are numbers: no clash


def fold(graph: LayerGraph, root: str, level: int, *, nested: bool = False) -> LayerGraph:
    """The inside of module ``root`` drawn ``level`` levels deep, deeper modules folded.

    Folded modules become module layers; in a view of a module (not the whole
    model), what feeds it or reads from it becomes input/output layers named
    after their sources. ``nested`` draws open modules as groups.
    """
    return _fold(_Tree(graph), root, level, nested)[0]


def _fold(tree: _Tree, root: str, level: int, nested: bool) -> tuple[LayerGraph, dict[str, str]]:
    """The view, and its folded layers: id -> the module's qualified name."""
    graph = tree.graph
    cut = tree.depth(root) + level
    rep: dict[str, str] = {}  # node id -> the id drawn for it in this view
    nodes: dict[str, dict[str, Any]] = {}
    folded: dict[str, str] = {}
    for node in graph["layers"]:
        path = owner(node)
        if root and (path is None or not _inside(path, root)):
            continue
        deeper = [q for q in tree.chains[node["id"]] if q != root and tree.depth(q) >= cut]
        deeper = [q for q in deeper if _inside(q, root)]
        if deeper:
            fid = tree.folded_id(deeper[0])
            rep[node["id"]] = fid
            if fid not in nodes:
                nodes[fid] = _folded_node(fid, tree.containers[deeper[0]])
                folded[fid] = deeper[0]
        else:
            rep[node["id"]] = node["id"]
            nodes[node["id"]] = dict(node)
    by_id = {n["id"]: n for n in graph["layers"]}
    edges: dict[tuple[str, str], int] = {}
    outside: dict[str, dict[str, Any]] = {}
    for edge in graph["edges"]:
        tail, head = rep.get(edge["tail"]), rep.get(edge["head"])
        if tail is None and head is None:
            continue
        # what crosses the boundary is the tail's output, on either side
        flows = by_id[edge["tail"]]
        if tail is None:
            tail = _boundary(outside, by_id[edge["tail"]], flows, "input")
        if head is None:
            head = _boundary(outside, by_id[edge["head"]], flows, "output")
        if tail != head:
            edges[tail, head] = max(edges.get((tail, head), 0), edge["count"])
    ordered = [*[n for n in outside.values() if n["kind"] == "input"], *nodes.values()]
    ordered += [n for n in outside.values() if n["kind"] == "output"]
    for node in ordered:
        node["cluster"] = None
    groups = _clusters(tree, ordered, root, cut, folded) if nested else []
    view = {
        "schema": SCHEMA,
        "model": graph["model"],
        "layers": ordered,
        "edges": [{"tail": t, "head": h, "count": c} for (t, h), c in edges.items()],
        "groups": groups,
    }
    return LayerGraph.from_dict(view), folded


def _folded_node(fid: str, module: Mapping[str, Any]) -> dict[str, Any]:
    qualname = module["qualname"]
    node = {
        "id": fid,
        "kind": "module",
        "name": module["name"],
        "depth": module["depth"],
        "qualname": qualname,
        "scope": qualname.rpartition(".")[0],
        "cls": module["cls"],
        "params": module["params"],
        "inputs": module["inputs"],
        "outputs": module["outputs"],
    }
    for key in ("in_dtypes", "out_dtypes"):
        if key in module:
            node[key] = module[key]
    return node


def _boundary(
    outside: dict[str, dict[str, Any]],
    source: Mapping[str, Any],
    flows: Mapping[str, Any],
    kind: str,
) -> str:
    """An input/output node standing for a layer outside the view."""
    key = f"{kind}:{source['id']}"
    if key not in outside:
        name = source.get("qualname") or source.get("label") or source["name"]
        outside[key] = {
            "id": f"{kind[0]}{source['id']}",  # i12 / o12: no clash with trace ids
            "kind": kind,
            "name": f"{kind}-tensor",
            "depth": 0,
            "label": f"{'from' if kind == 'input' else 'to'} {name}",
            "inputs": flows["outputs"],
            "outputs": flows["outputs"],
        }
        if flows.get("out_dtypes"):
            outside[key]["out_dtypes"] = flows["out_dtypes"]
    return str(outside[key]["id"])


def _clusters(
    tree: _Tree, nodes: list[dict[str, Any]], root: str, cut: int, folded: dict[str, str]
) -> list[dict[str, Any]]:
    """Dashed boxes for the modules open in this view (``expand-nested``)."""
    clusters: dict[str, dict[str, Any]] = {}

    def cluster_of(qualname: str) -> str | None:
        if qualname == root or not _inside(qualname, root) or tree.depth(qualname) >= cut:
            return None
        if qualname not in clusters:
            parent = qualname.rpartition(".")[0]
            while parent and parent not in tree.containers:
                parent = parent.rpartition(".")[0]
            clusters[qualname] = {
                "id": f"cluster_{tree.order[qualname]}",
                "label": tree.containers[qualname]["name"],
                "parent": cluster_of(parent) if parent in tree.containers else None,
            }
        return str(clusters[qualname]["id"])

    for node in nodes:
        if node["id"] in folded:  # a folded module: the containers above it
            chain = [q for q in tree.containers if q and folded[node["id"]].startswith(q + ".")]
            chain.sort(key=tree.depth)
        elif node["id"] in tree.chains:
            chain = tree.chains[node["id"]]
        else:  # a boundary node
            continue
        opened = [c for c in (cluster_of(q) for q in chain) if c]
        node["cluster"] = opened[-1] if opened else None
    return list(clusters.values())


def drawn_count(graph: LayerGraph, collapse: bool) -> int:
    """Layers in the drawing (after repeated blocks collapse, when they do)."""
    return len((collapse_repeats(graph) if collapse else graph).layers)


def fit(
    tree: _Tree, root: str, budget: int, collapse: bool, nested: bool
) -> tuple[LayerGraph, dict[str, str]]:
    """The deepest view of ``root`` within ``budget`` layers (level 1 if none fits)."""
    best: tuple[LayerGraph, dict[str, str]] | None = None
    for level in range(1, tree.max_level(root) + 1):
        view, folded = _fold(tree, root, level, nested)
        if best is not None and drawn_count(view, collapse) > budget:
            break
        best = (view, folded)
        if not folded:
            break
    assert best is not None
    return best


def overview(
    graph: LayerGraph, budget: int, *, collapse: bool = True, nested: bool = False
) -> LayerGraph:
    """The whole model at the deepest level that stays within ``budget`` drawn layers."""
    if not foldable(graph):
        return graph
    return fit(_Tree(graph), "", budget, collapse, nested)[0]


def explore(
    graph: LayerGraph, budget: int, *, collapse: bool = True, nested: bool = False
) -> Exploration:
    """The overview and every view a reader can open from it, with the search index."""
    if not foldable(graph):
        return Exploration([], [], [])
    tree = _Tree(graph)
    views: list[ViewGraph] = []
    aliases: list[tuple[str, int, int]] = []
    queue: list[tuple[str, str | None]] = [("", None)]
    seen = {""}
    while queue and len(views) < MAX_VIEWS:
        key, parent = queue.pop(0)
        view, folded = fit(tree, key, budget, collapse, nested)
        shown = collapse_repeats(view) if collapse else view
        aliases.extend(a for a in _aliases(shown) if a not in aliases)
        opened = [
            (f"n{layer.id}", folded[layer.id]) for layer in shown.layers if layer.id in folded
        ]
        for group in shown.repeats:
            # a collapsed run of blocks opens as its first block (graph.py gives the id)
            block = group.label.rpartition("-")[0]
            if block in tree.containers and block != key:
                opened.append((f"cluster_{group.id}", block))
        targets = {}
        for element, qualname in opened:
            targets[element] = qualname
            if qualname not in seen:
                seen.add(qualname)
                queue.append((qualname, key))
        title = _title(tree, key, aliases)
        views.append(ViewGraph(key, title, parent, view, targets, shown.layers))
    return Exploration(views, _index(views), aliases)


def _title(tree: _Tree, key: str, aliases: list[Any]) -> str:
    module = tree.containers[key]
    if not key:
        return str(module["name"])
    for container, first, last in aliases:
        if key == f"{container}.{first}":
            return f"{key} ({module['name']}, one of {container}.{first}-{last})"
    return f"{key} ({module['name']})"


def _aliases(shown: LayerGraph) -> Iterable[tuple[str, int, int]]:
    labels = [layer.repeat_group for layer in shown.layers if layer.repeat and layer.repeat_group]
    labels += [r.label for r in shown.repeats]
    for label in labels:
        container, _, span = label.rpartition(".")
        first, _, last = span.partition("-")
        if container and first.isdigit() and last.isdigit():
            yield container, int(first), int(last)


def _index(views: list[ViewGraph]) -> list[dict[str, str]]:
    """Every layer or module drawn somewhere, once: where find opens it.

    Views come shallowest first, so a layer is found in the widest view that
    draws it (a leaf as itself, a module folded: the node a click would open).
    """
    found: dict[str, dict[str, str]] = {}
    for view in views:
        for layer in view.shown:
            if layer.kind == "tensor" or layer.id in found or _is_boundary(layer):
                continue
            label = layer.qualname or layer.label or layer.name
            if layer.kind == "function":
                label = f"{layer.name} in {layer.scope}" if layer.scope else layer.name
            kind = (layer.cls or layer.name).rsplit(".", 1)[-1]
            found[layer.id] = {"label": label, "type": kind, "view": view.key, "node": layer.id}
    return list(found.values())


def _is_boundary(layer: Layer) -> bool:
    """An input/output standing for a layer outside the view (see :func:`_boundary`)."""
    return layer.kind in {"input", "output"} and (layer.label or "").startswith(("from ", "to "))
