"""Inputs found without boilerplate: real models through the real worker, Torch-RecHub and
transformers included; the failure message word for word."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import torch

import models_providers as mp
from conftest import shared_pipeline
from model_diagram import render
from model_diagram.errors import InputError, OptionError, TraceError
from model_diagram.options import TRACE, parse_options
from model_diagram.providers import GROUP, guess_inputs, load_provider

SVG = "{http://www.w3.org/2000/svg}"


def diagram(tmp_path: Path, name: str, **values: Any) -> Any:
    """Render ``models_providers:<name>`` through the worker with only the given options.

    Depth 3 unless given: the fragments name layers three levels down, which the default
    ``depth: auto`` may fold away to keep within ``max-nodes``."""
    options = parse_options({"factory": f"models_providers:{name}", "depth": 3, **values})
    return shared_pipeline(tmp_path / "cache").diagram(options)


def svg_text(svg: str) -> str:
    return " | ".join((t.text or "").strip() for t in ET.fromstring(svg).iter(f"{SVG}text"))


def trace_options(**values: Any) -> dict[str, Any]:
    return parse_options(values, require_factory=False).stage_dict(TRACE)


def message(tmp_path: Path, name: str, **values: Any) -> str:
    with pytest.raises(InputError) as info:
        diagram(tmp_path, name, **values)
    return info.value.message


# -- each provider, from a diagram that names only the factory


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        (
            "make_deepfm",
            [
                "Embedding",
                "FM",
                "Linear",
                "x['user_id'] | (2)",
                "x['age'] | (2)",
                "x['price_vec'] | (2, 3)",
                "x['hist_item'] | (2, 10)",
                "AveragePooling",
            ],
        ),
        (
            "make_dssm",
            [
                "Embedding",
                "Linear",
                "x['user_id'] | (2)",
                "x['hist_movie'] | (2, 10)",
                "x['movie_id'] | (2)",
                "normalize",
            ],
        ),
        (
            "make_mmoe",
            [
                "Embedding",
                "Linear",
                "PredictionLayer",
                "x['city'] | (2)",
                "x['income'] | (2)",
                "output | (2, 2)",
            ],
        ),
        ("make_example_tuple", ["arg0 | (3, 8)", "arg1 | (3, 6)", "Linear"]),
        ("make_example_dict", ["tokens | (3, 7)", "scale | (3, 1, 1)", "Embedding"]),
        ("make_example_tensor", ["x | (3, 1, 12, 12)", "Conv2d", "output | (3, 4, 10, 10)"]),
        pytest.param(
            "make_bert",
            [
                "input_ids | (2, 10)",
                "token_type_ids | (2, 10)",
                "Embedding",
                "BertAttention",
                "BertIntermediate",
                "Tanh",
            ],
            marks=pytest.mark.slow,
        ),
        # GPT-2 has no token types; n_positions=8 caps seq-length 10
        pytest.param(
            "make_gpt2",
            ["input_ids | (2, 8)", "Embedding", "LayerNorm", "output | (2, 8, 32)"],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_factory_alone_renders(tmp_path: Path, name: str, fragments: list[str]) -> None:
    result = diagram(tmp_path, name)
    text = svg_text(result.svg)
    for fragment in fragments:
        assert fragment in text
    assert "attention_mask" not in text  # left out on meta, see test_transformers_inputs
    assert result.notes == []  # traced on the meta device, no CPU fallback


def test_batch_size_and_seq_length(tmp_path: Path) -> None:
    text = svg_text(diagram(tmp_path, "make_deepfm", batch_size=4, seq_length=7).svg)
    for fragment in (
        "x['user_id'] | (4)",
        "x['age'] | (4)",
        "x['price_vec'] | (4, 3)",
        "x['hist_item'] | (4, 7)",
        "output | (4)",
    ):
        assert fragment in text


def test_rechub_ints_are_seeded_in_range_and_on_the_device() -> None:
    model = mp.make_dssm()
    options = trace_options(batch_size=64, seq_length=12)
    (first,), kwargs = guess_inputs(model, options, "cpu")
    (again,), _ = guess_inputs(model, options, "cpu")
    assert kwargs == {} and list(first) == ["user_id", "hist_movie", "movie_id"]
    assert first["user_id"].shape == (64,) and first["hist_movie"].shape == (64, 12)
    assert first["user_id"].dtype == torch.int64
    assert first["user_id"].min() >= 0 and first["user_id"].max() < 100
    # hist_movie shares movie_id's table (300 rows), not its own vocab_size of 5000
    assert first["hist_movie"].min() >= 0 and first["hist_movie"].max() < 300
    assert first["hist_movie"].max() > 150  # spread over the range, not a constant
    assert all(torch.equal(first[k], again[k]) for k in first)

    model.user_features[1].max_len = 5  # a sequence feature declaring its own length
    (x,), _ = guess_inputs(model, options, "meta")
    assert x["hist_movie"].shape == (64, 5)
    assert all(t.device.type == "meta" for t in x.values())


def test_transformers_inputs() -> None:
    model = mp.make_bert()
    _, on_cpu = guess_inputs(model, trace_options(seq_length=100), "cpu")
    assert list(on_cpu) == ["input_ids", "token_type_ids", "attention_mask"]
    assert all(t.shape == (2, 64) for t in on_cpu.values())  # capped by max_position_embeddings
    assert on_cpu["input_ids"].max() < 100 and on_cpu["input_ids"].min() >= 0
    assert set(on_cpu["token_type_ids"].unique().tolist()) <= {0, 1}
    assert bool((on_cpu["attention_mask"] == 1).all())
    # an all-ones mask reads values, which the meta device does not have: it is left out there
    args, on_meta = guess_inputs(model, trace_options(), "meta")
    assert args == () and list(on_meta) == ["input_ids", "token_type_ids"]
    assert all(t.device.type == "meta" and t.shape == (2, 10) for t in on_meta.values())


@pytest.mark.slow
def test_transformers_vision_and_encoder_decoder_inputs() -> None:
    args, pixels = guess_inputs(mp.make_vit(), trace_options(batch_size=3), "meta")
    assert args == () and {k: tuple(v.shape) for k, v in pixels.items()} == {
        "pixel_values": (3, 1, 48, 48)
    }
    _, t5 = guess_inputs(mp.make_t5(), trace_options(seq_length=6), "cpu")
    assert {k: tuple(v.shape) for k, v in t5.items()} == {
        "input_ids": (2, 6),
        "attention_mask": (2, 6),
        "decoder_input_ids": (2, 6),
    }
    assert t5["decoder_input_ids"].max() < 100


# -- forcing a provider


def test_forced_provider(tmp_path: Path) -> None:
    forced = diagram(tmp_path, "make_example_tensor", input_provider="example-input-array")
    text = svg_text(forced.svg)
    assert "x | (3, 1, 12, 12)" in text
    assert message(tmp_path, "make_example_tensor", input_provider="torch-rechub") == (
        "input-provider 'torch-rechub' does not apply to ExampleTensor: use input-provider: "
        "auto, or give input, inputs, kwargs, input-size or input-factory"
    )
    # inputs given explicitly win over any provider
    text = svg_text(
        diagram(
            tmp_path,
            "make_example_tensor",
            input_provider="torch-rechub",
            input="float[1,1,8,8]",
        ).svg
    )
    assert "x | (1, 1, 8, 8)" in text


def test_unknown_provider_name_is_an_option_error() -> None:
    with pytest.raises(OptionError) as info:
        parse_options({"factory": "models_providers:make_deepfm", "input-provider": "nope"})
    assert info.value.message == (
        "option 'input-provider': invalid value 'nope' (must be one of auto, "
        "example-input-array, transformers, torch-rechub); expected auto | provider name"
    )


# -- nothing applies: what was tried, and a line to paste


def test_unguessable_conv_model_word_for_word(tmp_path: Path) -> None:
    assert message(tmp_path, "make_conv_first") == (
        "no inputs given and none could be guessed for ConvFirst: tried example-input-array, "
        "transformers and torch-rechub, and forward(x: Tensor) gives no shapes. Its first "
        "layer, conv = Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)), suggests  "
        "input: 'float[2,3,32,32]'  (32x32 is a guess: use your input size); or give inputs, "
        "kwargs, input-size or input-factory"
    )


def test_unguessable_linear_and_embedding_models(tmp_path: Path) -> None:
    assert message(tmp_path, "make_linear_first", batch_size=4) == (
        "no inputs given and none could be guessed for LinearFirst: tried example-input-array, "
        "transformers and torch-rechub, and forward(x: Tensor) gives no shapes. Its first "
        "layer, fc = Linear(in_features=20, out_features=5, bias=True), suggests  "
        "input: 'float[4,20]'; or give inputs, kwargs, input-size or input-factory"
    )


def test_embedding_first_models_are_guessed_from_that_layer(tmp_path: Path) -> None:
    """One required argument and an Embedding first: token ids for it are tried, and the
    note says where they came from (the line the error used to suggest)."""
    embedding = diagram(tmp_path, "make_embedding_first", seq_length=16)
    assert "x | (2, 16)" in svg_text(embedding.svg)
    assert embedding.notes == [
        "inputs guessed from the first layer, embed = Embedding(1000, 16): "
        "input: 'long[2,16](0,1000)' (no provider applied: tried example-input-array, "
        "transformers and torch-rechub); give input or kwargs if forward wants something else"
    ]


def test_a_first_layer_guess_that_fails_says_so(tmp_path: Path) -> None:
    """forward wants something else than the first layer's input: the error names the guess."""
    with pytest.raises(TraceError) as info:
        diagram(tmp_path, "make_embedding_then_image")
    assert "inputs guessed from the first layer, embed = Embedding(10, 4)" in info.value.message


