"""Template model module for the benchmark sites (needs only torch).

The harness copies this file to ``m0.py`` ... ``m7.py`` in a temporary site, and
diagram ``i`` draws ``m<i>:<FACTORIES[i % 4]>``, so editing one copy invalidates
exactly one diagram. ``WIDTH`` is the line the incremental benchmark edits: it
changes the drawn shapes, as a real edit would.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

WIDTH = 16


class SmallCNN(nn.Module):
    """A LeNet-like classifier for ``(N, 3, 32, 32)`` images."""

    def __init__(self, width: int = WIDTH, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * 8 * 8, 64), nn.ReLU(), nn.Linear(64, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Block(nn.Module):
    """A pre-norm transformer encoder block."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, need_weights=False)
        x = x + h
        return x + self.ff(self.norm2(x))


class TinyTransformer(nn.Module):
    """Token ids ``(N, L)`` -> logits ``(N, L, vocab)``, four identical blocks."""

    def __init__(self, d_model: int = 4 * WIDTH, vocab: int = 1000, layers: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(128, d_model)
        self.blocks = nn.ModuleList(Block(d_model, 4) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, input_ids: Tensor) -> Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.embed(input_ids) + self.pos(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class Recommender(nn.Module):
    """One dict of features in (``user_id``, ``age``, ``hist``), a click probability out."""

    def __init__(self, vocab: int = 1000, dim: int = WIDTH) -> None:
        super().__init__()
        self.users = nn.Embedding(vocab, dim)
        self.items = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim + 1, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        user = self.users(features["user_id"])
        age = features["age"].unsqueeze(-1)
        hist = self.items(features["hist"]).mean(dim=1)
        return torch.sigmoid(self.mlp(torch.cat([user, age, hist], dim=-1)))


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class SmallResNet(nn.Module):
    """A stem, three residual blocks with skip connections and a linear head."""

    def __init__(self, width: int = WIDTH, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.blocks = nn.Sequential(*(Residual(width) for _ in range(3)))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))


def make_cnn() -> SmallCNN:
    return SmallCNN()


def make_transformer() -> TinyTransformer:
    return TinyTransformer()


def make_recommender() -> Recommender:
    return Recommender()


def make_resnet() -> SmallResNet:
    return SmallResNet()
