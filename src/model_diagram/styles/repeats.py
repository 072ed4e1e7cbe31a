"""Collapse identical consecutive blocks of a layer graph (``collapse-repeats``).

A block is everything traced under one numbered child of a container, e.g.
``blocks.3`` and its submodules and functions. A run of blocks ``P.i`` ..
``P.j`` collapses when every block has the same node signature (kinds, names,
relative paths, shapes) and the blocks form a chain: each one feeds only the
next, and reads nothing else but what every block reads (shared inputs such as
rotary embeddings and masks). The first block stays, marked with ``repeat``
(x count) and the range of qualified names it stands for; edges leaving the
last block leave the first.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..layergraph import Edge, Layer, LayerGraph, Repeat

_NUMBERED = re.compile(r"^\d+$")

#: one block: its index under the container and its layer ids in trace order
_Block = tuple[int, list[str]]


def _block_of(path: str | None) -> tuple[str, int] | None:
    """``blocks.3.attn`` -> (``blocks``, 3): the outermost numbered container child."""
    if not path:
        return None
    parts = path.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if _NUMBERED.match(part):
            return ".".join(parts[:i]), int(part)
    return None


def _path(layer: Layer) -> str | None:
    return layer.qualname if layer.kind == "module" else layer.scope


def _signature(layers: list[Layer], prefix: str) -> tuple[tuple[str, ...], ...]:
    def rel(path: str | None) -> str:
        return (path or "")[len(prefix) :]

    return tuple((n.kind, n.name, rel(_path(n)), str(n.inputs), str(n.outputs)) for n in layers)


class _Collapsing:
    """The graph being collapsed: layers by id (trace order), edges, repeats found."""

    def __init__(self, graph: LayerGraph) -> None:
        self.layers = {layer.id: layer for layer in graph.layers}
        self.edges = list(graph.edges)
        self.repeats = list(graph.repeats)


def collapse_repeats(graph: LayerGraph) -> LayerGraph:
    """``graph`` with runs of identical chained blocks drawn once."""
    if not any(_block_of(_path(layer)) for layer in graph.layers):
        return graph
    state = _Collapsing(graph)
    blocks: dict[str, dict[int, list[str]]] = {}
    for layer in graph.layers:
        found = _block_of(_path(layer))
        if found:
            blocks.setdefault(found[0], {}).setdefault(found[1], []).append(layer.id)
    for container, members in blocks.items():
        for run in _runs(state, container, members):
            _collapse(state, container, run)
    return LayerGraph(
        graph.model,
        tuple(state.layers.values()),
        tuple(state.edges),
        graph.groups,
        tuple(state.repeats),
        graph.modules,
    )


def _runs(state: _Collapsing, container: str, members: dict[int, list[str]]) -> list[list[_Block]]:
    """Maximal runs of consecutive, identical, chained blocks (length >= 2)."""

    def signature(block: _Block) -> tuple[tuple[str, ...], ...]:
        return _signature([state.layers[i] for i in block[1]], f"{container}.{block[0]}")

    runs: list[list[_Block]] = []
    current: list[_Block] = []
    for index in sorted(members):
        block = (index, members[index])
        if current:
            prev = current[-1]
            same = signature(prev) == signature(block)
            if index == prev[0] + 1 and same and _chained(prev[1], block[1], state.edges):
                current.append(block)
                continue
            if len(current) > 1:
                runs.append(current)
        current = [block]
    if len(current) > 1:
        runs.append(current)
    return runs


def _chained(first: list[str], second: list[str], edges: list[Edge]) -> bool:
    """``first`` feeds ``second`` and nothing else; ``second`` reads from ``first`` and from
    nothing that does not feed ``first`` as well. Inputs every block reads (a Llama layer's
    rotary embeddings and mask) are shared, and the folded block keeps them."""
    a = set(first)
    b = set(second)
    feeds_first = {e.tail for e in edges if e.head in a and e.tail not in a}
    linked = False
    for edge in edges:
        tail, head = edge.tail, edge.head
        if tail in a and head not in a and head not in b:
            return False  # the first block also feeds something else
        if head in b and tail not in b:
            if tail in a:
                linked = True
            elif tail not in feeds_first:
                return False  # the second block also reads something the first does not
    return linked


def _collapse(state: _Collapsing, container: str, run: list[_Block]) -> None:
    first_index, first = run[0]
    last_index, last = run[-1]
    drop = {i for _, block in run[1:] for i in block}
    last_to_first = dict(zip(last, first, strict=True))
    edges = []
    for edge in state.edges:
        if edge.tail in last_to_first and edge.head not in drop:
            edges.append(replace(edge, tail=last_to_first[edge.tail]))
        elif edge.tail not in drop and edge.head not in drop:
            edges.append(edge)
    state.edges = _merge_duplicates(edges)
    for layer_id in drop:
        del state.layers[layer_id]
    count = len(run)
    label = f"{container}.{first_index}-{last_index}"
    for layer_id in first:
        state.layers[layer_id] = replace(state.layers[layer_id], repeat_group=label)
    if len(first) == 1:
        state.layers[first[0]] = replace(state.layers[first[0]], repeat=count)
        return
    # ids are the tracer's numbers: sort them as numbers
    keep = tuple(sorted(first, key=lambda i: (len(i), i)))
    state.repeats.append(Repeat(f"repeat_{len(state.repeats)}", label, count, keep))


def _merge_duplicates(edges: list[Edge]) -> list[Edge]:
    merged: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        key = (edge.tail, edge.head)
        if key in merged:
            merged[key] = replace(merged[key], count=max(merged[key].count, edge.count))
        else:
            merged[key] = edge
    return list(merged.values())
