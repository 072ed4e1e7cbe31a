"""Tensor-spec grammar and seeded example inputs."""

from __future__ import annotations

import pytest

from model_diagram.errors import InputError
from model_diagram.inputs import TensorSpec, materialize, parse_spec, parse_structure


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("float[2,3,64,64]", TensorSpec("float32", (2, 3, 64, 64))),
        (" long[2, 10] (0, 1000) ", TensorSpec("int64", (2, 10), 0, 1000)),
        ("bool[2,16]", TensorSpec("bool", (2, 16))),
        ("bfloat16[4]", TensorSpec("bfloat16", (4,))),
        ("int[3](-5,5)", TensorSpec("int32", (3,), -5, 5)),
        ("float[]", TensorSpec("float32", ())),
    ],
)
def test_grammar(text: str, expected: TensorSpec) -> None:
    assert parse_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("float(2,3)", "malformed tensor spec"),
        ("__import__('os')[1]", "malformed tensor spec"),
        ("complex[2]", "unknown dtype 'complex'"),
        ("float[2,-1]", "must be positive"),
        ("float[0]", "must be positive"),
        ("float[2.5]", "must be integers"),
        ("float[2](0,1)", "only allowed for integer dtypes"),
        ("long[2](5,5)", "is empty"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        parse_spec(text)


def test_structures_keep_their_shape() -> None:
    parsed = parse_structure({"a": "float[2]", "b": ["long[2](0,3)", ("bool[1]", 3)], "c": None})
    assert isinstance(parsed["a"], TensorSpec)
    assert isinstance(parsed["b"], list) and isinstance(parsed["b"][1], tuple)
    assert parsed["b"][1][1] == 3 and parsed["c"] is None


def test_materialize_is_seeded_in_range_and_shaped() -> None:
    import torch

    spec = parse_structure({"ids": "long[4,50](3,7)", "x": "float[2,3]", "m": "bool[5]"})
    first, second = materialize(spec, "cpu"), materialize(spec, "cpu")
    assert torch.equal(first["ids"], second["ids"]) and torch.equal(first["x"], second["x"])
    assert first["ids"].dtype == torch.int64 and first["ids"].shape == (4, 50)
    assert int(first["ids"].min()) >= 3 and int(first["ids"].max()) < 7
    assert first["m"].dtype == torch.bool
    meta = materialize(spec, "meta")
    assert meta["x"].device.type == "meta" and meta["x"].shape == (2, 3)


def test_huge_inputs_only_on_meta() -> None:
    spec = parse_structure("float[100000,100000]")
    assert materialize(spec, "meta").shape == (100000, 100000)
    with pytest.raises(InputError, match=r"37\.3 GiB on cpu; use smaller dims or device: meta"):
        materialize(spec, "cpu")
