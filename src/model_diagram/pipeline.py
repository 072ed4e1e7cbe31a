"""options -> (cache hit? return) -> worker(load, trace) -> style -> render -> cache.

The one path every front end (Sphinx, MkDocs, Python API, CLI) goes through.
It never imports torch: tracing happens in the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import __version__
from .cache import Cache, DamagedGraphError, StoredGraph, TraceEntry, key_of
from .errors import CacheError, DiagramError, TraceError, reported_as_bug
from .options import RENDER, TRACE, DiagramOptions
from .remote import Remote, cache_mode, is_url
from .rendering import Engine, clean_svg, engine_version, locate_engine, run_engine
from .sanitize import loads_scrubbed, sanitize_svg, scrub
from .theme import svg_style

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .folding import ViewGraph
    from .layergraph import LayerGraph
    from .layouts import Layouts
    from .worker import Worker

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = ".model-diagram-cache"
#: the median seconds of a build's traces from which it suggests ``preload`` (when
#: they share third-party packages)
PRELOAD_HINT_SECONDS = 0.5

#: styles drawn by model-diagram itself (no Graphviz); each module has ``draw(graph, options)``
FIGURE_STYLES = ("layered", "lenet", "neurons")


def _drawer(style: str) -> Any:
    """The ``draw`` of a figure style, imported when a render misses the cache: a warm
    build never loads the styles."""
    return importlib.import_module(f".styles.{style}", __package__).draw


@dataclass(frozen=True)
class View:
    """One drawn view of the explorer: a module's own diagram (``""``: the overview)."""

    key: str
    title: str
    parent: str | None
    svg: str
    #: SVG node id (``n12``) -> what the details panel shows, and the view it opens
    nodes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Views:
    """What the explorer needs beyond the overview: views, search index, repeat aliases."""

    views: list[View] = field(default_factory=list)
    index: list[dict[str, str]] = field(default_factory=list)
    aliases: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass
class Result:
    """A finished diagram and what it depended on."""

    data: bytes
    format: str
    key: str
    files: tuple[Path, ...]
    cached: bool
    #: the layer graph, parsed from the cache only when something reads :attr:`graph`
    stored: StoredGraph
    notes: list[str] = field(default_factory=list)
    #: problems that did not stop the diagram (an unwritable cache)
    warnings: list[DiagramError] = field(default_factory=list)
    #: the content hash each of ``files`` had when the model was traced
    digests: tuple[str, ...] = ()
    #: the explorer's views (none unless the drawing is folded and explores)
    explorer: Views = field(default_factory=Views)

    @property
    def svg(self) -> str:
        return self.data.decode("utf-8")

    @property
    def graph(self) -> LayerGraph:
        """The layer graph; :class:`~model_diagram.cache.DamagedGraphError` for a forged entry."""
        return self.stored.load()