def test_live_model_uses_the_same_providers(tmp_path: Path) -> None:
    with pytest.raises(InputError) as live:
        render(mp.make_conv_first(), cache_dir=tmp_path)
    assert live.value.message == message(tmp_path, "make_conv_first")


# -- third-party providers from the entry point group


def test_entry_point_loading() -> None:
    pair = EntryPoint("pair", "models_providers:pair_provider", GROUP)
    assert load_provider(pair) is mp.pair_provider
    (points,), kwargs = guess_inputs(
        mp.make_wants_pair(), trace_options(batch_size=3), "cpu", eps=[pair]
    )
    assert points.shape == (3, 5) and points.dtype == torch.float32
    assert kwargs["ids"].shape == (3,) and kwargs["ids"].min() >= 0 and kwargs["ids"].max() < 40
    # built-ins come first; a provider that declines is listed with them
    with pytest.raises(
        InputError,
        match="tried example-input-array, transformers, torch-rechub and pair, and forward",
    ):
        guess_inputs(mp.make_conv_first(), trace_options(), "meta", eps=[pair])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "models_providers:NOT_A_PROVIDER",
            "input provider 'bad' (models_providers:NOT_A_PROVIDER) is a int, not a callable "
            "(model, request) -> (args, kwargs) | None",
        ),
        (
            "no_such_module:provide",
            "input provider 'bad' (no_such_module:provide) cannot be loaded: "
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
    ],
)
def test_entry_point_errors(value: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        load_provider(EntryPoint("bad", value, GROUP))
    assert info.value.message == expected


def test_provider_returning_garbage_is_named() -> None:
    garbage = EntryPoint("garbage", "models_providers:make_wants_pair", GROUP)
    with pytest.raises(InputError, match=r"input provider 'garbage' raised TypeError: "):
        guess_inputs(mp.make_conv_first(), trace_options(), "meta", eps=[garbage])


def test_installed_third_party_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution on sys.path declaring the entry point, seen by the worker."""
    site = tmp_path / "site"
    info = site / "toy_provider-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-provider\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\npair = models_providers:pair_provider\n")
    monkeypatch.syspath_prepend(str(site))
    try:
        text = svg_text(diagram(tmp_path, "make_wants_pair", input_provider="pair").svg)
        assert "x | (2, 5)" in text and "ids | (2)" in text and "Embedding" in text
    finally:
        shutil.rmtree(info)  # the shared worker keeps sys.path; the entry point must go


# -- notebooks and scripts


def test_render_live_rechub_model(tmp_path: Path) -> None:
    model = mp.make_deepfm()
    diagram_ = render(model, depth=4, cache_dir=tmp_path)
    text = svg_text(diagram_.svg)
    assert "Embedding" in text and "x['hist_item'] | (2, 10)" in text and "Linear" in text
    assert diagram_._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
    assert model.training  # left as it was
