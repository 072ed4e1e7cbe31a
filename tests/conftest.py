"""Shared fixtures: sphinx.testing roots live in tests/roots/ (not collected)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_diagram.pipeline import Pipeline
from model_diagram.worker import Worker

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


#: one warm worker for the tests that drive the pipeline directly (a docs build has its own)
WORKER = Worker()


def shared_pipeline(cache_dir: Path | str) -> Pipeline:
    """A pipeline on the tests' shared worker: each new worker imports torch again."""
    return Pipeline(cache_dir, worker=WORKER)


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_worker() -> Iterator[None]:
    yield
    WORKER.stop()
