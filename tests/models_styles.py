"""The three example models of the VisualTorch paper (Hendria & Gavrikov, JOSS 2024).

Imported as the top-level module ``models_styles`` with ``tests/`` on ``sys.path``;
the gallery under ``docs/gallery/`` is drawn from these factories too.
"""

from __future__ import annotations

from torch import Tensor, nn


def make_layered_cnn() -> nn.Sequential:
    """The layered-style example: 3 x (Conv2d, ReLU, MaxPool2d), then a classifier.

    Input ``float[1,3,224,224]``; output ``(1, 10)``.
    """
    return nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(64 * 28 * 28, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def make_lenet() -> nn.Sequential:
    """The LeNet-style example: 2 x (Conv2d, MaxPool2d). Input ``float[1,3,128,128]``."""
    return nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, padding=1),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1),
        nn.MaxPool2d(2, 2),
    )


class SimpleDense(nn.Module):
    """The graph-style example: four Linear layers 4 -> 8 -> 8 -> 4 -> 2. Input ``float[1,4]``."""

    def __init__(self) -> None:
        super().__init__()
        self.h0 = nn.Linear(4, 8)
        self.h1 = nn.Linear(8, 8)
        self.h2 = nn.Linear(8, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.h0(x)
        x = self.h1(x)
        x = self.h2(x)
        return self.out(x)


def make_dense() -> SimpleDense:
    """Build the dense example."""
    return SimpleDense()


class Residual(nn.Module):
    """A conv block with a skip connection: a same-row skip in the layered style."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


def make_residual() -> Residual:
    """Input ``float[1,8,16,16]``."""
    return Residual()


class Tangled(nn.Module):
    """A branch that feeds the main path from its middle and then goes on: no row layout
    can draw that connection without crossing layers. Input ``float[2,8]``."""

    def __init__(self) -> None:
        super().__init__()
        self.a1, self.a2, self.a3 = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.a5, self.a6 = nn.Linear(8, 8), nn.Linear(8, 8)
        self.b1, self.b2, self.b3 = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.b1(x)
        a = self.a3(self.a2(self.a1(x))) + b1
        return self.a6(self.a5(a)) + self.b3(self.b2(b1))


def make_tangled() -> Tangled:
    """Build the tangled model."""
    return Tangled()


def make_wide_dense() -> nn.Sequential:
    """A dense net too wide to draw every neuron: 4 -> 100 -> ReLU -> 3. Input ``float[1,4]``."""
    return nn.Sequential(nn.Linear(4, 100), nn.ReLU(), nn.Linear(100, 3))


def make_tiny_conv() -> nn.Sequential:
    """A small convnet for the neurons style: channels 1 -> 4 -> 6, then 10 classes.
    Input ``float[1,1,8,8]``."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.Flatten(),
        nn.Linear(6 * 8 * 8, 10),
    )
