"""A content-addressed store with dependency manifests (ccache's direct mode).

Layout under the cache root::

    manifests/<trace-key>.json   files + hashes, distributions + versions, graph digest
    renders/<render-key>.json    {"blob": <digest>} for one style/format of a graph
    blobs/<digest>.<ext>         layer graphs (.json) and outputs (.svg/.png/.pdf)

The trace key covers the options and tool versions; the manifest then lists
what the factory import loaded, so a warm lookup re-hashes those files and
imports neither torch nor the user's package. Blobs are named by their
SHA-256, so a truncated or corrupt blob is detected and rebuilt. Every write
is a temp file + rename, so two builds sharing a cache never see half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CacheError
from .layergraph import LayerGraph, LayerGraphError

log = logging.getLogger(__name__)

SCHEMA = 1


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(value: Any) -> str:
    """A stable hash of a JSON-able value."""
    return digest(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode())


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _valid_manifest(manifest: Any) -> bool:
    """The shape :meth:`Cache.store_trace` writes; anything else is a miss, not a crash."""
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        return False
    files, dists, notes = manifest.get("files"), manifest.get("dists"), manifest.get("notes", [])
    error = manifest.get("error")
    return (
        isinstance(files, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        and isinstance(dists, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in dists.items())
        # a graph, or a failure: {"kind", "message", "detail"}, all text
        and (
            isinstance(manifest.get("graph"), str)
            if error is None
            else isinstance(error, dict)
            and set(error) == {"kind", "message", "detail"}
            and all(isinstance(v, str) for v in error.values())
        )
        and isinstance(notes, list)
        and all(isinstance(n, str) for n in notes)
    )


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file and a rename: concurrent readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-model-diagram-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


@dataclass(frozen=True)
class TraceEntry:
    """A cached trace: the layer graph and what it depended on; or, with ``error``, a
    deterministic failure (``DiagramError.to_dict()``) and what it depended on."""

    graph: LayerGraph | None
    files: tuple[Path, ...]
    notes: tuple[str, ...]
    error: dict[str, str] | None = None
    #: the content hash each of ``files`` had when it was traced
    digests: tuple[str, ...] = ()


class Cache:
    """One cache directory; safe to share between concurrent builds."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.base = self.root.parent
        self._versions: dict[str, str] = {}

    # -- traces

    def _installed(self, dist: str) -> str:
        """A distribution's version, looked up once per cache object (one build)."""
        if dist not in self._versions:
            self._versions[dist] = importlib.metadata.version(dist)
        return self._versions[dist]

    def has_trace(self, trace_key: str) -> bool:
        """A manifest exists: a cheap guess (no hashing) that :meth:`lookup_trace` will hit."""
        return (self.root / "manifests" / f"{trace_key}.json").is_file()

    def lookup_trace(self, trace_key: str) -> TraceEntry | None:
        manifest = self._read_json(self.root / "manifests" / f"{trace_key}.json")
        if not _valid_manifest(manifest):
            return None  # missing, corrupt or from another schema: trace again
        assert manifest is not None
        files = []
        for name, expected in manifest["files"].items():
            path = self._abs(name)
            try:
                # a regular file only: a corrupt manifest could name /dev/zero
                if not path.is_file() or digest(path.read_bytes()) != expected:
                    return None
            except OSError:
                return None
            files.append(path)
        for dist, version in manifest["dists"].items():
            try:
                if self._installed(dist) != version:
                    return None
            except importlib.metadata.PackageNotFoundError:
                return None
        if manifest.get("error") is not None:
            return TraceEntry(None, tuple(files), (), error=dict(manifest["error"]))
        raw = self._read_blob(manifest["graph"], "json")
        if raw is None:
            return None
        try:
            graph = LayerGraph.from_json(raw)
        except LayerGraphError:
            return None  # damaged, forged or from another schema: trace again
        return TraceEntry(
            graph,
            tuple(files),
            tuple(manifest.get("notes", ())),
            digests=tuple(manifest["files"].values()),
        )

    def store_trace(
        self,
        trace_key: str,
        graph: LayerGraph,
        files: dict[str, str],
        dists: dict[str, str],
        notes: list[str],
    ) -> None:
        graph_digest = self._write_blob(graph.to_json().encode(), "json")
        manifest = {
            "schema": SCHEMA,
            "files": {self._rel(Path(p)): h for p, h in sorted(files.items())},
            "dists": dict(sorted(dists.items())),
            "graph": graph_digest,
            "notes": notes,
        }
        self._write(
            self.root / "manifests" / f"{trace_key}.json", json.dumps(manifest, indent=1).encode()
        )

    def store_failure(
        self,
        trace_key: str,
        error: dict[str, str],
        files: dict[str, str],
        dists: dict[str, str],
    ) -> None:
        """Remember a deterministic failure under the key a success would have, so a warm
        build repeats its warning without tracing; an edit to a listed file retries it."""
        manifest = {
            "schema": SCHEMA,
            "files": {self._rel(Path(p)): h for p, h in sorted(files.items())},
            "dists": dict(sorted(dists.items())),
            "error": {k: error[k] for k in ("kind", "message", "detail")},
        }
        self._write(
            self.root / "manifests" / f"{trace_key}.json", json.dumps(manifest, indent=1).encode()
        )

    # -- rendered outputs

    def lookup_render(self, render_key: str, ext: str) -> bytes | None:
        pointer = self._read_json(self.root / "renders" / f"{render_key}.json")
        if pointer is None or not isinstance(pointer.get("blob"), str):
            return None
        return self._read_blob(pointer["blob"], ext)

    def store_render(self, render_key: str, data: bytes, ext: str) -> None:
        blob = self._write_blob(data, ext)
        self._write(
            self.root / "renders" / f"{render_key}.json", json.dumps({"blob": blob}).encode()
        )

    # -- maintenance

    def info(self) -> dict[str, Any]:
        counts = {}
        total = 0
        for sub in ("manifests", "renders", "blobs"):
            folder = self.root / sub
            entries = list(folder.iterdir()) if folder.is_dir() else []
            counts[sub] = len(entries)
            total += sum(e.stat().st_size for e in entries if e.is_file())
        return {"path": str(self.root), "bytes": total, **counts}

    def clear(self) -> None:
        for sub in ("manifests", "renders", "blobs"):
            shutil.rmtree(self.root / sub, ignore_errors=True)

    # -- internals

    def _rel(self, path: Path) -> str:
        """Project files are stored relative to the cache's parent (portable in CI)."""
        try:
            return path.resolve().relative_to(self.base).as_posix()
        except ValueError:
            return str(path)

    def _abs(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.base / path

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.debug("model-diagram: ignoring unreadable cache file %s (%s)", path, exc)
            return None
        return data if isinstance(data, dict) else None

    def _read_blob(self, blob: str, ext: str) -> bytes | None:
        if not _DIGEST.fullmatch(blob):
            return None  # a corrupt pointer: never a path out of the cache (it could unlink)
        path = self.root / "blobs" / f"{blob}.{ext}"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if digest(data) != blob:
            log.debug("model-diagram: cache blob %s is corrupt; rebuilding it", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def _write_blob(self, data: bytes, ext: str) -> str:
        blob = digest(data)
        path = self.root / "blobs" / f"{blob}.{ext}"
        if not (path.is_file() and path.stat().st_size == len(data)):
            self._write(path, data)
        return blob

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise CacheError(
                f"cannot write to the cache directory {self.root} ({exc.strerror or exc}); "
                "the diagram was built but not cached: make the directory writable or set "
                "another cache dir"
            ) from None
