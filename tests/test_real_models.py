"""Real library models through the real worker: what they return and do must not break tracing.

Transformers models are built from their default configs, shrunk (tests/models_zoo.py), with no
downloads; Torch-RecHub models from small feature lists. Only the factory is given: inputs are
guessed, as for a new user's first directive.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
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
    return result.graph.to_dict()


def kinds(graph: dict[str, Any]) -> Counter[str]:
    return Counter(node["kind"] for node in graph["layers"])


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


#: a module instance that no model registers (as the ``kernels`` package's function modules are)
UNREGISTERED = nn.Linear(4, 4)


class CallsUnregistered(nn.Module):
    """A module without children that returns what an unregistered module computed."""

    def forward(self, x: Tensor) -> Tensor:
        return UNREGISTERED(x)


class UsesUnregistered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 4)
        self.wrapper = CallsUnregistered()

    def forward(self, x: Tensor) -> Tensor:
        return self.wrapper(self.first(x)) + 1


def function_module() -> nn.Module:
    """A module class made inside a function, as the ``kernels`` package makes ``Func``."""

    class Func(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x * 2

    return Func()


rotary_like = function_module()


class CallsFunctionModule(nn.Module):
    """Calls the global instance, and a copy of it that no global holds (kernels' dispatch)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.private = [copy.copy(rotary_like)]  # a list: not registered

    def forward(self, x: Tensor) -> Tensor:
        return rotary_like(self.fc(x)) + self.private[0](x)


def local_trace(model: nn.Module, depth: int = 2) -> dict[str, Any]:
    options = parse_options({"depth": depth}, require_factory=False).stage_dict(TRACE)
    return trace_module(model.eval(), (torch.randn(2, 4),), {}, options, "cpu")


def edges_by_name(graph: dict[str, Any]) -> set[tuple[str, str]]:
    names = {n["id"]: n.get("qualname") or n["name"] for n in graph["layers"]}
    return {(names[e["tail"]], names[e["head"]]) for e in graph["edges"]}


def test_in_place_writes_keep_their_edges() -> None:
    """The write into ``h`` is drawn, and it feeds the head: the edge DIEN used to lose."""
    graph = local_trace(InPlaceState())
    edges = edges_by_name(graph)
    assert ("__setitem__", "head") in edges
    assert ("head", "output-tensor") in edges
    assert sum(1 for n in graph["layers"] if n["name"] == "__setitem__") == 2


def test_tensors_read_by_many_layers() -> None:
    edges = edges_by_name(local_trace(SharedCache(), depth=1))
    assert {("input-tensor", "add"), ("layers.0", "add")} <= edges


def test_mixed_outputs_draw_their_tensors_only() -> None:
    graph = local_trace(ReturnsMixed())
    outputs = [n for n in graph["layers"] if n["kind"] == "output"]
    assert sorted(n["outputs"][0] for n in outputs) == [[], [2, 3]]  # logits and pair[0]


@pytest.mark.parametrize(("depth", "drawn"), [(1, "wrapper"), (2, "Linear"), (-1, "Linear")])
def test_unregistered_modules_called_inside_a_leaf_draw_at_every_depth(
    depth: int, drawn: str
) -> None:
    """Below the wrapper's depth the module it called is drawn, fed by ``first``, feeding add."""
    edges = edges_by_name(local_trace(UsesUnregistered(), depth=depth))
    assert {("first", drawn), (drawn, "add"), ("add", "output-tensor")} <= edges


def test_a_function_module_is_named_by_the_global_that_holds_it() -> None:
    graph = local_trace(CallsFunctionModule(), depth=-1)
    assert {("fc", "rotary_like"), ("rotary_like", "add")} <= edges_by_name(graph)
    drawn = [n for n in graph["layers"] if n["name"] == "rotary_like"]
    assert len(drawn) == 2
    assert not any("qualname" in n for n in drawn)  # not part of the model


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, -1])
def test_dien_state_reaches_its_mlp(pipeline: Pipeline, depth: int) -> None:
    """DIEN writes its GRU output into a zeros tensor; the MLP must still be fed by it."""
    graph = graph_of(
        pipeline, "models_zoo:rechub_model", factory_kwargs={"name": "DIEN"}, depth=depth
    )
    names = {n["id"]: n for n in graph["layers"]}
    writes = {n["id"] for n in graph["layers"] if n["name"] == "__setitem__"}
    assert writes
    assert any(e["tail"] in writes for e in graph["edges"] if e["head"] in names)
    assert kinds(graph)["output"] >= 1


# -- inputs guessed for the common families, and extra-kwargs on top


