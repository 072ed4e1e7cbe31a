"""The ``compare-to`` option: draw a model against an earlier version of it.

For changelogs and migration guides. The earlier version is a snapshot file
(``.json``, relative to the page, or to the docs source directory with a
leading ``/``, and never outside it) or another factory traced with the same
options. Both front ends resolve the path with :func:`snapshot_path` and
call :func:`against`, so they behave the same.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import key_of
from .errors import OptionError
from .options import DiagramOptions

if TYPE_CHECKING:
    from .diff import ArchitectureDiff
    from .layergraph import LayerGraph
    from .pipeline import Pipeline, Result


def is_snapshot(source: str) -> bool:
    """A ``compare-to`` value names a snapshot file (else it is a factory path)."""
    return source.lower().endswith(".json")


def snapshot_path(source: str, page_dir: Path, root: Path) -> Path:
    """The snapshot file a page names, checked to lie inside the docs source dir ``root``."""
    base = root if source.startswith("/") else page_dir
    path = (base / source.lstrip("/")).resolve()
    if not path.is_relative_to(root.resolve()):
        raise OptionError(
            f"compare-to {source!r} points outside the documentation source directory; "
            "keep snapshots inside it (a path relative to the page, or /path from the root)"
        )
    return path


def traced_versions(options: DiagramOptions) -> list[DiagramOptions]:
    """The traces a diagram needs: its own and, when ``compare-to`` names a factory, the
    earlier version's (the front ends' pre-scans start the worker or pre-trace for both)."""
    source = options.compare_to
    if source is None or is_snapshot(source):
        return [options]
    return [options, options.with_values(factory=source, compare_to=None)]


def against(
    pipeline: Pipeline, options: DiagramOptions, new: Result, path: Path | None
) -> tuple[Result, ArchitectureDiff]:
    """``new`` redrawn as a diff against the snapshot at ``path`` or, when ``path`` is
    None, against the factory named by ``compare-to``; files of both sides included."""
    # the diff machinery loads here: a build without compare-to never pays for it
    from . import diffdraw, snapshot
    from .diff import compare

    source = options.compare_to
    assert source is not None
    files = list(new.files)
    old: LayerGraph
    if path is not None:
        old = snapshot.load(path)
        files.append(path)
    else:
        earlier = pipeline.diagram(traced_versions(options)[1])
        old = earlier.graph
        files.extend(earlier.files)
    diff = compare(old, new.graph)
    data = diffdraw.draw(diff, options, "svg")
    result = replace(new, data=data, key=key_of([new.key, diff.old, diff.new]), files=tuple(files))
    return result, diff
