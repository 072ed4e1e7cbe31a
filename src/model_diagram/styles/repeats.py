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

import copy
import re
from typing import Any

_NUMBERED = re.compile(r"^\d+$")


def _block_of(path: str | None) -> tuple[str, int] | None:
    """``blocks.3.attn`` -> (``blocks``, 3): the outermost numbered container child."""
    if not path:
        return None
    parts = path.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if _NUMBERED.match(part):
            return ".".join(parts[:i]), int(part)
    return None


def _path(node: dict[str, Any]) -> str | None:
    return node.get("qualname") if node["kind"] == "module" else node.get("scope")


def _signature(nodes: list[dict[str, Any]], prefix: str) -> tuple[Any, ...]:
    def rel(path: str | None) -> str:
        return (path or "")[len(prefix) :]

    return tuple(
        (n["kind"], n["name"], rel(_path(n)), str(n.get("inputs")), str(n.get("outputs")))
        for n in nodes
    )


def collapse_repeats(graph: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``graph`` with runs of identical chained blocks drawn once."""
    if not any(_block_of(_path(node)) for node in graph["nodes"]):
        return graph
    graph = copy.deepcopy(graph)
    blocks: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for node in graph["nodes"]:
        found = _block_of(_path(node))
        if found:
            blocks.setdefault(found[0], {}).setdefault(found[1], []).append(node)
    by_id = {n["id"]: n for n in graph["nodes"]}
    for container, members in blocks.items():
        for run in _runs(container, members, graph["edges"]):
            _collapse(graph, by_id, container, run)
    return graph


def _runs(
    container: str, members: dict[int, list[dict[str, Any]]], edges: list[dict[str, Any]]
) -> list[list[tuple[int, list[dict[str, Any]]]]]:
    """Maximal runs of consecutive, identical, chained blocks (length >= 2)."""
    runs: list[list[tuple[int, list[dict[str, Any]]]]] = []
    current: list[tuple[int, list[dict[str, Any]]]] = []
    for index in sorted(members):
        block = members[index]
        if current:
            prev_index, prev = current[-1]
            same = _signature(prev, f"{container}.{prev_index}") == _signature(
                block, f"{container}.{index}"
            )
            if index == prev_index + 1 and same and _chained(prev, block, edges):
                current.append((index, block))
                continue
            if len(current) > 1:
                runs.append(current)
        current = [(index, block)]
    if len(current) > 1:
        runs.append(current)
    return runs


def _chained(
    first: list[dict[str, Any]], second: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> bool:
    """``first`` feeds ``second`` and nothing else; ``second`` reads from ``first`` and from
    nothing that does not feed ``first`` as well. Inputs every block reads (a Llama layer's
    rotary embeddings and mask) are shared, and the folded block keeps them."""
    a = {n["id"] for n in first}
    b = {n["id"] for n in second}
    feeds_first = {e["tail"] for e in edges if e["head"] in a and e["tail"] not in a}
    linked = False
    for edge in edges:
        tail, head = edge["tail"], edge["head"]
        if tail in a and head not in a and head not in b:
            return False  # the first block also feeds something else
        if head in b and tail not in b:
            if tail in a:
                linked = True
            elif tail not in feeds_first:
                return False  # the second block also reads something the first does not
    return linked


def _collapse(
    graph: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    container: str,
    run: list[tuple[int, list[dict[str, Any]]]],
) -> None:
    first_index, first = run[0]
    last_index, last = run[-1]
    keep = {n["id"] for n in first}
    drop = {n["id"] for _, block in run[1:] for n in block}
    last_to_first = {b["id"]: a["id"] for a, b in zip(first, last, strict=True)}
    edges = []
    for edge in graph["edges"]:
        tail, head = edge["tail"], edge["head"]
        if tail in last_to_first and head not in drop:
            edges.append({**edge, "tail": last_to_first[tail]})
        elif tail not in drop and head not in drop:
            edges.append(edge)
    graph["edges"] = _merge_duplicates(edges)
    graph["nodes"] = [n for n in graph["nodes"] if n["id"] not in drop]
    count = len(run)
    label = f"{container}.{first_index}-{last_index}"
    for node in first:
        by_id[node["id"]]["repeat_group"] = label
    if len(first) == 1:
        first[0]["repeat"] = count
        return
    graph.setdefault("repeats", []).append(
        {
            "id": f"repeat_{len(graph.get('repeats', []))}",
            "label": label,
            "count": count,
            "nodes": sorted(keep, key=int),
        }
    )


def _merge_duplicates(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in edges:
        key = (edge["tail"], edge["head"])
        if key in merged:
            merged[key]["count"] = max(merged[key]["count"], edge["count"])
        else:
            merged[key] = dict(edge)
    return list(merged.values())
