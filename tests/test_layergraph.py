"""The typed layer graph and its one JSON form, on graphs traced from real models.

Round trips are exact and byte-stable; every malformed form is refused with a
message naming the problem (a damaged cache entry is a miss, not a crash);
repeats collapse on the typed graph; the reference page's example is a real
trace and its field list is the dataclasses' fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_diagram.cache import DamagedGraphError, StoredGraph
from model_diagram.layergraph import (
    SCHEMA,
    Edge,
    Group,
    Layer,
    LayerGraph,
    LayerGraphError,
    Repeat,
    describe,
    search_words,
)
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline
from model_diagram.styles.repeats import collapse_repeats

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reference" / "layer-graph.rst"
BRANCHY = {"factory": "models:make_branchy", "input": "float[2,8]"}
TRANSFORMER = {
    "factory": "example_project.models:make_transformer",
    "kwargs": {"input_ids": "long[1,16](0,1000)"},
    "depth": 2,
    "expand-nested": True,
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = Pipeline(tmp_path_factory.mktemp("cache"))
    yield pipe
    pipe.worker.stop()


def traced(pipeline: Pipeline, **values: Any) -> LayerGraph:
    return pipeline.diagram(parse_options(values)).graph


def test_round_trip_is_exact_and_byte_stable(pipeline: Pipeline) -> None:
    for values in (BRANCHY, TRANSFORMER):
        graph = traced(pipeline, **values)
        text = graph.to_json()
        again = LayerGraph.from_json(text)
        assert again == graph
        assert again.to_json() == text
        assert again.digest == graph.digest
        data = json.loads(text)
        assert data["schema"] == SCHEMA
        assert list(data) == sorted(data)
        assert text == json.dumps(data, sort_keys=True, separators=(",", ":"))
        assert LayerGraph.from_dict(graph.to_dict()) == graph


def test_traced_graph_is_typed(pipeline: Pipeline) -> None:
    graph = traced(pipeline, **TRANSFORMER)
    assert graph.model == "TinyTransformer"
    kinds = {layer.kind for layer in graph.layers}
    assert {"input", "module", "output"} <= kinds
    assert graph.groups, "expand-nested gives groups"
    group_ids = {group.id for group in graph.groups}
    assert all(layer.cluster in group_ids for layer in graph.layers if layer.cluster)
    linear = next(layer for layer in graph.layers if layer.name == "Linear")
    assert linear.cls == "torch.nn.modules.linear.Linear"
    assert linear.params > 0
    assert all(isinstance(d, int) for shape in linear.outputs for d in shape)
    assert isinstance(linear.outputs, tuple)
    assert linear.out_dtypes == ("float32",)
    first = graph.layers[0]
    assert first.kind == "input"
    assert first.label == "input_ids"
    assert first.in_dtypes == ("int64",)


def test_a_cached_graph_is_the_traced_graph(tmp_path: Path, pipeline: Pipeline) -> None:
    options = parse_options(BRANCHY)
    fresh = Pipeline(tmp_path, worker=pipeline.worker)
    first = fresh.diagram(options)
    again = Pipeline(tmp_path, worker=pipeline.worker).diagram(options)
    assert again.cached and not first.cached
    assert again.graph == first.graph
    blob = tmp_path / "blobs" / f"{first.graph.digest}.json"
    assert blob.read_text() == first.graph.to_json()


def _with(graph: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(graph))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()

MALFORMED = [
    (("schema",), 2, "unknown schema 2"),
    (("schema",), _DELETE, "unknown schema None"),
    (("model",), 3, "'model' must be str"),
    (("layers",), {}, "'layers' must be a list"),
    (("layers", 0), "x", r"layers\[0\] must be an object"),
    (("layers", 0, "kind"), "weights", "'kind' must be one of"),
    (("layers", 0, "id"), 'n0" ; evil', "'id' must be an id"),
    (("layers", 0, "name"), _DELETE, "'name' must be str"),
    (("layers", 0, "depth"), True, "'depth' must be int"),
    (("layers", 0, "params"), -1, "'params' must be >= 0"),
    (("layers", 0, "outputs"), [[2, "8"]], "'outputs' must be a list of shapes"),
    (("layers", 0, "inputs"), [2, 8], "'inputs' must be a list of shapes"),
    (("layers", 0, "in_dtypes"), [1], "'in_dtypes' must be a list of text"),
    (("layers", 0, "label"), ["x"], "'label' must be text or null"),
    (("layers", 0, "cluster"), "nowhere", "no group 'nowhere'"),
    (("layers", 1, "id"), "0", "two layers have the id '0'"),
    (("edges", 0, "head"), "99", "no layer '99'"),
    (("edges", 0, "count"), 0, "'count' must be >= 1"),
    (("groups",), [{"id": "a", "label": "A", "parent": "b"}], "no parent group 'b'"),
    (
        ("groups",),
        [{"id": "a", "label": "A", "parent": "b"}, {"id": "b", "label": "B", "parent": "a"}],
        "groups nest in a cycle",
    ),
    (("repeats",), [{"id": "r", "label": "x", "count": 1, "layers": ["0"]}], "'count' must be"),
    (("repeats",), [{"id": "r", "label": "x", "count": 2, "layers": ["77"]}], "no layer '77'"),
]


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED)
def test_malformed_forms_are_refused_by_name(
    pipeline: Pipeline, path: tuple[Any, ...], value: Any, message: str
) -> None:
    good = traced(pipeline, **BRANCHY).to_dict()
    with pytest.raises(LayerGraphError, match=message):
        LayerGraph.from_dict(_with(good, path, value))


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"schema": 1', "null", "[" * 100000])
def test_not_a_graph_at_all(text: str) -> None:
    with pytest.raises(LayerGraphError):
        LayerGraph.from_json(text)


def test_a_forged_graph_blob_is_traced_again(tmp_path: Path, pipeline: Pipeline) -> None:
    """A blob that hashes right but is not a valid graph: a miss, then a fresh trace."""
    options = parse_options(BRANCHY)
    first = Pipeline(tmp_path, worker=pipeline.worker).diagram(options)
    bad = _with(first.graph.to_dict(), ("edges", 0, "head"), "99")
    raw = json.dumps(bad, sort_keys=True, separators=(",", ":")).encode()
    name = hashlib.sha256(raw).hexdigest()
    (tmp_path / "blobs" / f"{name}.json").write_bytes(raw)
    for manifest in (tmp_path / "manifests").glob("*.json"):
        data = json.loads(manifest.read_text())
        data["graph"] = name
        manifest.write_text(json.dumps(data))
    again = Pipeline(tmp_path, worker=pipeline.worker)
    result = again.diagram(options)
    assert not result.cached and again.traced == 1
    assert result.graph == first.graph


def test_optional_fields_may_be_left_out() -> None:
    graph = LayerGraph.from_dict(
        {
            "schema": SCHEMA,
            "model": "M",
            "layers": [
                {"id": "0", "kind": "input", "name": "input-tensor", "outputs": [[1, 2]]},
                {"id": "1", "kind": "function", "name": "relu"},
            ],
            "edges": [{"tail": "0", "head": "1"}],
        }
    )
    assert graph.layers[1] == Layer(id="1", kind="function", name="relu")
    assert graph.edges == (Edge("0", "1", 1),)
    assert graph.groups == () and graph.repeats == ()
    assert '"cluster":null' in graph.to_json()  # written out in full


def test_collapse_repeats_on_the_typed_graph(pipeline: Pipeline) -> None:
    graph = traced(pipeline, **{**TRANSFORMER, "expand-nested": False})
    collapsed = collapse_repeats(graph)
    assert collapsed is not graph
    assert len(collapsed.layers) < len(graph.layers)
    assert collapsed.repeats, "the four identical blocks collapse"
    repeat = collapsed.repeats[0]
    assert repeat.count == 4 and repeat.label == "blocks.0-3"
    kept = set(repeat.layers)
    assert all(collapsed.layer(i).repeat_group == "blocks.0-3" for i in kept)
    assert LayerGraph.from_json(collapsed.to_json()) == collapsed
    assert graph == traced(pipeline, **{**TRANSFORMER, "expand-nested": False})  # not mutated
    assert collapse_repeats(traced(pipeline, **BRANCHY)) == traced(pipeline, **BRANCHY)
    text = describe(collapsed)
    assert text.startswith("TinyTransformer: input input_ids")
    words = search_words(collapsed).split()
    assert len(words) == len(set(words)) < len(re.findall(r"\w+", text))
    # every word is still found, but the numbers, which Sphinx never indexes
    assert set(words) == {w for w in re.findall(r"\w+", text) if not w.isdigit()}
    assert "input_ids" in words and not any(w.isdigit() for w in words)


def test_a_stored_graph_pickles_as_its_text(pipeline: Pipeline) -> None:
    """A Sphinx doctree keeps the text, and the graph read back is the one traced."""
    graph = traced(pipeline, **TRANSFORMER)
    stored = StoredGraph.of(graph)
    assert stored.load() is graph
    assert stored._text is None  # written only when pickled
    copy = pickle.loads(pickle.dumps(stored))
    assert copy._text == graph.to_json() and copy.digest == graph.digest
    assert copy._graph is None  # the graph itself is not pickled
    assert copy.load() == graph and copy.load().digest == graph.digest
    assert copy.words == search_words(graph) and copy.model == graph.model == "TinyTransformer"
    # a hostile text is checked when it is read back, as a cache entry is
    forged = StoredGraph(graph.to_json().replace('"schema":1', '"schema":9'), graph.digest)
    with pytest.raises(DamagedGraphError, match="schema"):
        forged.load()


def _page_fields(start: str, end: str) -> set[str]:
    """The names a definition list of the reference page explains (``a``, ``b`` lines)."""
    section = PAGE.read_text("utf-8").split(start, 1)[1].split(end, 1)[0]
    lines = re.findall(r"^``\w+``(?:, ``\w+``)*$", section, flags=re.M)
    return {name for line in lines for name in re.findall(r"``(\w+)``", line)}


def test_reference_page_lists_every_field() -> None:
    top = _page_fields("Top level:", "Each layer:")
    assert top == {"schema"} | {f.name for f in dataclasses.fields(LayerGraph)}
    layer = _page_fields("Each layer:", "Fields that are empty")
    assert layer == {f.name for f in dataclasses.fields(Layer)}
    text = PAGE.read_text("utf-8")
    for cls in (Edge, Group, Repeat):
        for f in dataclasses.fields(cls):
            assert f"``{f.name}``" in text, f"{cls.__name__}.{f.name} is not documented"


def test_reference_page_example_is_a_real_trace(pipeline: Pipeline) -> None:
    text = PAGE.read_text("utf-8")
    block = text.split(".. code-block:: json", 1)[1].split("\nTop level:", 1)[0]
    example = LayerGraph.from_dict(json.loads(block))
    real = traced(pipeline, **BRANCHY)
    assert example.model == real.model
    for layer in example.layers:
        assert layer == real.layer(layer.id)
    assert set(example.edges) <= set(real.edges)
