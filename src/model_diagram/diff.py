"""Compare two architectures: which layers were added, removed or changed.

Both sides are snapshots (:func:`model_diagram.snapshot.snapshot`), so layers
carry structural ids. Matching survives renames and insertions: the layer
sequences (in trace order, which is topological) are aligned with
:class:`difflib.SequenceMatcher` on ever looser keys: the same id and
signature, then the same signature (a renamed layer), then the same id (a
layer whose shape or class changed), then the same kind and class. Each
pass only aligns the gaps the previous one left, so an inserted layer does
not shift every later one. Layers left over are added or removed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .layergraph import LayerGraph, nearest_kept
from .snapshot import snapshot

Layer = Mapping[str, Any]
Key = Callable[[Layer], Any]

SAME, ADDED, REMOVED, CHANGED = "same", "added", "removed", "changed"
GLYPHS = {SAME: " ", ADDED: "+", REMOVED: "-", CHANGED: "~"}


def _shapes(layer: Layer) -> tuple[Any, ...]:
    return tuple(tuple(s) for s in layer["inputs"]), tuple(tuple(s) for s in layer["outputs"])


def _what(layer: Layer) -> str:
    """The layer's type: its class for modules, else the function or tensor name."""
    return str(layer.get("cls") or layer["name"])


def _loose(layer: Layer) -> Any:
    return layer["kind"], _what(layer)


def _signature(layer: Layer) -> Any:
    return _loose(layer), _shapes(layer), layer.get("params")


def _exact(layer: Layer) -> Any:
    return layer["id"], _signature(layer)


def _ident(layer: Layer) -> Any:
    return layer["id"]


#: the alignment passes, strictest first
PASSES: tuple[Key, ...] = (_exact, _signature, _ident, _loose)
#: larger gaps are paired in order by key instead of aligned (old x new layers)
ALIGN_LIMIT = 4_000_000


@dataclass(frozen=True)
class LayerChange:
    """One layer of either side: its status and, when changed, what changed."""

    status: str
    old: Layer | None
    new: Layer | None
    changes: tuple[str, ...] = ()

    @property
    def layer(self) -> Layer:
        found = self.new if self.new is not None else self.old
        assert found is not None
        return found


