"""Models that misbehave towards the process tracing them, for the worker's isolation tests.

Imported as the top-level module ``models_worker`` with ``tests/`` on ``sys.path``.
Paths the models report to are given by ``factory-kwargs``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn


def make_patcher() -> nn.Module:
    """A working model whose module patches ``nn.Sequential.forward`` for everyone after it:
    a patched Sequential runs only its first layer."""

    def first_layer_only(self: nn.Sequential, x: Tensor) -> Tensor:
        return self[0](x)  # type: ignore[no-any-return]

    nn.Sequential.forward = first_layer_only  # type: ignore[method-assign]
    return nn.Linear(8, 4)


def make_innocent() -> nn.Module:
    """Three layers, all of which appear in an honest trace."""
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)


def _write_pid(path: str, pid: int) -> None:
    """Atomically: the test polls for the file and reads it at once."""
    partial = Path(f"{path}.partial")
    partial.write_text(str(pid))
    partial.replace(path)


class StartsProcessAndHangs(_Linear):
    """Starts a long-lived process, writes its pid, then hangs until the timeout."""

    def __init__(self, pid_file: str) -> None:
        super().__init__()
        self.pid_file = pid_file

    def forward(self, x: Tensor) -> Tensor:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        _write_pid(self.pid_file, sleeper.pid)
        time.sleep(300)
        return self.linear(x)


def make_starts_process_and_hangs(pid_file: str) -> nn.Module:
    return StartsProcessAndHangs(pid_file)


class ForksThenCrashes(_Linear):
    """Forks a process that keeps every inherited pipe open, then dies at once."""

    def __init__(self, pid_file: str) -> None:
        super().__init__()
        self.pid_file = pid_file

    def forward(self, x: Tensor) -> Tensor:
        pid = os.fork()
        if pid == 0:
            time.sleep(300)
            os._exit(0)
        _write_pid(self.pid_file, pid)
        os._exit(5)


def make_forks_then_crashes(pid_file: str) -> nn.Module:
    return ForksThenCrashes(pid_file)


class Chatty(_Linear):
    """Prints 32 MiB, then fails: the error keeps only the end of the output."""

    def forward(self, x: Tensor) -> Tensor:
        line = "x" * 1023 + "\n"
        for _ in range(32 * 1024):
            sys.stdout.write(line)
        sys.stdout.write("LAST WORDS\n")
        sys.stdout.flush()
        os._exit(9)


def make_chatty() -> nn.Module:
    return Chatty()


class KillsParent(_Linear):
    """Kills the process that forked it."""

    def forward(self, x: Tensor) -> Tensor:
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
        return self.linear(x)


def make_kills_parent() -> nn.Module:
    return KillsParent()


class Hungry(_Linear):
    """Asks for ``mib`` of real memory (zeroed, so every page is touched): 4 GiB."""

    def __init__(self, mib: int) -> None:
        super().__init__()
        self.mib = mib

    def forward(self, x: Tensor) -> Tensor:
        waste = torch.zeros(self.mib * 2**18, dtype=torch.float32, device="cpu")
        return self.linear(x) + waste[:4].sum()


def make_hungry(mib: int = 4096) -> nn.Module:
    return Hungry(mib)


class Stamps(_Linear):
    """Sleeps, recording when its forward started and ended: shows children overlap."""

    def __init__(self, stamp_file: str, seconds: float) -> None:
        super().__init__()
        self.stamp_file, self.seconds = stamp_file, seconds

    def forward(self, x: Tensor) -> Tensor:
        started = time.time()
        time.sleep(self.seconds)
        Path(self.stamp_file).write_text(f"{started} {time.time()}")
        return self.linear(x)


def make_stamps(stamp_file: str, seconds: float = 1.5) -> nn.Module:
    return Stamps(stamp_file, seconds)
