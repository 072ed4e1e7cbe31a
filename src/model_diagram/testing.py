"""Architecture snapshot tests for a library's own test suite.

    from model_diagram.testing import assert_architecture

    def test_deepfm_architecture():
        assert_architecture("mylib.models:make_deepfm", "tests/arch/deepfm.json", depth=2)

The first run writes the snapshot and fails (review and commit it); later
runs fail with the readable diff when the architecture changed. Accept a
change by re-running with ``MODEL_DIAGRAM_UPDATE_SNAPSHOTS=1`` or, with the
pytest plugin this package installs, ``pytest --model-diagram-update``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import snapshot

#: set to 1 (or true/yes) to rewrite snapshots instead of failing
UPDATE_ENV = "MODEL_DIAGRAM_UPDATE_SNAPSHOTS"


class ArchitectureError(AssertionError):  # an AssertionError: pytest shows it as a failure
    """The traced architecture differs from its committed snapshot (or has none yet)."""


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def assert_architecture(
    factory_or_model: Any,
    path: str | Path,
    *,
    update: bool | None = None,
    **options: Any,
) -> None:
    """Fail with the readable diff unless ``factory_or_model`` matches the snapshot at ``path``.

    ``factory_or_model`` and ``options`` are those of
    :func:`model_diagram.render <model_diagram.api.render>` (a ``"pkg.module:attr"``
    path, or a live ``nn.Module`` with ``input_data=...``). ``update`` (default: the
    environment variable) rewrites the snapshot and passes.
    """
    # imported here: the pytest plugin imports this module whenever pytest starts
    from .api import render
    from .diff import compare

    target = Path(path)
    graph = render(factory_or_model, **options).graph
    text = snapshot.to_json(graph)
    if update if update is not None else updating():
        if not target.is_file() or target.read_bytes() != text.encode():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        return
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
        raise ArchitectureError(
            f"no architecture snapshot at {str(target)!r}: wrote one now; review it, commit it "
            "and run the test again"
        )
    if target.read_bytes() == text.encode():
        return
    diff = compare(snapshot.load(target), graph)
    how = f"set {UPDATE_ENV}=1 (or run pytest --model-diagram-update) to accept the change"
    if diff.same:  # same layers; the file itself is stale (older format, hand edits)
        raise ArchitectureError(
            f"the snapshot {str(target)!r} matches the architecture but not byte for byte; {how}"
        )
    raise ArchitectureError(
        f"the architecture differs from the snapshot {str(target)!r}:\n{diff.summary()}\n{how}"
    )
