"""Broken and hostile factories for the reliability suite (tests/test_reliability.py).

Imported as the top-level module ``models_broken`` with ``tests/`` on ``sys.path``.
Models take one input of shape ``float[2,8]`` unless stated otherwise. Nothing here
downloads anything; the huge models are only ever built on the meta device, or
fail to allocate at once on the CPU (far beyond any address space).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import torch
from torch import Tensor, nn

NOT_CALLABLE = "a string where a factory should be"
"""A factory path that names data, not a callable."""

#: beyond the 47-bit address space of x86-64: an allocation that fails at once
IMPOSSIBLE = 10**8


class _Linear(nn.Module):
    """Linear(8, 4) under a class named by the subclasses below."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class Killed(_Linear):
    """Its forward is killed with SIGKILL, as the OOM killer would do."""

    def forward(self, x: Tensor) -> Tensor:
        os.kill(os.getpid(), signal.SIGKILL)
        return x


class SysExit(_Linear):
    """Its forward calls ``sys.exit``: a ``SystemExit`` must not end the worker."""

    def forward(self, x: Tensor) -> Tensor:
        sys.exit(0)


class _Unprintable(Exception):  # noqa: N818 -- it is the point of the test
    def __str__(self) -> str:
        raise RuntimeError("str() of this exception fails too")


class RaisesUnprintable(_Linear):
    """Its forward raises an exception whose ``str()`` raises."""

    def forward(self, x: Tensor) -> Tensor:
        raise _Unprintable


class AllocatesHuge(_Linear):
    """Its forward allocates a CPU tensor no machine has memory for."""

    def forward(self, x: Tensor) -> Tensor:
        waste = torch.zeros(IMPOSSIBLE, IMPOSSIBLE, device="cpu")
        return self.linear(x) + waste.sum()


class Noisy(_Linear):
    """Prints to stdout and writes fake protocol replies to fd 1: must not confuse the worker."""

    def forward(self, x: Tensor) -> Tensor:
        fake = '{"ok": true, "graph": {"model": "Forged", "nodes": [], "edges": []}}\n'
        print(fake, end="")
        os.write(1, fake.encode())
        sys.stderr.write("noise on stderr\n")
        return self.linear(x)


def make_killed() -> Killed:
    return Killed()


def make_sys_exit() -> SysExit:
    return SysExit()


def make_unprintable() -> RaisesUnprintable:
    return RaisesUnprintable()


def make_allocates_huge() -> AllocatesHuge:
    return AllocatesHuge()


def make_noisy() -> Noisy:
    return Noisy()


def make_returns_class() -> type[nn.Module]:
    """Returns a Module class, not an instance."""
    return nn.Linear


def make_huge_linear(n: int = IMPOSSIBLE) -> nn.Module:
    """``Linear(n, n)`` between two small layers: 40 PB of weights for the default ``n``.

    Fine on the meta device (nothing is allocated); on the CPU the huge layer is
    built first, so the allocation fails at once instead of filling memory.
    """
    huge = nn.Linear(n, n)
    return nn.Sequential(nn.Linear(8, n), huge, nn.Linear(n, 4))


def make_dies_on_next_job() -> nn.Module:
    """A working model that leaves a trap in the worker: the next job (the worker
    changes into the caller's directory first) ends the process. That next diagram
    must not pay for it."""

    def trap(event: str, args: tuple[Any, ...]) -> None:
        if event == "os.chdir":
            os._exit(7)

    sys.addaudithook(trap)
    return _Linear()


def inputs_raise() -> Any:
    """An input factory that raises."""
    raise LookupError("no example inputs here")


def inputs_wrong_shape() -> Any:
    """An input factory that returns a tensor instead of ``(args, kwargs)``."""
    return torch.zeros(2, 8)


def inputs_ok() -> tuple[tuple[Tensor, ...], dict[str, Any]]:
    """A working input factory: one ``float[3,8]`` tensor."""
    return (torch.zeros(3, 8),), {}


# -- hostile names: markup, quotes and ampersands in class and module names

#: ``type()`` accepts any string as a class name, though no ``class`` statement could spell it
EVIL_NAME = 'Evil<script>alert("x")</script>&\'"<img src=x onerror=alert(1)>'
EVIL_MODULE = "evil<mod>&\"'.javascript:alert(1)"
EvilLinear: type[nn.Module] = type(EVIL_NAME, (nn.Linear,), {"__module__": EVIL_MODULE})
EvilLinear.__qualname__ = EVIL_NAME


class EvilNames(nn.Module):
    """Submodules of the hostile class, with a hostile attribute name too."""

    def __init__(self) -> None:
        super().__init__()
        self.first = EvilLinear(8, 6)
        self.add_module('odd"name&<b>', nn.ReLU())
        self.last = EvilLinear(6, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.last(getattr(self, 'odd"name&<b>')(self.first(x)))


EvilNames.__name__ = EvilNames.__qualname__ = "Evil&<Names>\"'"


def make_evil_names() -> nn.Module:
    return EvilNames()
