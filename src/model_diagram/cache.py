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

With a :class:`~model_diagram.remote.Remote` (``cache_dir`` is a URL), this
directory is a read-through copy of the store: a local miss asks the store,
verifies what comes back and keeps it; new entries go to both (not to the store
in ``read-only`` mode). ``off`` neither reads nor writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CacheError
from .remote import ENTRY, Entry, Remote, RemoteUnavailable
from .sanitize import loads_scrubbed, plain_text

if TYPE_CHECKING:
    from .layergraph import LayerGraph

log = logging.getLogger(__name__)

SCHEMA = 1
#: largest cache file or project file read (a corrupt entry could name a huge file)
MAX_READ = 256 * 1024**2
#: the Cache Directory Tagging Specification's tag: backup tools skip the directory, and
#: ``clear`` deletes only inside a directory that carries it (written by us)
TAG_NAME = "CACHEDIR.TAG"
TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This directory is a cache written by model-diagram (model-diagram cache clear).\n"
)
#: files that mark the root of a project; manifests store paths relative to it
PROJECT_MARKERS = (".git", "pyproject.toml", "setup.cfg", "setup.py")
#: entries the cache writes, by folder: nothing else is ever deleted
_ENTRY = {
    "manifests": re.compile(r"[0-9a-f]{64}\.json"),
    "renders": re.compile(r"[0-9a-f]{64}\.json"),
    "blobs": re.compile(r"[0-9a-f]{64}\.[a-z]{2,4}"),
}
_TEMP_PREFIX = ".tmp-model-diagram-"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(value: Any) -> str:
    """A stable hash of a JSON-able value."""
    return digest(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode())


_DIGEST = re.compile(r"[0-9a-f]{64}")
#: the local memo of engine versions (per machine: never published to a shared store)
ENGINES_NAME = "engines.json"
#: installed distributions' versions by the import path's state, local to this machine
VERSIONS_NAME = "versions.json"
#: the small local memo files (not entries: never shared with a store)
MEMO_NAMES = (ENGINES_NAME, VERSIONS_NAME)


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


def _json_dict(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


#: a read-write build re-publishes an entry it copied from the store once it is this old
#: (seconds), so ``cache prune`` sees when an entry was last used
REFRESH_AFTER = 7 * 86400
SUBDIRS = ("manifests", "renders", "blobs")


def _json_dict_bytes(name: str, data: bytes) -> bool:
    return _json_dict(data) is not None


def _valid_manifest_bytes(name: str, data: bytes) -> bool:
    return _valid_manifest(_json_dict(data))


def _blob_check(name: str, data: bytes) -> bool:
    """A blob's name is its hash: anything else is corrupt or forged."""
    return name.rsplit("/", 1)[-1].split(".", 1)[0] == digest(data)


#: a folder emptied and removed between ``mkdir`` and the temp file loses one attempt;
#: a ``cache clear`` looping beside a build lost five in a row about once in 500 writes
_WRITE_ATTEMPTS = 20


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file and a rename: concurrent readers never see half a file.

    The file gets the mode a plain ``open()`` would give (``0o666`` less the umask),
    so published files are world-readable like Sphinx's own (``mkstemp`` makes
    0600). A folder removed meanwhile (``cache clear`` during a build) is made again
    (``mkdir`` then says it exists when it was removed between its two steps).
    """
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            _write_once(path, data)
            return
        except (FileNotFoundError, FileExistsError):
            if attempt == _WRITE_ATTEMPTS - 1:
                raise


def _write_once(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            with contextlib.suppress(AttributeError, OSError):  # no fchmod on Windows
                os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def _prune(
    entries: list[Entry], cutoff: float, read: Callable[[list[str]], dict[str, bytes]]
) -> list[str]:
    """Names to drop: stale manifests and pointers, then blobs nothing kept names."""
    dropped = [e.name for e in entries if not e.name.startswith("blobs/") and e.mtime < cutoff]
    kept = [e.name for e in entries if not e.name.startswith("blobs/") and e.mtime >= cutoff]
    named = set()
    for data in read(kept).values():
        record = _json_dict(data) or {}
        for value in (record.get("graph"), record.get("blob")):
            if isinstance(value, str):
                named.add(value)
    dropped += [
        e.name
        for e in entries
        if e.name.startswith("blobs/")
        and e.mtime < cutoff
        and e.name[len("blobs/") :].split(".", 1)[0] not in named
    ]
    return dropped


def read_regular(path: Path, limit: int = MAX_READ, *, follow: bool = False) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes, else None (never blocks).

    A FIFO, a device or (unless ``follow``) a symbolic link is not read: opening a
    FIFO would wait forever and ``/dev/zero`` never ends. Raises ``OSError`` only
    for an unreadable file; a missing one is None.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError:
        if not follow and path.is_symlink():
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` with a project marker, else ``start``.

    Manifests store project files relative to it, so the same cache validates the
    files of another checkout whether the docs sit next to the sources
    (``docs/`` beside ``src/``) or above them.
    """
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return start


