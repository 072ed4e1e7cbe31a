"""Small real models and deliberately broken factories for the test suite.

Imported as the top-level module ``models`` with ``tests/`` on ``sys.path``.
Unless stated otherwise, models take one input of shape ``float[2,8]``.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict

from torch import Tensor, nn


class Branchy(nn.Module):
    """Two branches from one input that are added: a graph that is not a chain."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
        self.right = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.left(x) + self.right(x)


class TwoInputs(nn.Module):
    """Takes two tensors ``a`` (float[2,8]) and ``b`` (float[2,6])."""

    def __init__(self) -> None:
        super().__init__()
        self.proj_a = nn.Linear(8, 4)
        self.proj_b = nn.Linear(6, 4)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.proj_a(a) + self.proj_b(b)


class TorchviewNames(nn.Module):
    """Forward arguments named like ``torchview.forward_prop``'s own parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.proj_x = nn.Linear(8, 4)
        self.proj_mode = nn.Linear(6, 4)

    def forward(
        self, x: Tensor, mode: Tensor | None = None, device: Tensor | None = None
    ) -> Tensor:
        out = self.proj_x(x)
        if mode is not None:
            out = out + self.proj_mode(mode)
        return out if device is None else out * device


class ForwardRaises(nn.Module):
    """Its forward always raises, to test error reporting from tracing."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x)
        raise ValueError("bad forward: shape mismatch")


class Slow(nn.Module):
    """Its forward sleeps 30 seconds, to test timeouts."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        time.sleep(30)
        return self.linear(x)


class Exit(nn.Module):
    """Its forward kills the process, to test isolation of the tracing worker."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        os._exit(3)


class Recursive(nn.Module):
    """Its forward recurses forever, to test that RecursionError is reported."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward(x)


class DataDependent(nn.Module):
    """Works on CPU but fails on the meta device, which has no data.

    ``one_hot`` without ``num_classes`` must read the largest value.
    """

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(8, classes)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.linear(x)
        return nn.functional.one_hot(logits.argmax(-1)).float()


class WantsTensor(nn.Module):
    """Applies a Linear to its argument directly, so passing a dict fails."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class ClassFactory(nn.Module):
    """A class used directly as a factory, configured with ``width``."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.hidden = nn.Linear(8, width)
        self.act = nn.ReLU()
        self.out = nn.Linear(width, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(x)))


def make_mlp(width: int = 16) -> nn.Module:
    """The smallest useful model: Linear(8,16)-ReLU-Linear(16,4) (``width``: its middle)."""
    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 4))


def make_branchy() -> Branchy:
    """A model whose graph branches and merges."""
    return Branchy()


def make_two_inputs() -> TwoInputs:
    """A model with two positional tensor inputs."""
    return TwoInputs()


def make_torchview_names() -> TorchviewNames:
    return TorchviewNames()


def make_raises() -> nn.Module:
    """A factory that fails before any model exists."""
    raise RuntimeError("factory exploded")


def make_not_module() -> int:
    """A factory that returns something that is not a model."""
    return 42


def make_forward_raises() -> ForwardRaises:
    """A model whose forward raises ValueError."""
    return ForwardRaises()


def make_slow() -> Slow:
    """A model whose forward takes 30 seconds."""
    return Slow()


def make_exit() -> Exit:
    """A model whose forward calls ``os._exit(3)``."""
    return Exit()


def make_recursive() -> Recursive:
    """A model whose forward never stops recursing."""
    return Recursive()


def make_data_dependent(classes: int = 4) -> DataDependent:
    """A model that traces on CPU but not on the meta device (``classes``: its size)."""
    return DataDependent(classes)


def make_wants_tensor() -> WantsTensor:
    """A model that needs a tensor, to test a wrong (dict) input."""
    return WantsTensor()


INSTANCE: nn.Module = make_mlp()
"""A ready-made model instance, for factories that name an object, not a callable."""


class HostileNames(nn.Module):
    """Submodule names that must be escaped in labels and tooltips."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleDict({'<script>alert("x")</script>&': nn.Linear(8, 4)})

    def forward(self, x: Tensor) -> Tensor:
        return self.layers['<script>alert("x")</script>&'](x)


def make_hostile_names() -> HostileNames:
    """A model whose module names carry markup, quotes and ampersands."""
    return HostileNames()


def make_unicode_names() -> nn.Module:
    """Layer and class names outside Latin-1 (Cyrillic, Greek): a PDF must keep them as text."""
    projection = type("Проекция", (nn.Linear,), {})
    return nn.Sequential(
        OrderedDict(
            [("вход_\u03b1", nn.Linear(8, 16)), ("relu", nn.ReLU()), ("выход", projection(16, 4))]
        )
    )
