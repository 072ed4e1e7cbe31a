"""THE layer graph: what tracing produces and every style, diff and export consumes.

Frozen dataclasses with one JSON form (:meth:`LayerGraph.to_dict`,
:meth:`LayerGraph.to_json`; ``"schema": 1``). The worker sends that form,
the cache stores it and :meth:`LayerGraph.from_dict` reads it back; reading
validates everything (types, kinds, references), because a cache entry is
untrusted input. Nothing here imports torch, Sphinx or MkDocs.

The text helpers at the bottom (shapes, parameter counts, the layer list
used as a text alternative) live here so that every consumer words a layer
the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Literal, TypeVar, cast, get_args

SCHEMA = 1

Kind = Literal["input", "output", "tensor", "module", "function"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Shape = tuple[int, ...]

#: ids become Graphviz identifiers and SVG ids: letters, digits and underscores only
_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
#: a word as search indexes split text (Sphinx's English splitter: ``\w+``)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Layer:
    """One node of the graph: a tensor, a module call or a function call.

    ``inputs``/``outputs`` are shapes (batch dimension included); ``cluster``
    is the :class:`Group` it is drawn in; ``scope`` the qualified name of the
    module a function ran in. ``repeat``/``repeat_group`` are set only on a
    collapsed graph (see :mod:`model_diagram.styles.repeats`).
    """

    id: str
    kind: Kind
    name: str
    depth: int = 0
    label: str | None = None
    qualname: str | None = None
    cls: str | None = None
    params: int = 0
    inputs: tuple[Shape, ...] = ()
    outputs: tuple[Shape, ...] = ()
    in_dtypes: tuple[str, ...] = ()
    out_dtypes: tuple[str, ...] = ()
    cluster: str | None = None
    scope: str | None = None
    repeat: int = 0
    repeat_group: str | None = None


@dataclass(frozen=True)
class Edge:
    """Data flowing from ``tail`` to ``head``; ``count`` parallel uses drawn as one."""

    tail: str
    head: str
    count: int = 1


@dataclass(frozen=True)
class Group:
    """A module whose layers are drawn inside one box (``expand-nested``); nests by ``parent``."""

    id: str
    label: str
    parent: str | None = None


@dataclass(frozen=True)
class Repeat:
    """A run of ``count`` identical blocks drawn once: the layers of the first block."""

    id: str
    label: str
    count: int
    layers: tuple[str, ...]


@dataclass(frozen=True)
class Module:
    """A module with children that the trace entered, drawn or not (full-depth traces).

    What a folded node shows when the explorer draws the module as one node
    (see :mod:`model_diagram.folding`).
    """

    qualname: str
    name: str
    depth: int = 0
    cls: str | None = None
    params: int = 0
    inputs: tuple[Shape, ...] = ()
    outputs: tuple[Shape, ...] = ()
    in_dtypes: tuple[str, ...] = ()
    out_dtypes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerGraph:
    """A traced model: layers in trace order, the edges between them, their groups."""

    model: str
    layers: tuple[Layer, ...]
    edges: tuple[Edge, ...] = ()
    groups: tuple[Group, ...] = ()
    repeats: tuple[Repeat, ...] = ()
    #: the modules a full-depth trace walked (empty otherwise): what folding needs
    modules: tuple[Module, ...] = ()

    # -- the JSON form

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field, lists where the dataclasses hold tuples."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "layers": [_plain(layer) for layer in self.layers],
            "edges": [_plain(edge) for edge in self.edges],
            "groups": [_plain(group) for group in self.groups],
            "repeats": [_plain(repeat) for repeat in self.repeats],
        } | ({"modules": [_plain(module) for module in self.modules]} if self.modules else {})

    def to_json(self) -> str:
        """Sorted keys, no spaces, ASCII only: equal graphs give byte-identical text."""
        return self._json

    @cached_property
    def _json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @cached_property
    def digest(self) -> str:
        """sha256 of :meth:`to_json`: names the graph in cache keys."""
        return hashlib.sha256(self._json.encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str | bytes) -> LayerGraph:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise LayerGraphError(f"not JSON ({exc})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any, *, digest: str | None = None) -> LayerGraph:
        """Read and check the JSON form; raises :class:`LayerGraphError` naming the problem.

        Optional layer fields may be omitted (the tracer leaves out empty ones).
        ``digest`` names the graph when the caller already has a hash of the text it was
        read from (a cache blob's name), so a warm build never serialises it again.
        """
        if not isinstance(data, Mapping):
            raise LayerGraphError(f"a layer graph is a JSON object, not {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise LayerGraphError(f"unknown schema {data.get('schema')!r} (expected {SCHEMA})")
        graph = cls(
            model=_get(data, "model", str),
            layers=_items(data, "layers", _layer),
            edges=_items(data, "edges", _edge),
            groups=_items(data, "groups", _group),
            repeats=_items(data, "repeats", _repeat),
            modules=_items(data, "modules", _module),
        )
        graph.check()
        if digest is not None:
            graph.__dict__["digest"] = digest  # what the cached_property would hold
        return graph

    def check(self) -> None:
        """Every reference resolves, ids are unique and groups nest without a cycle."""
        layer_ids = _unique("layer", (layer.id for layer in self.layers))
        group_ids = _unique("group", (group.id for group in self.groups))
        for edge in self.edges:
            for end in (edge.tail, edge.head):
                if end not in layer_ids:
                    raise LayerGraphError(f"edge {edge.tail}->{edge.head}: no layer {end!r}")
        for layer in self.layers:
            if layer.cluster is not None and layer.cluster not in group_ids:
                raise LayerGraphError(f"layer {layer.id}: no group {layer.cluster!r}")
        parents = {group.id: group.parent for group in self.groups}
        for group in self.groups:
            seen = {group.id}
            parent = group.parent
            while parent is not None:
                if parent not in parents:
                    raise LayerGraphError(f"group {group.id}: no parent group {parent!r}")
                if parent in seen:
                    raise LayerGraphError(f"group {group.id}: groups nest in a cycle")
                seen.add(parent)
                parent = parents[parent]
        _unique("repeat", (repeat.id for repeat in self.repeats))
        for repeat in self.repeats:
            for layer_id in repeat.layers:
                if layer_id not in layer_ids:
                    raise LayerGraphError(f"repeat {repeat.id}: no layer {layer_id!r}")

    # -- views

    def layer(self, layer_id: str) -> Layer:
        return self.by_id[layer_id]

    @cached_property
    def by_id(self) -> dict[str, Layer]:
        return {layer.id: layer for layer in self.layers}


class LayerGraphError(ValueError):
    """A layer graph's JSON form is malformed (a damaged cache entry, a confused worker)."""


def _plain(item: Layer | Edge | Group | Repeat | Module) -> dict[str, Any]:
    """Field by field (no field holds a dataclass): ``asdict`` deep-copies every value,
    and was 2.5 ms of each fresh graph's digest."""
    return {name: _lists(getattr(item, name)) for name in _FIELD_NAMES[type(item)]}


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in (Layer, Edge, Group, Repeat, Module)
}


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