class StoredGraph:
    """A layer graph kept as its JSON text and parsed (and checked, like any cache entry)
    only when used. A warm build draws a cached diagram from its render key, which
    needs only the graph's digest, so a page without a layer table or another format
    never builds the graph (0.5 ms a diagram). A Sphinx doctree holds this too:
    pickling text is a copy (a warm 60-diagram build unpickled its doctrees in 46 ms,
    not 11).

    ``model`` and ``words`` (the search words) come from the manifest's summary when
    it has one, so neither needs the graph either."""

    def __init__(
        self,
        text: str | None,
        digest: str,
        graph: LayerGraph | None = None,
        *,
        model: str | None = None,
        words: str | None = None,
    ) -> None:
        self._text, self.digest, self._graph = text, digest, graph
        self._model, self._words = model, words

    @classmethod
    def of(cls, graph: LayerGraph) -> StoredGraph:
        """``graph`` itself (its text is written only if it is pickled)."""
        return cls(None, graph.digest, graph)

    @property
    def text(self) -> str:
        if self._text is None:
            assert self._graph is not None  # only :meth:`of` leaves the text unwritten
            self._text = self._graph.to_json()
        return self._text

    def load(self) -> LayerGraph:
        """The graph; :class:`DamagedGraphError` if the text is not one (a forged entry)."""
        if self._graph is None:
            from .layergraph import LayerGraph

            try:
                self._graph = LayerGraph.from_dict(loads_scrubbed(self.text), digest=self.digest)
            except (ValueError, RecursionError) as exc:  # LayerGraphError is a ValueError
                raise DamagedGraphError(
                    f"the cached layer graph {self.digest[:12]} is damaged ({exc}); "
                    "run `model-diagram cache clear`"
                ) from None
        return self._graph

    @property
    def summarised(self) -> bool:
        """Whether :attr:`model` and :attr:`words` are at hand without the graph."""
        return self._graph is not None or (self._model is not None and self._words is not None)

    @property
    def model(self) -> str:
        return self._model if self._model is not None else self.load().model

    @property
    def words(self) -> str:
        """What a search index should find the diagram's page by."""
        if self._words is None:
            from .layergraph import search_words

            self._words = search_words(self.load())
        return self._words

    def __getstate__(self) -> dict[str, str | None]:
        return {
            "text": self.text,
            "digest": self.digest,
            "model": self._model,
            "words": self._words,
        }

    def __setstate__(self, state: dict[str, str | None]) -> None:
        text, digest = state["text"], state["digest"]
        assert text is not None and digest is not None
        self._text, self.digest, self._graph = text, digest, None
        self._model, self._words = state.get("model"), state.get("words")


class DamagedGraphError(CacheError):
    """A cached graph whose blob matches its digest but is not a layer graph: only a
    forged cache holds one. A diagram that needs it is traced again."""


@dataclass(frozen=True)
class TraceEntry:
    """A cached trace: the layer graph and what it depended on; or, with ``error``, a
    deterministic failure (``DiagramError.to_dict()``) and what it depended on."""

    graph: StoredGraph | None
    files: tuple[Path, ...]
    notes: tuple[str, ...]
    error: dict[str, str] | None = None
    #: the content hash each of ``files`` had when it was traced
    digests: tuple[str, ...] = ()