@cache
def _code_digest() -> str:
    """Hash of the sources that shape a diagram: editing them invalidates old entries.

    The front ends, CLI and API only carry diagrams around, so they are left out.
    """
    here = Path(__file__).resolve().parent
    carriers = {"sphinx_ext.py", "mkdocs_plugin.py", "cli.py", "api.py", "html.py", "__init__.py"}
    # snapshots and diffs are read from the cached graph, never cached themselves
    carriers |= {"snapshot.py", "diff.py", "diffdraw.py", "compare.py", "testing.py"}
    carriers |= {"pytest_plugin.py"}
    carriers |= {"explorer.py"}  # writes the HTML around views, draws nothing
    h = hashlib.sha256()
    for path in sorted(here.rglob("*.py")):
        if path.parent == here and path.name in carriers:
            continue
        h.update(path.relative_to(here).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _tool_versions(cache: Cache) -> dict[str, str]:
    versions = {"model-diagram": __version__, "python": "{}.{}".format(*sys.version_info[:2])}
    return versions | {dist: cache.installed(dist) for dist in ("torch", "torchview")}


def trace_options(options: DiagramOptions) -> dict[str, Any]:
    """What the worker traces with: ``depth: auto`` traces every level (folding comes later)."""
    stage = options.stage_dict(TRACE)
    if stage["depth"] is None:
        stage["depth"] = -1
    return stage


def trace_key(options: DiagramOptions, cache: Cache) -> str:
    """What a trace depends on: its options, the tools' versions (as ``cache`` finds
    them installed) and our tracing code."""
    tools = _tool_versions(cache)
    return key_of({"trace": trace_options(options), "tools": tools, "code": _code_digest()})


def never_traced(found: list[DiagramOptions], cache: Cache) -> Iterator[DiagramOptions]:
    """Those of ``found`` whose trace has no manifest (a cheap guess: no hashing, no
    import), each key made once; a shared store's manifests for them are fetched in
    one batch first. What the front ends' pre-scans submit to the worker early."""
    keys = [trace_key(options, cache) for options in found]
    cache.prefetch(keys)
    return (options for options, key in zip(found, keys, strict=True) if not cache.has_trace(key))


def folds(options: DiagramOptions) -> bool:
    """Whether the drawing is folded to the node budget (``depth: auto``)."""
    return options.depth is None and options.max_nodes > 0


class Pipeline:
    """Per-build state: one cache, one (lazily started) worker; close it when done.

    ``submit`` returns at once: a cache hit is ready, a miss is traced by the
    worker while the caller goes on (a front end reads its other pages), and
    ``Pending.result()`` joins it. ``diagram`` is both in one call.
    """

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        worker: Worker | None = None,
        *,
        jobs: int | None = None,
        preload: Sequence[str] = (),
        storage_options: dict[str, Any] | None = None,
        mode: str | None = None,
        local_dir: Path | str | None = None,
    ) -> None:
        """``cache_dir``: a directory, or an fsspec URL of a shared store whose read-through
        copy is ``local_dir``; ``mode``: read-write, read-only or off
        (``MODEL_DIAGRAM_CACHE_MODE`` overrides it). A store that cannot be opened is a
        warning on the first diagram, never a failed build. ``jobs`` and ``preload``
        configure the worker (see :class:`~model_diagram.worker.Worker`)."""
        problems: list[CacheError] = []
        try:
            resolved = cache_mode(mode)
        except CacheError as exc:
            problems.append(exc)
            resolved = "read-write"
        remote = None
        if is_url(cache_dir):
            local = Path(local_dir or DEFAULT_CACHE_DIR)
            if resolved != "off":
                try:
                    remote = Remote(str(cache_dir), storage_options)
                except CacheError as exc:
                    problems.append(exc)
        else:
            local = Path(cache_dir or DEFAULT_CACHE_DIR)
        self.cache = Cache(local, remote, resolved)
        self.cache.problems.extend(problems)
        self._worker = worker
        self._jobs = jobs
        self._preload = tuple(preload)
        self.traced = 0
        self._lock = threading.Lock()
        #: trace key -> the worker's future, so a diagram submitted twice is traced once
        self._tracing: dict[str, Future[dict[str, Any]]] = {}
        #: a trace once stored, for the other diagrams that waited for the same one
        self._stored: dict[Future[dict[str, Any]], tuple[TraceEntry, list[DiagramError]]] = {}
        self._engines: dict[str, Engine] = {}
        self._layouts: Layouts | None = None  # the first drawing starts it
        #: per trace of this build: (the child's seconds, the third-party packages its
        #: model loaded), for :meth:`preload_hint`
        self._imports: list[tuple[float, tuple[str, ...]]] = []

    @property
    def worker(self) -> Worker:
        if self._worker is None:
            from .worker import Worker  # a warm build never needs it

            self._worker = Worker(self._jobs, preload=self._preload)
        return self._worker

    @property
    def worker_started(self) -> bool:
        return self._worker is not None and self._worker.parents > 0

    def start_worker(self) -> None:
        """Start the worker ahead of the first miss, so its imports overlap other work."""
        self.worker.start()

    def close(self) -> None:
        """Stop the worker (its parent and every child) and the Graphviz processes."""
        if self._worker is not None:
            self._worker.stop()
        if self._layouts is not None:
            self._layouts.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def new_build(self) -> None:
        """Forget traces in flight from an earlier build (``mkdocs serve``): files may
        have changed since, so only this build's submissions may share a trace."""
        with self._lock:
            self._tracing.clear()
            self._stored.clear()
            self._imports.clear()
        self.traced = 0
        self.cache.new_build()

    def lookup(self, options: DiagramOptions, fmt: str = "svg") -> Pending | None:
        """The diagram from the cache (ready at once), or None: no worker is involved."""
        key = trace_key(options, self.cache)
        entry = self.cache.lookup_trace(key)
        return None if entry is None else Pending(self, options, fmt, key, entry=entry)

    def submit(self, options: DiagramOptions, fmt: str = "svg") -> Pending:
        """Look the diagram up, or start tracing it; never waits for a trace."""
        found = self.lookup(options, fmt)
        return found if found is not None else self.trace(options, fmt)

    def trace(self, options: DiagramOptions, fmt: str = "svg") -> Pending:
        """Start tracing the diagram (or join its trace in flight), whatever the cache holds."""
        key = trace_key(options, self.cache)
        with self._lock:
            future = self._tracing.get(key)
            if future is None:
                request: dict[str, Any] = {
                    "factory": options.factory,
                    "options": trace_options(options),
                }
                if options.memory_limit:
                    request["memory_limit"] = options.memory_limit
                future = self.worker.submit(request, timeout=options.timeout)
                self._tracing[key] = future
        return Pending(self, options, fmt, key, future=future)

    def diagram(self, options: DiagramOptions, fmt: str = "svg") -> Result:
        """Produce one diagram in ``fmt``, its graph read (the caller uses it); raises a
        :class:`DiagramError` subclass only (a bug of ours too: "please report"), so
        every caller shows one placeholder."""
        with reported_as_bug():
            pending = self.submit(options, fmt)
            pending.reads_graph = True
            return pending.result()

    def render_graph(
        self,
        options: DiagramOptions,
        graph: StoredGraph,
        fmt: str,
        warnings: list[DiagramError],
    ) -> tuple[bytes, str, bool]:
        """(data, render key, cache hit) for a traced graph; raises :class:`DiagramError`."""
        with reported_as_bug():
            return self._drawn(options, graph, fmt, warnings)

    def embeddable(self, options: DiagramOptions, svg: str, graph: StoredGraph) -> str:
        """``svg`` sanitised for a page. A drawing the sanitiser refuses came from the
        cache (damaged, or forged with a name that still matches its bytes): it is drawn
        again from ``graph`` once, which also replaces the entry, and only a refused
        fresh drawing raises (a :class:`DiagramError`, like every failure)."""
        try:
            return sanitize_svg(svg)
        except DiagramError as refused:
            with reported_as_bug():
                log.debug("model-diagram: a cached drawing was refused (%s)", refused.message)
                data, _, _ = self._drawn(options, graph, "svg", [], fresh=True)
                return sanitize_svg(data.decode("utf-8"))

    def _drawn(
        self,
        options: DiagramOptions,
        graph: StoredGraph,
        fmt: str,
        warnings: list[DiagramError],
        *,
        fresh: bool = False,
    ) -> tuple[bytes, str, bool]:
        """:meth:`_render_graph`, where a cached graph found forged only now (another
        format written late, a refused drawing drawn again) is traced again."""
        try:
            return self._render_graph(options, graph, fmt, warnings, fresh=fresh)
        except DamagedGraphError as exc:
            again = self._trace_again(options, fmt, exc).result()
            return again.data, again.key, False

    def _trace_again(
        self, options: DiagramOptions, fmt: str, damaged: DamagedGraphError
    ) -> Pending:
        """The diagram traced again, finished, for a cached graph found forged (``damaged``)."""
        log.debug("model-diagram: tracing again: %s", damaged.message)
        pending = self.trace(options, fmt)
        pending.reads_graph = True
        pending.result()  # raises its DiagramError here
        return pending

    def _join(
        self, key: str, future: Future[dict[str, Any]]
    ) -> tuple[TraceEntry, list[DiagramError], bool]:
        """Wait for a trace and store it (once per trace); True if this call stored it."""
        try:
            reply = self.worker.result(future)
        except DiagramError as exc:
            self._remember_failure(key, exc)
            raise
        finally:
            with self._lock:
                if self._tracing.get(key) is future:
                    del self._tracing[key]
        with self._lock:
            if future in self._stored:
                entry, stored = self._stored[future]
                return entry, stored, False
            from .layergraph import LayerGraph, LayerGraphError  # a warm build never gets here

            try:
                # a model names its layers as it likes: text every output can hold
                graph = LayerGraph.from_dict(scrub(reply["graph"]))
            except LayerGraphError as exc:
                raise TraceError(f"the worker sent a malformed layer graph ({exc})") from None
            notes = list(reply["notes"])
            self._imports.append(_imported(reply))
            warnings: list[DiagramError] = []
            try:
                self.cache.store_trace(key, graph, reply["files"], reply["dists"], notes)
            except CacheError as exc:
                warnings.append(exc)
            files = tuple(Path(p) for p in reply["files"])
            entry = TraceEntry(
                StoredGraph.of(graph), files, tuple(notes), digests=tuple(reply["files"].values())
            )
            self._stored[future] = (entry, warnings)
            self.traced += 1
            return entry, warnings, True

    def preload_hint(self) -> tuple[float, list[str]] | None:
        """When this build's traces were slow and shared third-party packages: (the
        median seconds per trace, the packages at least two traces loaded, which
        ``preload`` would import once instead of in every child). None otherwise.

        A child's time is mostly its imports when a model's package pulls in a heavy
        library (torch-rechub imports scikit-learn: 1.7 s); a trace alone takes tens
        of milliseconds for most models."""
        with self._lock:
            imports = list(self._imports)
        if len(imports) < 2:
            return None
        import statistics  # a warm build never gets here

        seconds = statistics.median(s for s, _ in imports)
        counts = Counter(name for _, names in imports for name in set(names))
        shared = sorted(n for n, c in counts.items() if c >= 2 and n not in self._preload)
        if seconds < PRELOAD_HINT_SECONDS or not shared:
            return None
        return seconds, shared

    def _remember_failure(self, key: str, error: DiagramError) -> None:
        """Cache a failure the child reported with its dependencies (never a timeout or
        a crash); an unwritable cache only means it is traced again next time."""
        if error.dependencies is None or not error.cacheable:
            return
        with contextlib.suppress(CacheError):
            self.cache.store_failure(key, error.to_dict(), *error.dependencies)

    def views(self, options: DiagramOptions, stored: StoredGraph) -> Views:
        """The explorer's views of a folded diagram, and its search index.

        Each view is a layer graph derived from the one full-depth trace and drawn
        like any diagram; nothing here imports torch. All of them are cached as one
        entry, so a warm build neither folds the graph again nor looks up each view.
        Empty when the diagram is not folded, does not explore, or has one view.
        """
        if not (folds(options) and options.explore and options.style == "graph"):
            return Views()
        vkey = self._render_key(options, stored.digest, "views")
        found = _views_from_json(self.cache.lookup_render(vkey, "json"))
        if found is not None:
            return found
        graph = stored.load()
        from . import folding
        from .styles.graph import should_collapse

        exploration = folding.explore(
            graph,
            options.max_nodes,
            collapse=should_collapse(options),
            nested=options.expand_nested,
        )
        drawn: list[View] = []
        if len(exploration.views) >= 2:
            flat = options.with_values(depth=-1)  # a view is drawn as given, never folded again
            whole = options.alt or graph.model
            for view in exploration.views:
                svg = ""
                if view.key:  # the overview is the diagram itself
                    data, _, _ = self.render_graph(
                        flat.with_values(alt=f"{view.title}: part of {whole}"),
                        StoredGraph.of(view.graph),
                        "svg",
                        [],
                    )
                    svg = data.decode("utf-8")
                drawn.append(View(view.key, view.title, view.parent, svg, _node_details(view)))
        views = Views(drawn, exploration.index, exploration.aliases) if drawn else Views()
        with contextlib.suppress(CacheError):  # an unwritable cache was reported by the render
            self.cache.store_render(vkey, json.dumps(asdict(views)).encode(), "json")
        return views

    def _graphviz(self) -> Layouts:
        """The long-lived Graphviz processes, started by the first drawing (a warm build
        draws nothing); renders run side by side, so they are made under the lock."""
        with self._lock:
            if self._layouts is None:
                from .layouts import Layouts

                self._layouts = Layouts()
            return self._layouts

    def _engine(self, name: str) -> Engine:
        """The engine, its version remembered by the cache: no process started when warm."""
        if name not in self._engines:
            engine_name, path = locate_engine(name)
            version = self.cache.engine_version(path, engine_version)
            self._engines[name] = Engine(engine_name, path, version)
        return self._engines[name]

    def _render_key(self, options: DiagramOptions, graph_digest: str, fmt: str) -> str:
        """Names a drawing by the traced graph and every option that shapes it (folding
        included), so a cache hit needs neither folding nor the styles."""
        render_options = options.stage_dict(RENDER)
        render_options.pop("format")
        if fmt != "png":
            render_options.pop("dpi")
        engine = None if options.style in FIGURE_STYLES else self._engine(options.engine)
        return key_of(
            {
                "graph": graph_digest,
                "render": render_options,
                "format": fmt,
                "engine": [engine.name, engine.version] if engine else options.style,
                "code": _code_digest(),
            }
        )

    def _render_graph(
        self,
        options: DiagramOptions,
        stored: StoredGraph,
        fmt: str,
        warnings: list[DiagramError],
        *,
        fresh: bool = False,
    ) -> tuple[bytes, str, bool]:
        """``fresh``: draw even if the cache has the drawing (and replace its entry).
        Only a miss reads the graph (:class:`DamagedGraphError` if it is forged)."""
        rkey = self._render_key(options, stored.digest, fmt)
        data = None if fresh else self.cache.lookup_render(rkey, fmt)
        if data is not None:
            return data, rkey, True
        graph = stored.load()
        figure = options.style in FIGURE_STYLES
        engine = None if figure else self._engine(options.engine)
        if folds(options):
            from . import folding
            from .styles.graph import should_collapse

            graph = folding.overview(
                graph,
                options.max_nodes,
                collapse=should_collapse(options),
                nested=options.expand_nested,
            )
        from . import exports
        from .styles import canvas as figure_canvas
        from .styles import graph as graph_style

        # PDF is the SVG converted with pip packages, for every style and engine
        drawn_fmt = "svg" if fmt == "pdf" else fmt
        if figure:
            canvas = _drawer(options.style)(graph, options)
            if fmt in exports.WRITERS:
                assert canvas.scene is not None
                data = exports.write(canvas.scene, fmt)
            else:
                data = figure_canvas.export(canvas, drawn_fmt, options.dpi, f"md{rkey[:10]}")
        else:
            assert engine is not None
            dot = graph_style.to_dot(graph, options)
            if fmt in exports.WRITERS:
                layout = json.loads(run_engine(engine, dot, "json"))
                data = exports.write(graph_style.to_scene(graph, options, layout), fmt)
            else:
                data = self._graphviz().run(engine, dot, drawn_fmt, options.dpi)
        if fmt == "pdf":
            from .pdf import svg_to_pdf

            data = svg_to_pdf(data)
        if fmt == "svg":
            from .layergraph import describe

            title = options.alt or options.caption or f"{graph.model} architecture"
            description = (
                canvas.description if figure else describe(graph_style.prepare(graph, options))
            )
            data = clean_svg(data, f"md{rkey[:10]}", title, svg_style(), description).encode()
        try:
            self.cache.store_render(rkey, data, fmt)
        except CacheError as exc:
            warnings.append(exc)
        return data, rkey, False


