"""Versions of one small model for the architecture diff tests (input ``float[2,8]``).

``base`` is the reference; each other factory makes one kind of change.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Net(nn.Module):
    def __init__(self, hidden: int = 16, extra: bool = False) -> None:
        super().__init__()
        self.encoder = nn.Linear(8, hidden)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.extra = nn.Linear(hidden, hidden) if extra else None
        self.head = nn.Linear(hidden, 4)

    def forward(self, x: Tensor) -> Tensor:
        x = self.drop(self.act(self.encoder(x)))
        if self.extra is not None:
            x = torch.relu(self.extra(x))
        return self.head(x)


class Renamed(nn.Module):
    """``Net`` with attributes renamed: the same architecture under other names."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.classifier = nn.Linear(16, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.drop(self.act(self.embed(x))))


class DefinedInAnotherOrder(nn.Module):
    """``Net`` with its modules defined in another order: the forward pass is the same."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, 4)
        self.drop = nn.Dropout(0.1)
        self.act = nn.ReLU()
        self.encoder = nn.Linear(8, 16)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.drop(self.act(self.encoder(x))))


class Swapped(Net):
    """``Net`` calling dropout before the activation: the layers are reordered."""

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.act(self.drop(self.encoder(x))))


class DictInput(nn.Module):
    """``forward(batch)`` takes one dict ``{"user": float[2,8], "item": float[2,width]}``."""

    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.user = nn.Linear(8, 4)
        self.item = nn.Linear(width, 4)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return (self.user(batch["user"]) * self.item(batch["item"])).sum(dim=1)


class KeywordInput(nn.Module):
    """``forward(ids, mask=None)``: token ids and an optional mask, given as keywords."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, ids: Tensor, mask: Tensor | None = None) -> Tensor:
        h = self.embed(ids)
        if mask is not None:
            h = h * mask.unsqueeze(-1)
        return self.out(h.mean(dim=1))


def base() -> nn.Module:
    return Net()


def widened() -> nn.Module:
    return Net(hidden=32)


def deepened() -> nn.Module:
    return Net(extra=True)


def renamed() -> nn.Module:
    return Renamed()


def defined_in_another_order() -> nn.Module:
    return DefinedInAnotherOrder()


def swapped() -> nn.Module:
    return Swapped()


def dict_input(width: int = 6) -> nn.Module:
    return DictInput(width)


def keyword_input(dim: int = 8) -> nn.Module:
    return KeywordInput(dim)