def input_shapes(graph: dict[str, Any]) -> dict[str, list[int]]:
    return {n["label"]: n["outputs"][0] for n in graph["layers"] if n["kind"] == "input"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_type", "expected"),
    [
        # two towers: ids from text_config, pixels from vision_config
        ("clip", {"input_ids": [2, 10], "pixel_values": [2, 3, 224, 224]}),
        # audio: log-mel frames (2 x max_source_positions) and the decoder's ids
        ("whisper", {"input_features": [2, 80, 3000], "decoder_input_ids": [2, 10]}),
        ("wav2vec2", {"input_values": [2, 16000]}),
        ("bart", {"input_ids": [2, 10], "attention_mask": [2, 10], "decoder_input_ids": [2, 10]}),
    ],
)
def test_inputs_guessed_for_multimodal_audio_and_encoder_decoder_models(
    pipeline: Pipeline, model_type: str, expected: dict[str, list[int]]
) -> None:
    graph = graph_of(
        pipeline, "models_zoo:transformers_model", factory_kwargs={"model_type": model_type}
    )
    assert input_shapes(graph) == expected


@pytest.mark.slow
def test_extra_kwargs_join_guessed_inputs(pipeline: Pipeline) -> None:
    """extra-kwargs adds to the guessed inputs (providers stay on) and wins over them."""
    factory = "models_zoo:transformers_model"
    plain = graph_of(pipeline, factory, factory_kwargs={"model_type": "mistral"}, depth=-1)
    assert set(input_shapes(plain)) == {"input_ids"}  # no mask on the meta device
    masked = graph_of(
        pipeline,
        factory,
        factory_kwargs={"model_type": "mistral"},
        depth=-1,
        extra_kwargs={"attention_mask": "long[2,10](1,2)", "use_cache": False},
        device="cpu",
    )
    assert input_shapes(masked) == {"input_ids": [2, 10], "attention_mask": [2, 10]}
    # without a cache, its bookkeeping (a cat per layer for keys and values) is gone
    cats = [sum(1 for n in g["layers"] if n["name"] == "cat") for g in (plain, masked)]
    assert cats[0] > cats[1]


def test_extra_kwargs_from_every_front_end() -> None:
    """One schema: YAML values (MkDocs, API) and rST/CLI strings give the same option."""
    from model_diagram.options import OPTIONS

    spec = OPTIONS["extra-kwargs"]
    as_text = spec.from_string("{use_cache: false, attention_mask: 'long[1,8](1,2)'}")
    assert as_text == {"use_cache": False, "attention_mask": "long[1,8](1,2)"}
    assert parse_options({"factory": "a:b", "extra_kwargs": as_text}).extra_kwargs == as_text
    combined = parse_options({"factory": "a:b", "input": "float[2,4]", "extra-kwargs": as_text})
    assert combined.input == "float[2,4]"  # joins any input option


def test_extra_kwargs_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from model_diagram.cli import main

    out = tmp_path / "m.svg"
    argv = ["render", "models:make_mlp", "--input", "float[2,8]", "-o", str(out)]
    argv += ["--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "--extra-kwargs", "{scale: 'float[2,4]'}"]) == 1  # forward has no scale
    assert "unexpected keyword argument 'scale'" in capsys.readouterr().err
    assert main(argv) == 0 and out.exists()


# -- collapse-repeats folds Llama-style decoders


def svg_texts(svg: str) -> str:
    import xml.etree.ElementTree as ET

    return " | ".join(
        (t.text or "").strip() for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")
    )


@pytest.mark.slow
@pytest.mark.parametrize("depth", [1, 2])
def test_six_layer_llama_folds_to_one_block_x6(pipeline: Pipeline, depth: int) -> None:
    """Every layer also reads the rotary embeddings and the mask from outside the chain:
    shared inputs, so the six layers still fold."""
    options = parse_options(
        {
            "factory": "models_zoo:transformers_model",
            "factory-kwargs": {"model_type": "llama", "overrides": {"num_hidden_layers": 6}},
            "depth": depth,
            "collapse-repeats": True,
        }
    )
    result = pipeline.diagram(options)
    text = svg_texts(result.data.decode())
    assert "x6" in text
    assert "layers.0" in text and "layers.3" not in text
    full = pipeline.diagram(options.with_values(collapse_repeats=False))
    assert "layers.5" in svg_texts(full.data.decode()) and "x6" not in svg_texts(full.data.decode())


# -- a quick subset of benchmarks/zoo.py: Torch-RecHub's families, factory only


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, -1])
@pytest.mark.parametrize(
    "name",
    ["DeepFM", "DIN", "MMOE", "YoutubeDNN", "HSTUModel"],
)
def test_rechub_models_draw_from_the_factory_alone(
    pipeline: Pipeline, name: str, depth: int
) -> None:
    graph = graph_of(
        pipeline, "models_zoo:rechub_model", factory_kwargs={"name": name}, depth=depth
    )
    assert kinds(graph)["input"] >= 1 and kinds(graph)["output"] >= 1
    assert kinds(graph)["module"] >= 1


class BadShapes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x)


def test_a_failing_op_is_the_models_error_not_torchviews() -> None:
    """The op raises through torchview's __torch_function__; the message blames forward."""
    from model_diagram.errors import TraceError

    with pytest.raises(TraceError) as info:
        local_trace(BadShapes())
    assert info.value.message.startswith(
        "the model's forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    )