class Pending:
    """A diagram on its way; ``result()`` waits for its trace (once) and renders it."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: DiagramOptions,
        fmt: str,
        key: str,
        *,
        entry: TraceEntry | None = None,
        future: Future[dict[str, Any]] | None = None,
    ) -> None:
        self.pipeline, self.options, self.fmt, self.key = pipeline, options, fmt, key
        self._entry, self._future = entry, future
        #: True when this diagram's graph came from a fresh trace
        self.traced = False
        #: True when the caller reads the result's graph, not only its drawing
        self.reads_graph = False
        self._result: Result | None = None
        self._error: DiagramError | None = None

    @property
    def cached(self) -> bool:
        """True when the trace (or its deterministic failure) came from the cache."""
        return self._future is None

    def done(self) -> bool:
        return self._future is None or self._future.done()

    def result(self) -> Result:
        """The finished diagram; raises the diagram's :class:`DiagramError` (every call)."""
        if self._result is None and self._error is None:
            try:
                with reported_as_bug():
                    self._result = self._finish()
            except DiagramError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _finish(self) -> Result:
        try:
            return self._draw()
        except DamagedGraphError as exc:
            if self._entry is None:
                raise  # a graph from the worker is parsed already: never damaged
            again = self.pipeline._trace_again(self.options, self.fmt, exc)
            self.traced = again.traced
            return again.result()

    def _draw(self) -> Result:
        warnings: list[DiagramError] = []
        if self._entry is not None:
            entry = self._entry
            if entry.error is not None:  # failed before, for the same inputs
                raise DiagramError.from_dict(entry.error)
        else:
            assert self._future is not None
            entry, stored, self.traced = self.pipeline._join(self.key, self._future)
            warnings.extend(stored)
        assert entry.graph is not None
        options = self.options
        if (
            self.reads_graph
            or not entry.graph.summarised
            or options.table
            or options.compare_to
            or options.format != self.fmt
        ):
            entry.graph.load()  # read later: a forged graph is traced again now
        data, rkey, hit = self.pipeline._render_graph(options, entry.graph, self.fmt, warnings)
        warnings.extend(self.pipeline.cache.take_problems())  # a store that went away
        cached = self._entry is not None and hit
        notes = list(entry.notes)
        explorer = self.pipeline.views(options, entry.graph) if self.fmt == "svg" else Views()
        return Result(
            data,
            self.fmt,
            rkey,
            entry.files,
            cached,
            entry.graph,
            notes,
            warnings,
            entry.digests,
            explorer,
        )


