"""Models whose inputs model-diagram finds by itself (tests/test_providers.py).

Imported as the top-level module ``models_providers`` with ``tests/`` on
``sys.path``. Feature objects are made inside each factory: Torch-RecHub
features cache their embedding table, and the worker may build a model twice
(meta, then CPU).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

# -- Lightning-style modules: example_input_array in its three forms


class ExampleTuple(nn.Module):
    """``example_input_array`` is a tuple: two positional arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Linear(8, 4)
        self.right = nn.Linear(6, 4)
        self.example_input_array = (torch.randn(3, 8), torch.randn(3, 6))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.left(a) + self.right(b)


class ExampleDict(nn.Module):
    """``example_input_array`` is a dict: keyword arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.proj = nn.Linear(8, 2)
        self.example_input_array = {
            "tokens": torch.randint(0, 50, (3, 7)),
            "scale": torch.ones(3, 1, 1),
        }

    def forward(self, *, tokens: Tensor, scale: Tensor) -> Tensor:
        return self.proj(self.embed(tokens) * scale)


class ExampleTensor(nn.Module):
    """``example_input_array`` is one tensor: the one argument."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.example_input_array = torch.randn(3, 1, 12, 12)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def make_example_tuple() -> ExampleTuple:
    return ExampleTuple()


def make_example_dict() -> ExampleDict:
    return ExampleDict()


def make_example_tensor() -> ExampleTensor:
    return ExampleTensor()


# -- models whose inputs cannot be guessed


class ConvFirst(nn.Module):
    """forward takes one image tensor; only its first layer hints at the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x)).flatten(1)


class LinearFirst(nn.Module):
    """forward takes one feature vector; the first Linear gives its width."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(20, 5)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.fc(x))


class EmbeddingFirst(nn.Module):
    """forward takes token ids; the first Embedding gives their range."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 16)

    def forward(self, ids: Tensor) -> Tensor:
        return self.embed(ids).mean(1)


class EmbeddingThenImage(nn.Module):
    """The first layer is an Embedding, but forward's one argument is an image."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, image: Tensor) -> Tensor:
        return self.conv(image).mean((2, 3)) + self.embed.weight.sum(0)


def make_embedding_then_image() -> EmbeddingThenImage:
    return EmbeddingThenImage()


def make_conv_first() -> ConvFirst:
    return ConvFirst()


def make_linear_first() -> LinearFirst:
    return LinearFirst()


def make_embedding_first() -> EmbeddingFirst:
    return EmbeddingFirst()


# -- Torch-RecHub's real models, small


def make_deepfm() -> nn.Module:
    """DeepFM over sparse ids, a pooled history sequence and dense values of width 1 and 3."""
    from torch_rechub.basic.features import DenseFeature, SequenceFeature, SparseFeature
    from torch_rechub.models.ranking import DeepFM

    user = SparseFeature("user_id", vocab_size=100, embed_dim=8)
    item = SparseFeature("item_id", vocab_size=200, embed_dim=8)
    hist = SequenceFeature(
        "hist_item", vocab_size=200, embed_dim=8, pooling="mean", shared_with="item_id"
    )
    dense = [DenseFeature("age"), DenseFeature("price_vec", embed_dim=3)]
    return DeepFM(
        deep_features=[*dense, user, item, hist],
        fm_features=[user, item],
        mlp_params={"dims": [16, 8], "dropout": 0.1, "activation": "relu"},
    )


def make_dssm() -> nn.Module:
    """DSSM two-tower: the user tower has a history sharing the item table (vocab 300)."""
    from torch_rechub.basic.features import SequenceFeature, SparseFeature
    from torch_rechub.models.matching import DSSM

    user_features = [
        SparseFeature("user_id", vocab_size=100, embed_dim=8),
        SequenceFeature(
            "hist_movie", vocab_size=5000, embed_dim=8, pooling="mean", shared_with="movie_id"
        ),
    ]
    item_features = [SparseFeature("movie_id", vocab_size=300, embed_dim=8)]
    return DSSM(
        user_features, item_features, user_params={"dims": [16]}, item_params={"dims": [16]}
    )


def make_mmoe() -> nn.Module:
    """MMOE with two experts and two classification tasks."""
    from torch_rechub.basic.features import DenseFeature, SparseFeature
    from torch_rechub.models.multi_task import MMOE

    features = [SparseFeature("city", vocab_size=30, embed_dim=4), DenseFeature("income")]
    return MMOE(
        features,
        task_types=["classification", "classification"],
        n_expert=2,
        expert_params={"dims": [16]},
        tower_params_list=[{"dims": [8]}, {"dims": [8]}],
    )


# -- Hugging Face transformers, from small configs (no downloads)


def make_bert() -> nn.Module:
    from transformers import BertConfig, BertModel

    return BertModel(
        BertConfig(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    )


def make_gpt2() -> nn.Module:
    from transformers import GPT2Config, GPT2Model

    return GPT2Model(
        GPT2Config(
            vocab_size=100,
            n_embd=32,
            n_layer=2,
            n_head=2,
            n_positions=8,
            bos_token_id=0,
            eos_token_id=0,
        )
    )


def make_vit() -> nn.Module:
    from transformers import ViTConfig, ViTModel

    return ViTModel(
        ViTConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=48,
            patch_size=8,
            num_channels=1,
        )
    )


def make_t5() -> nn.Module:
    from transformers import T5Config, T5Model

    return T5Model(T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2))


# -- a third-party provider, registered by tests through an entry point


class WantsPair(nn.Module):
    """A model only :func:`pair_provider` knows: ``forward(points, ids)``."""

    def __init__(self) -> None:
        super().__init__()
        self.points = nn.Linear(5, 4)
        self.ids = nn.Embedding(40, 4)

    def forward(self, points: Tensor, ids: Tensor) -> Tensor:
        return self.points(points) + self.ids(ids)


def make_wants_pair() -> WantsPair:
    return WantsPair()


def pair_provider(model: Any, request: Any) -> Any:
    """Inputs for :class:`WantsPair` as spec strings; declines every other model."""
    if not isinstance(model, WantsPair):
        return None
    return (f"float[{request.batch_size},5]",), {"ids": f"long[{request.batch_size}](0,40)"}


NOT_A_PROVIDER = 42
