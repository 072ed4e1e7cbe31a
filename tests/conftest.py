"""Shared fixtures: sphinx.testing roots live in tests/roots/ (not collected)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ("sphinx.testing.fixtures",)

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE = REPO / "example_project"

# test models (tests/models.py) and the example package must be importable by the worker
for path in (str(TESTS), str(EXAMPLE)):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return TESTS / "roots"
