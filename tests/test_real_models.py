"""Real library models through the real worker: what they return and do must not break tracing.

Transformers models are built from their default configs, shrunk (tests/models_zoo.py), with no
downloads; Torch-RecHub models from small feature lists. Only the factory is given: inputs are
guessed, as for a new user's first directive.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from model_diagram.options import TRACE, parse_options
from model_diagram.pipeline import Pipeline
from model_diagram.trace import trace_module


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """One worker for the module: transformers is imported once."""
    return Pipeline(tmp_path_factory.mktemp("cache"))


def graph_of(pipeline: Pipeline, factory: str, **values: Any) -> dict[str, Any]:
    options = parse_options({"factory": factory, **values})
    result = pipeline.diagram(options)
    assert result.data.startswith(b"<svg") or b"<svg" in result.data[:400]
    return result.graph


def kinds(graph: dict[str, Any]) -> Counter[str]:
    return Counter(node["kind"] for node in graph["nodes"])


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, -1])
@pytest.mark.parametrize(
    ("model_type", "outputs"),
    [
        ("gpt2", 1),  # DynamicCache returned by default
        ("llama", 1),
        ("opt", 1),
        ("t5", 2),  # EncoderDecoderCache; last_hidden_state and encoder_last_hidden_state
        ("mamba", 1),  # torchview used to iterate its cache inside forward
    ],
)
def test_models_returning_caches_draw_at_every_depth(
    pipeline: Pipeline, model_type: str, outputs: int, depth: int
) -> None:
    """Cache objects are opaque to the recorder: every depth draws, and no cache tensor
    appears as an output box (a 2-layer decoder's cache holds 4 tensors)."""
    graph = graph_of(
        pipeline,
        "models_zoo:transformers_model",
        factory_kwargs={"model_type": model_type},
        depth=depth,
    )
    assert kinds(graph)["output"] == outputs
    assert kinds(graph)["module"] >= 1


# -- what models do inside forward, traced in this process on CPU


class SharedCache(nn.Module):
    """Layers append to a plain list that every later layer reads: tensors shared by many."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))

    def forward(self, x: Tensor) -> Tensor:
        seen = [x]
        for layer in self.layers:
            x = layer(x) + seen[0]
            seen.append(x)
        return x


class InPlaceState(nn.Module):
    """A recurrent state written in place (``h[:] = ...``), then read by the head (DIEN's shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(x.shape[0], 4)
        for _ in range(2):
            h[:, :] = self.cell(x) + h
        return self.head(h)


class OpaqueState:
    """Not a container: an object that is iterable, as caches are."""

    def __init__(self, tensors: list[Tensor]) -> None:
        self.tensors = tensors

    def __iter__(self) -> Any:
        raise AssertionError("the recorder must not iterate a model's own objects")


class ReturnsMixed(nn.Module):
    """forward returns a dict mixing tensors, an opaque object, a string and a generator."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> dict[str, Any]:
        y = self.fc(x)
        return {
            "logits": y,
            "state": OpaqueState([y, x]),
            "name": "mixed",
            "pair": (y.sum(), None),
            "lazy": (t for t in [y]),
        }


def local_trace(model: nn.Module, depth: int = 2) -> dict[str, Any]:
    options = parse_options({"depth": depth}, require_factory=False).stage_dict(TRACE)
    return trace_module(model.eval(), (torch.randn(2, 4),), {}, options, "cpu")


def edges_by_name(graph: dict[str, Any]) -> set[tuple[str, str]]:
    names = {n["id"]: n.get("qualname") or n["name"] for n in graph["nodes"]}
    return {(names[e["tail"]], names[e["head"]]) for e in graph["edges"]}


def test_in_place_writes_keep_their_edges() -> None:
    """The write into ``h`` is drawn, and it feeds the head: the edge DIEN used to lose."""
    graph = local_trace(InPlaceState())
    edges = edges_by_name(graph)
    assert ("__setitem__", "head") in edges
    assert ("head", "output-tensor") in edges
    assert sum(1 for n in graph["nodes"] if n["name"] == "__setitem__") == 2


def test_tensors_read_by_many_layers() -> None:
    edges = edges_by_name(local_trace(SharedCache(), depth=1))
    assert {("input-tensor", "add"), ("layers.0", "add")} <= edges


def test_mixed_outputs_draw_their_tensors_only() -> None:
    graph = local_trace(ReturnsMixed())
    outputs = [n for n in graph["nodes"] if n["kind"] == "output"]
    assert sorted(n["outputs"][0] for n in outputs) == [[], [2, 3]]  # logits and pair[0]


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, -1])
def test_dien_state_reaches_its_mlp(pipeline: Pipeline, depth: int) -> None:
    """DIEN writes its GRU output into a zeros tensor; the MLP must still be fed by it."""
    graph = graph_of(
        pipeline, "models_zoo:rechub_model", factory_kwargs={"name": "DIEN"}, depth=depth
    )
    names = {n["id"]: n for n in graph["nodes"]}
    writes = {n["id"] for n in graph["nodes"] if n["name"] == "__setitem__"}
    assert writes
    assert any(e["tail"] in writes for e in graph["edges"] if e["head"] in names)
    assert kinds(graph)["output"] >= 1