@dataclass(frozen=True)
class ArchitectureDiff:
    """The comparison of two snapshots; ``same`` when nothing differs."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    layers: tuple[LayerChange, ...]

    @property
    def same(self) -> bool:
        return all(c.status == SAME for c in self.layers)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.layers)

    def summary(self) -> str:
        """The readable report: totals, then one line per layer that differs."""
        old_p, new_p = self.old["params"], self.new["params"]
        names = (
            self.new["model"]
            if self.old["model"] == self.new["model"]
            else f"{self.old['model']} -> {self.new['model']}"
        )
        head = "same architecture" if self.same else "architecture changed"
        lines = [
            f"{names}: {head}",
            f"  parameters: {old_p:,} -> {new_p:,} ({new_p - old_p:+,})",
            f"  layers: {len(self.old['layers'])} -> {len(self.new['layers'])} "
            f"({self.count(ADDED)} added, {self.count(REMOVED)} removed, "
            f"{self.count(CHANGED)} changed)",
        ]
        lines.extend(
            f"  {GLYPHS[c.status]} {c.status:<8} {describe(c)}"
            for c in self.layers
            if c.status != SAME
        )
        return "\n".join(lines)


def describe(change: LayerChange) -> str:
    """``encoder.0 (Linear) output (2, 16) -> (2, 32); params 144 -> 288``."""
    layer = change.layer
    kind = _what(layer).rsplit(".", 1)[-1] if layer["kind"] == "module" else layer["kind"]
    text = f"{_title(layer)} ({kind})"
    if change.status in {ADDED, REMOVED}:
        text += f" {_shape_text(layer['inputs'])} -> {_shape_text(layer['outputs'])}"
        if layer.get("params"):
            text += f", {layer['params']:,} params"
    if change.changes:
        text += ": " + "; ".join(change.changes)
    return text


def _title(layer: Layer) -> str:
    return str(layer["id"]).split(":", 1)[-1] or str(layer["kind"])


def _shape_text(shapes: Sequence[Sequence[int]]) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in s) + ")" for s in shapes) or "()"


def compare(old: LayerGraph, new: LayerGraph) -> ArchitectureDiff:
    """Diff two layer graphs (traced, or read back from snapshot files)."""
    a, b = snapshot(old), snapshot(new)
    pairs = _match(a["layers"], b["layers"])
    old_to_new = dict(pairs)
    preds_a, preds_b = _predecessors(a), _predecessors(b)
    ids_a = [n["id"] for n in a["layers"]]
    ids_b = [n["id"] for n in b["layers"]]
    by_a = {n["id"]: n for n in a["layers"]}
    by_b = {n["id"]: n for n in b["layers"]}
    new_to_old = {v: k for k, v in pairs}
    # a removed layer is listed after the kept layer that preceded it in the old order
    after: dict[str | None, list[LayerChange]] = {}
    anchor: str | None = None
    for oid in ids_a:
        if oid in old_to_new:
            anchor = old_to_new[oid]
        else:
            after.setdefault(anchor, []).append(LayerChange(REMOVED, by_a[oid], None))
    layers = after.get(None, [])
    for nid in ids_b:
        if nid not in new_to_old:
            layers.append(LayerChange(ADDED, None, by_b[nid]))
        else:
            oid = new_to_old[nid]
            # through added/removed layers: an insertion is one change, not a rewiring too
            before = {old_to_new[p] for p in nearest_kept(preds_a, oid, old_to_new)}
            rewired = before != nearest_kept(preds_b, nid, new_to_old)
            changes = _changes(by_a[oid], by_b[nid], rewired)
            layers.append(LayerChange(CHANGED if changes else SAME, by_a[oid], by_b[nid], changes))
        layers.extend(after.get(nid, []))
    return ArchitectureDiff(a, b, tuple(layers))


def _changes(old: Layer, new: Layer, rewired: bool) -> tuple[str, ...]:
    found = []
    if old["id"] != new["id"]:
        found.append(f"renamed from {_title(old)}")
    if _what(old) != _what(new):
        found.append(f"type {_what(old)} -> {_what(new)}")
    tensor = new["kind"] in {"input", "output", "tensor"}  # one shape: what it carries
    for key, label in (
        (("outputs", "shape"),) if tensor else (("inputs", "input"), ("outputs", "output"))
    ):
        if old[key] != new[key]:
            found.append(f"{label} {_shape_text(old[key])} -> {_shape_text(new[key])}")
    for key, label in (("in_dtypes", "input dtype"), ("out_dtypes", "output dtype")):
        if old.get(key) and new.get(key) and old[key] != new[key]:
            found.append(f"{label} {', '.join(old[key])} -> {', '.join(new[key])}")
    if (old.get("params") or 0) != (new.get("params") or 0):
        found.append(f"params {old.get('params') or 0:,} -> {new.get('params') or 0:,}")
    if rewired:
        found.append("inputs come from other layers")
    return tuple(found)


def _predecessors(graph: Mapping[str, Any]) -> dict[str, set[str]]:
    preds: dict[str, set[str]] = {}
    for edge in graph["edges"]:
        preds.setdefault(edge["head"], set()).add(edge["tail"])
    return preds


def _match(old: Sequence[Layer], new: Sequence[Layer]) -> list[tuple[str, str]]:
    """(old id, new id) pairs: aligned passes over the gaps, then same ids anywhere."""
    pairs: list[tuple[int, int]] = []

    def align(xs: list[int], ys: list[int], level: int) -> None:
        if not xs or not ys or level == len(PASSES):
            return
        key = PASSES[level]
        ka, kb = [key(old[i]) for i in xs], [key(new[j]) for j in ys]
        # equal ends pair at once: most edits touch a few layers of a long model
        head = 0
        while head < min(len(ka), len(kb)) and ka[head] == kb[head]:
            head += 1
        tail = 0
        while tail < min(len(ka), len(kb)) - head and ka[-1 - tail] == kb[-1 - tail]:
            tail += 1
        pairs.extend(zip(xs[:head], ys[:head], strict=True))
        pairs.extend(zip(xs[len(xs) - tail :], ys[len(ys) - tail :], strict=True))
        xs, ys = xs[head : len(xs) - tail], ys[head : len(ys) - tail]
        ka, kb = ka[head : len(ka) - tail], kb[head : len(kb) - tail]
        if not xs or not ys:
            return
        if len(xs) * len(ys) > ALIGN_LIMIT:  # SequenceMatcher is quadratic on repeats
            found = _pair_in_order(xs, ys, ka, kb)
            pairs.extend(found)
            used_x, used_y = {i for i, _ in found}, {j for _, j in found}
            rest_x, rest_y = [i for i in xs if i not in used_x], [j for j in ys if j not in used_y]
            align(rest_x, rest_y, level + 1)
            return
        matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs.extend(zip(xs[i1:i2], ys[j1:j2], strict=True))
            else:
                align(xs[i1:i2], ys[j1:j2], level + 1)

    align(list(range(len(old))), list(range(len(new))), 0)
    # a layer that moved past others (reordered calls) keeps its id: pair it anyway
    matched_old = {i for i, _ in pairs}
    matched_new = {j for _, j in pairs}
    free_new = {new[j]["id"]: j for j in range(len(new)) if j not in matched_new}
    for i, layer in enumerate(old):
        if i not in matched_old and layer["id"] in free_new:
            pairs.append((i, free_new.pop(layer["id"])))
    return [(old[i]["id"], new[j]["id"]) for i, j in sorted(pairs)]


def _pair_in_order(
    xs: list[int], ys: list[int], ka: list[Any], kb: list[Any]
) -> list[tuple[int, int]]:
    """The k-th old layer with a key pairs with the k-th new one: linear, for huge gaps."""
    waiting: dict[Any, list[int]] = {}
    for j, k in zip(reversed(ys), reversed(kb), strict=True):
        waiting.setdefault(k, []).append(j)
    found = []
    for i, k in zip(xs, ka, strict=True):
        if waiting.get(k):
            found.append((i, waiting[k].pop()))
    return found
