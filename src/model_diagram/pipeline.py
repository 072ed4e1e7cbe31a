"""options -> (cache hit? return) -> worker(load, trace) -> style -> render -> cache.

The one path every front end (Sphinx, MkDocs, Python API, CLI) goes through.
It never imports torch: tracing happens in the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import __version__, exports
from .cache import Cache, key_of
from .errors import CacheError, DiagramError, TraceError, reported_as_bug
from .layergraph import LayerGraph, LayerGraphError, describe
from .options import RENDER, TRACE, DiagramOptions
from .output import clean_svg, find_engine, run_engine
from .pdf import svg_to_pdf
from .styles import canvas as figure_canvas
from .styles import graph as graph_style
from .styles import layered as layered_style
from .styles import lenet as lenet_style
from .styles import neurons as neurons_style
from .theme import svg_style
from .worker import Worker, shared_worker

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = ".model-diagram-cache"

#: styles drawn by model-diagram itself (no Graphviz): style name -> layer graph -> Canvas
FIGURE_STYLES = {
    "layered": layered_style.draw,
    "lenet": lenet_style.draw,
    "neurons": neurons_style.draw,
}


@dataclass
class Result:
    """A finished diagram and what it depended on."""

    data: bytes
    format: str
    key: str
    files: tuple[Path, ...]
    cached: bool
    graph: LayerGraph
    notes: list[str] = field(default_factory=list)
    #: problems that did not stop the diagram (an unwritable cache)
    warnings: list[DiagramError] = field(default_factory=list)
    #: the content hash each of ``files`` had when the model was traced
    digests: tuple[str, ...] = ()

    @property
    def svg(self) -> str:
        return self.data.decode("utf-8")


@cache
def _code_digest() -> str:
    """Hash of the sources that shape a diagram: editing them invalidates old entries.

    The front ends, CLI and API only carry diagrams around, so they are left out.
    """
    here = Path(__file__).resolve().parent
    carriers = {"sphinx_ext.py", "mkdocs_plugin.py", "cli.py", "api.py", "embed.py", "__init__.py"}
    # snapshots and diffs are read from the cached graph, never cached themselves
    carriers |= {"snapshot.py", "diff.py", "diffdraw.py", "compare.py", "testing.py"}
    carriers |= {"pytest_plugin.py"}
    h = hashlib.sha256()
    for path in sorted(here.rglob("*.py")):
        if path.parent == here and path.name in carriers:
            continue
        h.update(path.relative_to(here).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@cache
def _tool_versions() -> dict[str, str]:
    versions = {"model-diagram": __version__, "python": "{}.{}".format(*sys.version_info[:2])}
    for dist in ("torch", "torchview"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return versions


def trace_key(options: DiagramOptions) -> str:
    return key_of(
        {"trace": options.stage_dict(TRACE), "tools": _tool_versions(), "code": _code_digest()}
    )


class Pipeline:
    """Per-build state: one cache, one (lazily started) worker."""

    def __init__(self, cache_dir: Path | str | None = None, worker: Worker | None = None) -> None:
        self.cache = Cache(Path(cache_dir or DEFAULT_CACHE_DIR))
        self._worker = worker
        self.traced = 0

    @property
    def worker(self) -> Worker:
        if self._worker is None:
            self._worker = shared_worker()
        return self._worker

    def start_worker(self) -> None:
        """Start the worker ahead of the first miss, so its imports overlap other work."""
        self.worker.start()

    def diagram(self, options: DiagramOptions, fmt: str = "svg") -> Result:
        """Produce one diagram in ``fmt``; raises a :class:`DiagramError` subclass only
        (a bug of ours too: "please report"), so every caller shows one placeholder."""
        with reported_as_bug():
            return self._diagram(options, fmt)

    def render_graph(
        self,
        options: DiagramOptions,
        graph: LayerGraph,
        fmt: str,
        warnings: list[DiagramError],
    ) -> tuple[bytes, str, bool]:
        """(data, render key, cache hit) for a traced graph; raises :class:`DiagramError`."""
        with reported_as_bug():
            return self._render_graph(options, graph, fmt, warnings)

    def _diagram(self, options: DiagramOptions, fmt: str) -> Result:
        warnings: list[DiagramError] = []
        key = trace_key(options)
        entry = self.cache.lookup_trace(key)
        cached = entry is not None
        if entry is not None and entry.error is not None:
            raise DiagramError.from_dict(entry.error)  # failed before, for the same inputs
        if entry is not None and entry.graph is not None:
            graph, files, notes = entry.graph, entry.files, list(entry.notes)
            digests = entry.digests
        else:
            try:
                reply = self.worker.run(
                    {"factory": options.factory, "options": options.stage_dict(TRACE)},
                    timeout=options.timeout,
                )
            except DiagramError as exc:
                self._remember_failure(key, exc)
                raise
            self.traced += 1
            try:
                graph = LayerGraph.from_dict(reply["graph"])
            except LayerGraphError as exc:
                raise TraceError(f"the worker sent a malformed layer graph ({exc})") from None
            notes = list(reply["notes"])
            files = tuple(Path(p) for p in reply["files"])
            digests = tuple(reply["files"].values())
            try:
                self.cache.store_trace(key, graph, reply["files"], reply["dists"], notes)
            except CacheError as exc:
                warnings.append(exc)
        data, rkey, hit = self._render_graph(options, graph, fmt, warnings)
        return Result(
            data, fmt, rkey, files, cached and hit, graph, notes, warnings, digests=digests
        )

    def _remember_failure(self, key: str, error: DiagramError) -> None:
        """Cache a failure the child reported with its dependencies (never a timeout or
        a crash); an unwritable cache only means it is traced again next time."""
        if error.dependencies is None or not error.cacheable:
            return
        with contextlib.suppress(CacheError):
            self.cache.store_failure(key, error.to_dict(), *error.dependencies)

    def _render_graph(
        self,
        options: DiagramOptions,
        graph: LayerGraph,
        fmt: str,
        warnings: list[DiagramError],
    ) -> tuple[bytes, str, bool]:
        figure = FIGURE_STYLES.get(options.style)
        engine = None if figure else find_engine(options.engine)
        render_options = options.stage_dict(RENDER)
        render_options.pop("format")
        if fmt != "png":
            render_options.pop("dpi")
        rkey = key_of(
            {
                "graph": graph.digest,
                "render": render_options,
                "format": fmt,
                "engine": [engine.name, engine.version] if engine else options.style,
                "code": _code_digest(),
            }
        )
        data = self.cache.lookup_render(rkey, fmt)
        if data is not None:
            return data, rkey, True
        # PDF is the SVG converted with pip packages, for every style and engine
        drawn_fmt = "svg" if fmt == "pdf" else fmt
        if figure:
            canvas = figure(graph, options)
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
                data = run_engine(engine, dot, drawn_fmt, options.dpi)
        if fmt == "pdf":
            data = svg_to_pdf(data)
        if fmt == "svg":
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