def _imported(reply: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
    """A reply's job time and packages, as far as they are well formed (the reply
    comes from a process that ran the model's code)."""
    seconds = reply.get("seconds")
    names = reply.get("imported")
    return (
        float(seconds) if isinstance(seconds, (int, float)) and seconds >= 0 else 0.0,
        tuple(n for n in names if isinstance(n, str))[:100] if isinstance(names, list) else (),
    )


def _node_details(view: ViewGraph) -> dict[str, dict[str, Any]]:
    """Per drawn node (by SVG id): the facts the explorer's details panel shows."""
    keys = (
        *("kind", "name", "qualname", "cls", "params", "inputs", "outputs", "in_dtypes"),
        *("out_dtypes", "scope", "label", "repeat", "repeat_group"),
    )
    details = {}
    for layer in view.shown:
        if layer.kind == "tensor":
            continue
        facts = asdict(layer)
        entry = {k: facts[k] for k in keys if facts[k] not in (None, (), "", 0) or k == "params"}
        element = f"n{layer.id}"
        if element in view.targets:
            entry["opens"] = view.targets[element]
        details[element] = entry
    for element, opens in view.targets.items():
        details.setdefault(element, {"kind": "repeat", "opens": opens})
    return details


def _views_from_json(raw: bytes | None) -> Views | None:
    """Cached views, or None when missing or malformed (the cache is untrusted: its text
    is scrubbed like a cached graph's, each view's SVG sanitised where it is embedded)."""
    if raw is None:
        return None
    try:
        data = loads_scrubbed(raw)
        views = [
            View(str(v["key"]), str(v["title"]), v["parent"], str(v["svg"]), dict(v["nodes"]))
            for v in data["views"]
        ]
        index = [{str(k): str(t) for k, t in dict(e).items()} for e in data["index"]]
        aliases = [(str(a), int(b), int(c)) for a, b, c in data["aliases"]]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    if not all(v.parent is None or isinstance(v.parent, str) for v in views):
        return None
    return Views(views, index, aliases)
