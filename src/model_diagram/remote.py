"""A cache shared by a fleet of machines, on object storage through fsspec.

``cache_dir`` may be a URL (``s3://bucket/prefix``, ``gs://``, ``az://``,
``file://``, ``memory://``): the store then holds the same layout as a local
cache directory, and the build's own local cache directory is a read-through
copy of it, so a warm build asks the store once per entry. Entries are
immutable and content-addressed; readers verify them (blob hashes, manifest
shapes) before copying them in, and an object is put whole or not at all
(object stores publish a PUT atomically; a local filesystem gets a temp file
and a rename), blobs before the manifest or pointer that names them.

Any failure of the store (network down, missing credentials, a protocol
package not installed) is one :class:`~model_diagram.errors.CacheError`
warning; the build goes on with the local cache only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from dataclasses import dataclass
from typing import Any

from .errors import CacheError

MODES = ("read-write", "read-only", "off")
#: overrides the configured mode (CI: read-only for pull requests from forks)
MODE_ENV = "MODEL_DIAGRAM_CACHE_MODE"
#: URL scheme -> the extra that installs its fsspec implementation
EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "adl": "azure",
}
#: what a cache entry's path looks like; nothing else under the prefix is ours
ENTRY = re.compile(r"(manifests|renders)/[0-9a-f]{64}\.json|blobs/[0-9a-f]{64}\.[a-z]{2,5}")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(value: object) -> bool:
    """True for ``scheme://...`` (a remote store), false for a local path."""
    return isinstance(value, str) and bool(_URL.match(value))


def cache_mode(configured: str | None) -> str:
    """The mode in force: ``MODEL_DIAGRAM_CACHE_MODE`` beats the configuration."""
    value = os.environ.get(MODE_ENV) or configured or "read-write"
    mode = value.strip().lower()
    if mode not in MODES:
        source = MODE_ENV if os.environ.get(MODE_ENV) else "cache mode"
        raise CacheError(f"{source} {value!r} is not one of {', '.join(MODES)}")
    return mode


class RemoteUnavailable(Exception):  # noqa: N818 -- a state, caught inside the cache
    """The store could not be reached; the message says why."""


@dataclass
class Entry:
    """One object of the store: its path relative to the prefix, size and mtime (epoch s)."""

    name: str
    size: int
    mtime: float


class Remote:
    """The store behind a URL: get, get many at once, put, list and remove entries."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        """Checks that the protocol's package is installed (without importing it: a build
        whose entries are all in the local copy never loads s3fs or botocore)."""
        self.url = url
        self._options = dict(storage_options or {})
        scheme = url.split("://", 1)[0].lower()
        from fsspec.registry import known_implementations, registry

        known = known_implementations.get(scheme)
        top = str(known["class"]).split(".", 1)[0] if known else None
        if scheme not in registry and (top is None or importlib.util.find_spec(top) is None):
            extra = EXTRAS.get(scheme)
            hint = (
                f"pip install 'model-diagram[{extra}]'"
                if extra
                else f"install the fsspec implementation of {scheme}://"
            )
            package = f"'{top}'" if top else f"an fsspec implementation of {scheme}://"
            raise CacheError(
                f"the cache at {url!r} needs {package}, which is not installed; {hint}. "
                "Using the local cache only"
            )
        self._fs: Any = None
        self.root = ""
        self._local = False

    @property
    def fs(self) -> Any:
        """The fsspec filesystem, opened on first use."""
        if self._fs is None:
            import fsspec

            try:
                fs, root = fsspec.core.url_to_fs(self.url, **self._options)
            except Exception as exc:  # bad options, or the backend's own import errors
                raise _unavailable(self.url, exc) from None
            self.root = str(root).rstrip("/")
            self._local = "file" in _protocols(fs)
            self._fs = fs
        return self._fs

    def _path(self, name: str) -> str:
        self.fs  # noqa: B018 -- opens the store, which sets root
        return f"{self.root}/{name}"

    def get(self, name: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        try:
            return bytes(self.fs.cat_file(self._path(name)))
        except FileNotFoundError:
            return None
        except Exception as exc:  # any backend's network or credential error
            raise _unavailable(self.url, exc) from None

    def get_many(self, names: list[str]) -> dict[str, bytes]:
        """Many objects in one batched (concurrent, for async stores) request; missing
        ones are left out."""
        if not names:
            return {}
        paths = {self._path(n): n for n in names}
        try:
            found = self.fs.cat(list(paths), on_error="return")
        except Exception as exc:
            raise _unavailable(self.url, exc) from None
        if not isinstance(found, dict):  # one path: fsspec returns its bytes
            found = {next(iter(paths)): found}
        out: dict[str, bytes] = {}
        for path, data in found.items():
            name = paths.get(path) or paths.get(path.split("://", 1)[-1])
            if name is None:
                continue
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, BaseException):
                raise _unavailable(self.url, data)
            out[name] = bytes(data)
        return out

    def put(self, name: str, data: bytes) -> None:
        """Publish an object whole: a rename on a local filesystem, one PUT elsewhere."""
        path = self._path(name)
        try:
            if self._local:
                parent = path.rsplit("/", 1)[0]
                self.fs.makedirs(parent, exist_ok=True)
                tmp = f"{parent}/.tmp-model-diagram-{os.urandom(16).hex()}"
                self.fs.pipe_file(tmp, data)
                try:
                    self.fs.mv(tmp, path)
                except BaseException:
                    with contextlib.suppress(Exception):
                        self.fs.rm_file(tmp)
                    raise
            else:
                self.fs.pipe_file(path, data)
        except Exception as exc:
            raise _unavailable(self.url, exc) from None

    def entries(self) -> list[Entry]:
        """The cache's own objects under the prefix (anything else is left alone)."""
        return self._entries(self._path("").rstrip("/"), recursive=True)

    def listing(self, sub: str) -> list[Entry]:
        """The entries of one folder (``manifests``): one listing request per page."""
        return self._entries(self._path(sub), recursive=False)

    def _entries(self, path: str, *, recursive: bool) -> list[Entry]:
        try:
            self.fs.invalidate_cache(path)  # another machine may have written since
            if recursive:
                found = self.fs.find(path, detail=True)
            else:
                found = {i["name"]: i for i in self.fs.ls(path, detail=True)}
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise _unavailable(self.url, exc) from None
        out = []
        prefix = self.root.split("://", 1)[-1].rstrip("/") + "/"
        for found_path, info in found.items():
            name = found_path.split("://", 1)[-1]
            name = name[len(prefix) :] if name.startswith(prefix) else name
            if ENTRY.fullmatch(name) and info.get("type", "file") == "file":
                out.append(Entry(name, int(info.get("size") or 0), _mtime(info)))
        return sorted(out, key=lambda e: e.name)

    def remove(self, names: list[str]) -> None:
        if not names:
            return
        try:
            self.fs.rm([self._path(n) for n in names])
        except Exception as exc:
            raise _unavailable(self.url, exc) from None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, (tuple, list)) else (str(protocol),)


def _mtime(info: dict[str, Any]) -> float:
    """Modification time from an fsspec info dict (each backend names it its own way)."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        with contextlib.suppress(TypeError, ValueError):
            return float(value)
        with contextlib.suppress(TypeError, ValueError):
            from datetime import datetime

            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return 0.0


def _unavailable(url: str, exc: BaseException) -> RemoteUnavailable:
    if isinstance(exc, RemoteUnavailable):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return RemoteUnavailable(f"the cache at {url!r} is unreachable ({type(exc).__name__}: {text})")