# -- reading the JSON form

_T = TypeVar("_T")


def _get(data: Mapping[str, Any], key: str, kind: type[_T], default: _T | None = None) -> _T:
    """``data[key]`` of type ``kind``; ``default`` when missing (required if ``None``)."""
    value = data.get(key, default)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise LayerGraphError(f"{key!r} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise LayerGraphError(f"{key!r} must be text or null, not {type(value).__name__}")
    return value


def _id(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.match(value):
        raise LayerGraphError(f"{key!r} must be an id (letters, digits, _), not {value!r}")
    return value


def _ref(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _id(data, key)


def _count(data: Mapping[str, Any], key: str, default: int, low: int) -> int:
    value = _get(data, key, int, default)
    if value < low:
        raise LayerGraphError(f"{key!r} must be >= {low}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LayerGraphError(f"{key!r} must be a list of text")
    return tuple(value)


def _shapes(data: Mapping[str, Any], key: str) -> tuple[Shape, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(
        isinstance(shape, list)
        and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        for shape in value
    ):
        raise LayerGraphError(f"{key!r} must be a list of shapes (lists of integers)")
    return tuple(tuple(shape) for shape in value)


def _items(
    data: Mapping[str, Any], key: str, read: Callable[[Mapping[str, Any]], _T]
) -> tuple[_T, ...]:
    values = data.get(key, [])
    if not isinstance(values, list):
        raise LayerGraphError(f"{key!r} must be a list")
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, Mapping):
            raise LayerGraphError(f"{key}[{i}] must be an object")
        try:
            out.append(read(value))
        except LayerGraphError as exc:
            raise LayerGraphError(f"{key}[{i}]: {exc}") from None
    return tuple(out)


def _layer(data: Mapping[str, Any]) -> Layer:
    kind = data.get("kind")
    if kind not in KINDS:
        raise LayerGraphError(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    return Layer(
        id=_id(data, "id"),
        kind=cast(Kind, kind),
        name=_get(data, "name", str),
        depth=_get(data, "depth", int, 0),
        label=_text(data, "label"),
        qualname=_text(data, "qualname"),
        cls=_text(data, "cls"),
        params=_count(data, "params", 0, 0),
        inputs=_shapes(data, "inputs"),
        outputs=_shapes(data, "outputs"),
        in_dtypes=_strings(data, "in_dtypes"),
        out_dtypes=_strings(data, "out_dtypes"),
        cluster=_ref(data, "cluster"),
        scope=_text(data, "scope"),
        repeat=_count(data, "repeat", 0, 0),
        repeat_group=_text(data, "repeat_group"),
    )


def _module(data: Mapping[str, Any]) -> Module:
    return Module(
        qualname=_get(data, "qualname", str),
        name=_get(data, "name", str),
        depth=_get(data, "depth", int, 0),
        cls=_text(data, "cls"),
        params=_count(data, "params", 0, 0),
        inputs=_shapes(data, "inputs"),
        outputs=_shapes(data, "outputs"),
        in_dtypes=_strings(data, "in_dtypes"),
        out_dtypes=_strings(data, "out_dtypes"),
    )


def _edge(data: Mapping[str, Any]) -> Edge:
    return Edge(_id(data, "tail"), _id(data, "head"), _count(data, "count", 1, 1))


def _group(data: Mapping[str, Any]) -> Group:
    return Group(_id(data, "id"), _get(data, "label", str), _ref(data, "parent"))


def _repeat(data: Mapping[str, Any]) -> Repeat:
    layers = _strings(data, "layers")
    for layer_id in layers:
        if not _ID.match(layer_id):
            raise LayerGraphError(f"'layers' must hold ids, not {layer_id!r}")
    return Repeat(_id(data, "id"), _get(data, "label", str), _count(data, "count", 2, 2), layers)


def _unique(what: str, ids: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise LayerGraphError(f"two {what}s have the id {item!r}")
        seen.add(item)
    return seen


def nearest_kept(links: Mapping[str, Iterable[str]], start: str, kept: Container[str]) -> set[str]:
    """The ``kept`` nodes ``start`` reaches along ``links`` (successors or predecessors)
    through nodes that are not kept: how a view that drops layers still joins the ones
    it shows (a figure style's boxes, the two sides of a diff)."""
    found: set[str] = set()
    stack, seen = list(links.get(start, ())), set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in kept:
            found.add(node)
        else:
            stack.extend(links.get(node, ()))
    return found


# -- words for layers, shared by every style and front end


def shape_text(shapes: Sequence[Sequence[int]], dtypes: Sequence[str] | None = None) -> str:
    """``(2, 3, 32, 32)``; repeats compacted as ``3 x (2, 16)``; dtypes appended if given."""
    parts: list[str] = []
    counts: dict[str, int] = {}
    for i, shape in enumerate(shapes):
        text = "(" + ", ".join(str(d) for d in shape) + ")"
        if dtypes and i < len(dtypes):
            text += f" {dtypes[i]}"
        if text not in counts:
            parts.append(text)
        counts[text] = counts.get(text, 0) + 1
    return ", ".join(f"{counts[p]} x {p}" if counts[p] > 1 else p for p in parts)


def count_text(n: int) -> str:
    """``1.2M`` style parameter counts."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def describe(graph: LayerGraph) -> str:
    """The layers in order with their output shapes, for ``<desc>`` and text builders."""
    steps = []
    for layer in graph.layers:
        if layer.kind == "tensor":
            continue
        name = layer.label if layer.kind == "input" else layer.name
        if layer.kind == "module" and layer.qualname:
            name = f"{layer.name} {layer.qualname}"
        badge = f" x{layer.repeat}" if layer.repeat else ""
        steps.append(f"{layer.kind} {name}{badge} {shape_text(layer.outputs)}")
    return f"{graph.model}: " + "; ".join(steps)


def search_words(graph: LayerGraph) -> str:
    """The words of :func:`describe`, each once (a search index records which pages hold
    a word, not how often), without the numbers: Sphinx stems every word it is given and
    then drops those that are digits only, and the shapes are half of a diagram's words."""
    words = dict.fromkeys(_WORD.findall(describe(graph)))
    return " ".join(word for word in words if not word.isdigit())
