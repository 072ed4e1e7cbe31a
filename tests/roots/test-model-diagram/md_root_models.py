"""Helpers importable from this root's conf.py directory (unique name: the worker
shares one sys.path across roots)."""

import torch
from torch import nn


def mlp_inputs():
    """An input-factory: ``(args, kwargs)`` for ``forward``; batch 5 shows it was used."""
    return (torch.zeros(5, 8),), {}


class Looped(nn.Module):
    """One Linear applied three times: what ``roll`` draws once with a back edge."""

    def __init__(self) -> None:
        super().__init__()
        self.step = nn.Linear(8, 8)

    def forward(self, x):
        for _ in range(3):
            x = self.step(x)
        return x


def make_looped():
    return Looped()
