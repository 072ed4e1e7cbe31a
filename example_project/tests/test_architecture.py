"""The example project's models match their committed architecture snapshots.

A change to a model fails here with the readable diff; accept an intended one with
``pytest --model-diagram-update`` (or ``MODEL_DIAGRAM_UPDATE_SNAPSHOTS=1``) and commit
the rewritten ``arch/*.json`` with the change, so reviewers see it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model_diagram.testing import assert_architecture

ARCH = Path(__file__).parent / "arch"


def test_cnn(tmp_path: Path) -> None:
    assert_architecture(
        "example_project.models:make_cnn",
        ARCH / "cnn.json",
        input="float[2,3,32,32]",
        depth=2,
        cache_dir=tmp_path,
    )


def test_recommender_takes_one_dict(tmp_path: Path) -> None:
    assert_architecture(
        "example_project.models:make_recommender",
        ARCH / "recommender.json",
        input={"user_id": "long[2](0,1000)", "age": "float[2]", "hist": "long[2,10](0,1000)"},
        factory_kwargs={"embed_dim": 8},
        depth=2,
        cache_dir=tmp_path,
    )


@pytest.mark.parametrize("layers", [2])
def test_transformer_takes_keywords(tmp_path: Path, layers: int) -> None:
    assert_architecture(
        "example_project.models:make_transformer",
        ARCH / f"transformer-{layers}.json",
        kwargs={"input_ids": "long[2,16](0,1000)"},
        factory_kwargs={"num_layers": layers},
        depth=2,
        cache_dir=tmp_path,
    )
