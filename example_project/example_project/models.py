"""Small but real PyTorch models used to illustrate ``model-diagram`` in docs.

Each model is an ``nn.Module`` class plus a ``make_*`` factory that takes only
keyword arguments with defaults, so a diagram directive can build it by name.

Note: ``make_huge_transformer`` builds a model with more than ten billion
parameters. Only the ``meta`` device can afford it: construct it under
``with torch.device("meta"):`` so no parameter memory is allocated.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SmallCNN(nn.Module):
    """A LeNet-like image classifier: the simplest "real" convnet to draw.

    Expects images of shape ``(N, 3, 32, 32)`` and returns logits ``(N, num_classes)``.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 8 * 8, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def make_cnn(num_classes: int = 10) -> SmallCNN:
    """Build the small image classifier."""
    return SmallCNN(num_classes=num_classes)


class Recommender(nn.Module):
    """A click-through-rate model in the style of Torch-RecHub (DeepFM/DSSM).

    Its forward takes a single dict of features, which is how recommender
    models usually receive mixed sparse, dense and sequence inputs:

    - ``user_id``: long ``(N,)``, a sparse id looked up in an embedding;
    - ``age``: float ``(N,)``, a dense feature;
    - ``hist``: long ``(N, 10)``, a history of item ids, mean-pooled.

    Returns a click probability of shape ``(N, 1)``.
    """

    def __init__(self, vocab_size: int = 1000, embed_dim: int = 16) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(vocab_size, embed_dim)
        self.item_embedding = nn.Embedding(vocab_size, embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * embed_dim + 1, 32),
            nn.ReLU(),
            nn.Linear(32, 1),
        )

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        user = self.user_embedding(features["user_id"])
        age = features["age"].unsqueeze(-1)
        hist = self.item_embedding(features["hist"]).mean(dim=1)
        x = torch.cat([user, age, hist], dim=-1)
        return torch.sigmoid(self.mlp(x))


def make_recommender(vocab_size: int = 1000, embed_dim: int = 16) -> Recommender:
    """Build the dict-input recommender."""
    return Recommender(vocab_size=vocab_size, embed_dim=embed_dim)


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder block, written out so its parts show in diagrams."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            nn.GELU(),
            nn.Linear(dim_feedforward, d_model),
        )

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False)
        x = x + h
        return x + self.ff(self.norm2(x))


class TinyTransformer(nn.Module):
    """A small language-model-shaped encoder: repeated identical blocks.

    The repeated blocks are what makes transformer diagrams large, so this
    model is the one to use for showing depth limits and block collapsing.
    Takes ``input_ids`` (long ``(N, L)``) and an optional ``attention_mask``
    (``(N, L)``, 1 for real tokens and 0 for padding); returns logits
    ``(N, L, vocab_size)``.
    """

    def __init__(
        self,
        vocab_size: int = 1000,
        d_model: int = 64,
        num_layers: int = 4,
        nhead: int = 4,
        max_len: int = 128,
        dim_feedforward: int | None = None,
    ) -> None:
        super().__init__()
        dim_feedforward = dim_feedforward or 4 * d_model
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, nhead, dim_feedforward) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.token_embedding(input_ids) + self.position_embedding(positions)
        key_padding_mask = attention_mask == 0 if attention_mask is not None else None
        for block in self.blocks:
            x = block(x, key_padding_mask=key_padding_mask)
        return self.head(self.norm(x))


def make_transformer(
    vocab_size: int = 1000,
    d_model: int = 64,
    num_layers: int = 4,
    nhead: int = 4,
    max_len: int = 128,
) -> TinyTransformer:
    """Build the small transformer."""
    return TinyTransformer(
        vocab_size=vocab_size,
        d_model=d_model,
        num_layers=num_layers,
        nhead=nhead,
        max_len=max_len,
    )


def make_huge_transformer() -> TinyTransformer:
    """Build a transformer with over ten billion parameters (about 10.08e9).

    It exists to show that diagrams can be drawn without allocating weights:
    build it under ``with torch.device("meta"):``. This factory does not pick
    a device itself; on a real device it would need about 40 GB of memory.
    """
    return TinyTransformer(
        vocab_size=50_000,
        d_model=4096,
        num_layers=48,
        nhead=32,
        max_len=2048,
    )


class Autoencoder(nn.Module):
    """A dense autoencoder that carries its own example input.

    ``example_input_array`` is PyTorch Lightning's convention; model-diagram
    uses it when a diagram names only the factory, so no input spec is needed.
    """

    def __init__(self, features: int = 784, hidden: int = 64) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, 256), nn.ReLU(), nn.Linear(256, hidden))
        self.decoder = nn.Sequential(nn.Linear(hidden, 256), nn.ReLU(), nn.Linear(256, features))
        self.example_input_array = torch.zeros(2, features)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def make_autoencoder() -> Autoencoder:
    """Build the autoencoder; its inputs come from ``example_input_array``."""
    return Autoencoder()


def make_bert(num_layers: int = 12) -> nn.Module:
    """BERT-base from its configuration with Hugging Face transformers (no download).

    Twelve encoder layers of width 768 (about 110 million parameters); the
    diagrams trace it on the meta device, so no weights are allocated.
    """
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(num_hidden_layers=num_layers))