def _summary(manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """The manifest's (model, search words), as text a page can hold, or Nones when it
    has no well-formed summary (an older entry: they then come from the graph)."""
    found = manifest.get("summary")
    if not isinstance(found, dict):
        return None, None
    model, words = found.get("model"), found.get("words")
    if not (isinstance(model, str) and isinstance(words, str)):
        return None, None
    return plain_text(model[:_MAX_NAME]), " ".join(_WORDS.findall(plain_text(words[:_MAX_WORDS])))


#: bounds on the summary's text (a forged manifest could hold anything)
_MAX_NAME, _MAX_WORDS = 1000, 100_000
_WORDS = re.compile(r"\w+")


def _import_path_state() -> str:
    """The import path with each entry's modification time: what changes when a
    distribution is installed, upgraded or removed."""
    parts = []
    for entry in sys.path:
        with contextlib.suppress(OSError, ValueError):
            parts.append(f"{entry}:{Path(entry or '.').stat().st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _version(dist: str) -> str:
    import importlib.metadata  # only when the memo has no answer: a warm build skips it

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


class Cache:
    """One cache directory; safe to share between concurrent builds."""

    def __init__(self, root: Path, remote: Remote | None = None, mode: str = "read-write") -> None:
        self.root = Path(root).resolve()
        self.base = project_root(self.root.parent)
        self._versions: dict[str, str] = {}
        self._path_state: str | None = None
        self._memos: dict[str, dict[str, str]] = {}
        self.remote = remote
        self.mode = mode
        #: problems to report once each (the store became unreachable); see take_problems
        self.problems: list[CacheError] = []
        #: entries the store's listing did not have (not asked for again this build)
        self._absent: set[str] = set()
        #: file -> (what stat said, its sha256): see :meth:`file_digest`
        self._digests: dict[Path, tuple[tuple[int, ...], str]] = {}
        self._tagged = False

    def take_problems(self) -> list[CacheError]:
        """Problems since the last call (each reported once, by the diagram that met it)."""
        problems, self.problems = self.problems, []
        return problems

    def _lost_remote(self, exc: RemoteUnavailable) -> None:
        """Stop asking an unreachable store for the rest of the build; warn once."""
        self.problems.append(
            CacheError(f"{exc}; tracing locally and caching in {self.root} only for this build")
        )
        self.remote = None

    # -- traces

    def new_build(self) -> None:
        """Forget what one build learnt of the machine (``mkdocs serve`` builds again
        after an install)."""
        self._versions.clear()
        self._path_state = None
        self._memos.clear()

    def installed(self, dist: str) -> str:
        """A distribution's version, or ``"missing"``, asked once per build.

        importlib.metadata scans every directory on the import path (its first answers
        cost a warm build about 10 ms, plus its import where nothing else loaded it).
        A version only changes when a directory on the path does (pip adds and removes
        ``*.dist-info`` directories), so answers are remembered locally by the path's
        modification times. A forged
        memo can only name a wrong version: a trace key that misses, or hits an entry
        the cache could serve anyway.
        """
        if dist not in self._versions:
            if self._path_state is None:
                self._path_state = _import_path_state()
            ident = f"{dist}|{self._path_state}"
            self._versions[dist] = self._remembered(VERSIONS_NAME, ident, lambda: _version(dist))
        return self._versions[dist]

    def has_trace(self, trace_key: str) -> bool:
        """A manifest exists: a cheap guess (no hashing) that :meth:`lookup_trace` will hit."""
        if self.mode == "off":
            return False
        name = f"manifests/{trace_key}.json"
        return (self.root / name).is_file() or self._load(name, _valid_manifest_bytes) is not None

    def prefetch(self, trace_keys: Iterable[str]) -> None:
        """Copy in the store's manifests for these keys and their layer graphs, with one
        listing and two batched reads, so a warm build's lookups stay local."""
        if self.remote is None or self.mode == "off":
            return
        wanted = {
            f"manifests/{k}.json"
            for k in trace_keys
            if not (self.root / "manifests" / f"{k}.json").is_file()
        }
        if not wanted:
            return
        try:
            listed = {e.name: e.mtime for e in self.remote.listing("manifests")}
            present = sorted(wanted & listed.keys())
            self._absent |= wanted - listed.keys()
            manifests = self._copy_in(self.remote.get_many(present), _valid_manifest_bytes)
            graphs = sorted(
                {
                    f"blobs/{m['graph']}.json"
                    for m in map(_json_dict, manifests.values())
                    if m is not None
                    and isinstance(m.get("graph"), str)
                    and _DIGEST.fullmatch(m["graph"])
                }
            )
            graphs = [g for g in graphs if not (self.root / g).is_file()]
            self._copy_in(self.remote.get_many(graphs), _blob_check)
            if self.mode == "read-write":
                stale = time.time() - REFRESH_AFTER
                for name in manifests:
                    if listed.get(name, 0.0) < stale:
                        self.remote.put(name, manifests[name])  # last used: now
        except RemoteUnavailable as exc:
            self._lost_remote(exc)

    def lookup_trace(self, trace_key: str) -> TraceEntry | None:
        if self.mode == "off":
            return None
        manifest = self._read_json(self.root / "manifests" / f"{trace_key}.json")
        if not _valid_manifest(manifest):
            return None  # missing, corrupt or from another schema: trace again
        assert manifest is not None
        files = []
        for name, expected in manifest["files"].items():
            path = self._abs(name)
            if self.file_digest(path) != expected:
                return None
            files.append(path)
        for dist, version in manifest["dists"].items():
            if self.installed(dist) != version:
                return None
        self._refresh(self.root / "manifests" / f"{trace_key}.json")
        if manifest.get("error") is not None:
            return TraceEntry(None, tuple(files), (), error=dict(manifest["error"]))
        raw = self._read_blob(manifest["graph"], "json")
        if raw is None:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None  # damaged or forged: trace again
        if not text.strip():
            return None  # an empty blob (its name is the hash of nothing) is no graph
        # parsed when used; names in a forged graph then become text every output can hold
        model, words = _summary(manifest)
        graph = StoredGraph(text, manifest["graph"], model=model, words=words)
        return TraceEntry(
            graph,
            tuple(files),
            tuple(manifest.get("notes", ())),
            digests=tuple(manifest["files"].values()),
        )

    def file_digest(self, path: Path) -> str | None:
        """sha256 of a project file, or None if it is not a readable regular file.

        Remembered while ``stat`` says the same (size, inode, modification and change
        times: the kernel sets the change time on every write), so the many diagrams of
        one package read and hash each of its files once, not once per diagram.
        """
        try:
            info = path.stat()
        except OSError:
            return None
        seen = (info.st_size, info.st_ino, info.st_mtime_ns, info.st_ctime_ns)
        known = self._digests.get(path)
        if known is not None and known[0] == seen:
            return known[1]
        try:
            # a regular file only, bounded: a corrupt manifest could name /dev/zero
            data = read_regular(path, follow=True)
        except OSError:
            return None
        if data is None:
            return None
        found = digest(data)
        self._digests[path] = (seen, found)
        return found

    def store_trace(
        self,
        trace_key: str,
        graph: LayerGraph,
        files: dict[str, str],
        dists: dict[str, str],
        notes: list[str],
    ) -> None:
        if self.mode == "off":
            return
        from .layergraph import search_words  # loaded already: the graph was built

        graph_digest = self._write_blob(graph.to_json().encode(), "json")
        manifest = {
            "schema": SCHEMA,
            "files": {self._rel(Path(p)): h for p, h in sorted(files.items())},
            "dists": dict(sorted(dists.items())),
            "graph": graph_digest,
            "notes": notes,
            # what a page needs of a cached diagram beyond its drawing, without the graph
            "summary": {"model": graph.model, "words": search_words(graph)},
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
        if self.mode == "off":
            return
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

    def engine_version(self, path: str, probe: Callable[[str], str]) -> str:
        """A Graphviz binary's version, remembered locally by the binary's path, size and
        mtime, so a warm build starts no process to ask it (``probe`` asks it).

        A forged entry can only name a wrong version: a render key that misses or hits
        an entry the cache could serve anyway (every SVG is sanitised where embedded).
        """
        try:
            resolved = os.path.realpath(path)
            info = Path(resolved).stat()
        except OSError:
            return probe(path)
        ident = f"{resolved}|{info.st_size}|{info.st_mtime_ns}"
        return self._remembered(ENGINES_NAME, ident, lambda: probe(path))

    def _remembered(self, name: str, ident: str, compute: Callable[[], str]) -> str:
        """``compute()``, remembered under ``ident`` in the local memo file ``name`` (a
        few dozen answers at most; read once per build)."""
        memo = self._memos.get(name)
        if memo is None:
            raw = self._read(self.root / name) if self.mode != "off" else None
            found = (_json_dict(raw) if raw is not None else None) or {}
            memo = {k: v for k, v in found.items() if isinstance(v, str) and len(v) <= 200}
            self._memos[name] = memo
        if ident in memo:
            return memo[ident]
        value = compute()
        memo[ident] = value
        if self.mode == "read-write":
            with contextlib.suppress(OSError):
                self.root.mkdir(parents=True, exist_ok=True)
                kept = dict(list(memo.items())[-32:])
                atomic_write(self.root / name, json.dumps(kept, sort_keys=True).encode())
        return value

    def lookup_render(self, render_key: str, ext: str) -> bytes | None:
        if self.mode == "off":
            return None
        pointer = self._read_json(self.root / "renders" / f"{render_key}.json")
        if pointer is None or not isinstance(pointer.get("blob"), str):
            return None
        self._refresh(self.root / "renders" / f"{render_key}.json")
        return self._read_blob(pointer["blob"], ext)

    def store_render(self, render_key: str, data: bytes, ext: str) -> None:
        if self.mode == "off":
            return
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
        info: dict[str, Any] = {"path": str(self.root), "bytes": total, **counts}
        if self.remote is not None:
            info["remote"] = {"url": self.remote.url}
            try:
                found = self.remote.entries()
            except RemoteUnavailable as exc:
                info["remote"]["error"] = str(exc)
            else:
                info["remote"]["bytes"] = sum(e.size for e in found)
                for sub in SUBDIRS:
                    info["remote"][sub] = sum(1 for e in found if e.name.startswith(sub + "/"))
        return info

    def prune(self, older_than: float) -> dict[str, int]:
        """Drop entries not used for ``older_than`` seconds, here and in the store; a blob
        goes only when no kept manifest or pointer names it. Only files named like the
        cache's own entries are touched."""
        cutoff = time.time() - older_than
        local = [
            Entry(path.relative_to(self.root).as_posix(), 0, path.stat().st_mtime)
            for sub in SUBDIRS
            if (self.root / sub).is_dir()
            for path in (self.root / sub).iterdir()
            if path.is_file() and ENTRY.fullmatch(f"{sub}/{path.name}")
        ]
        read_local = lambda names: {  # noqa: E731
            n: (self.root / n).read_bytes() for n in names if (self.root / n).is_file()
        }
        dropped = _prune(local, cutoff, read_local)
        for name in dropped:
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
        counts = {"local": len(dropped)}
        if self.remote is not None:
            remote = self.remote
            try:
                gone = _prune(remote.entries(), cutoff, remote.get_many)
                remote.remove(gone)
            except RemoteUnavailable as exc:
                raise CacheError(str(exc)) from None
            counts["remote"] = len(gone)
        return counts

    def clear(self) -> int:
        """Delete what the cache wrote (entries named by digest), never through a link.

        Refuses a directory without our ``CACHEDIR.TAG``: ``--cache-dir`` pointing at
        the wrong folder must not empty it. Returns how many entries were deleted.
        """
        tag = read_regular(self.root / TAG_NAME, 4096)
        if tag is None or not tag.startswith(TAG.splitlines()[0]):
            raise CacheError(
                f"{self.root} is not a model-diagram cache (it has no {TAG_NAME} written by "
                "model-diagram); nothing was deleted"
            )
        removed = 0
        stale = time.time() - 3600  # temp files of builds running now are theirs
        for sub, pattern in _ENTRY.items():
            folder = self.root / sub
            if folder.is_symlink() or not folder.is_dir():
                continue  # a link is not ours to follow
            removed += self._clear_folder(folder, pattern, stale)
            with contextlib.suppress(OSError):  # only when empty: nothing else is deleted
                folder.rmdir()
        for name in MEMO_NAMES:
            memo = self.root / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(memo.lstat().st_mode):
                    memo.unlink()  # a link itself is left alone
        return removed

    @staticmethod
    def _clear_folder(folder: Path, pattern: re.Pattern[str], stale: float) -> int:
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
            for entry in entries:
                # a concurrent build renames its temp files and replaces entries
                with contextlib.suppress(FileNotFoundError):
                    ours = pattern.fullmatch(entry.name) or (
                        entry.name.startswith(_TEMP_PREFIX)
                        and entry.stat(follow_symlinks=False).st_mtime < stale
                    )
                    if ours and not entry.is_dir(follow_symlinks=False):
                        Path(entry.path).unlink()  # a link itself, never its target
                        removed += 1
        return removed

    # -- internals

    def _refresh(self, path: Path) -> None:
        """Mark a local entry used (its mtime), for :meth:`prune`."""
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < time.time() - 86400:
                os.utime(path)

    def _rel(self, path: Path) -> str:
        """Project files are stored relative to the cache's parent, with ``..`` for files
        up to two levels beside it (``src/`` next to ``docs/`` or ``docs/source/``), so
        another checkout path still hits; files elsewhere keep their absolute path."""
        resolved = path.resolve()
        try:
            rel = Path(os.path.relpath(resolved, self.base))
        except ValueError:  # another drive (Windows)
            return str(resolved)
        return rel.as_posix() if rel.parts[:3].count("..") < 3 else str(resolved)

    def _abs(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else Path(os.path.normpath(self.base / path))

    def _read(self, path: Path) -> bytes | None:
        """Every read of the cache goes through here: regular files only, bounded.

        Anything else where an entry should be (a FIFO, a link to ``/dev/zero``, a
        huge file) is removed, so the next write repairs the entry.
        """
        try:
            data = read_regular(path)
        except OSError as exc:
            log.debug("model-diagram: ignoring unreadable cache file %s (%s)", path, exc)
            return None
        if data is None and os.path.lexists(path):
            log.debug("model-diagram: removing %s (not a regular cache file)", path)
            with contextlib.suppress(OSError):
                path.unlink()
        return data

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        raw = self._load(path.relative_to(self.root).as_posix(), _json_dict_bytes)
        data = _json_dict(raw) if raw is not None else None
        if raw is not None and data is None:
            log.debug("model-diagram: ignoring unreadable cache file %s", path)
        return data

    def _load(self, name: str, valid: Callable[[str, bytes], bool]) -> bytes | None:
        """An entry's bytes: the local copy, else the store's (checked by ``valid``, then
        copied in so the next build asks nobody)."""
        data = self._read(self.root / name)
        if data is not None:
            return data
        if self.remote is None or name in self._absent:
            return None
        try:
            data = self.remote.get(name)
        except RemoteUnavailable as exc:
            self._lost_remote(exc)
            return None
        if data is None:
            return None
        return self._copy_in({name: data}, valid).get(name)

    def _copy_in(
        self, found: dict[str, bytes], valid: Callable[[str, bytes], bool]
    ) -> dict[str, bytes]:
        """Keep what the store sent that passes ``valid``; the rest is ignored (a store
        is untrusted input, like any cache)."""
        kept = {}
        for name, data in found.items():
            if not valid(name, data):
                log.debug("model-diagram: ignoring a malformed entry %s from the store", name)
                continue
            with contextlib.suppress(OSError):
                atomic_write(self.root / name, data)
            kept[name] = data
        return kept

    def _read_blob(self, blob: str, ext: str) -> bytes | None:
        if not _DIGEST.fullmatch(blob):
            return None  # a corrupt pointer: never a path out of the cache (it could unlink)
        path = self.root / "blobs" / f"{blob}.{ext}"
        data = self._load(f"blobs/{blob}.{ext}", _blob_check)
        if data is None:
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
        try:
            present = path.lstat()
        except OSError:
            present = None
        if not (present and stat.S_ISREG(present.st_mode) and present.st_size == len(data)):
            self._write(path, data)
        else:  # the store may not have what this directory has
            self._publish(path, data)
        return blob

    def _publish(self, path: Path, data: bytes) -> None:
        if self.remote is not None and self.mode == "read-write":
            try:
                self.remote.put(path.relative_to(self.root).as_posix(), data)
            except RemoteUnavailable as exc:
                self._lost_remote(exc)

    def _write(self, path: Path, data: bytes) -> None:
        """Write locally, and publish to the store in read-write mode (a blob is always
        published before the manifest or pointer that names it)."""
        self._publish(path, data)
        try:
            if not self._tagged:
                tag = self.root / TAG_NAME
                if read_regular(tag, 4096) != TAG:
                    atomic_write(tag, TAG)
                self._tagged = True
            atomic_write(path, data)
        except OSError as exc:
            raise CacheError(
                f"cannot write to the cache directory {self.root} ({exc.strerror or exc}); "
                "the diagram was built but not cached: make the directory writable or set "
                "another cache dir"
            ) from None
