"""pytest plugin (entry point ``pytest11``): ``--model-diagram-update`` accepts changed
architectures in :func:`model_diagram.testing.assert_architecture` by rewriting snapshots."""

from __future__ import annotations

import os
from typing import Any

from .testing import UPDATE_ENV


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("model-diagram")
    group.addoption(
        "--model-diagram-update",
        action="store_true",
        default=False,
        help=f"rewrite architecture snapshots instead of failing (like {UPDATE_ENV}=1)",
    )


def pytest_configure(config: Any) -> None:
    if config.getoption("model_diagram_update"):
        os.environ[UPDATE_ENV] = "1"  # also reaches worker processes (pytest-xdist)
