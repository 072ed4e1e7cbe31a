"""Sphinx front end: the ``model-diagram`` directive, its node, visitors and config.

Thin by design (see ``sphinx.ext.graphviz``): the directive parses options
with the shared schema and hands them to the build's
:class:`~model_diagram.pipeline.Pipeline`. A cached diagram is drawn at once;
a miss is submitted to the worker and the directive returns, so models are
traced while Sphinx reads the other pages. Pending diagrams are submitted at
``env-updated`` (in the main process, after ``-j`` readers merged) and joined
as their page is written (``doctree-resolved``), so Sphinx writes pages while
the worker still traces; their project files become the page's dependencies
(``env.note_dependency``, saved with the environment again at the end) and
their warnings name the directive's line. The node keeps the options, the cleaned SVG and the
layer graph; visitors turn it into inline SVG or ``<img>`` (HTML) or a PDF/PNG
with ``\\sphinxincludegraphics`` (LaTeX), and every other builder gets the alt
text. Torch is never imported here: the worker's children trace, and its
parent starts before reading when the pre-scan finds a diagram never traced.

Events used: ``config-inited`` (validate config), ``builder-inited`` (the
build's state, CSS and the pan/zoom script), ``env-before-read-docs`` (submit
the scanned misses), ``env-updated`` (submit what ``-j`` readers left),
``env-purge-doc`` / ``env-merge-info`` (per-document records, ``-j`` safe),
``doctree-resolved`` (join the page's diagrams; pending nodes get their drawing;
alt text for non-HTML, non-LaTeX builders), ``build-finished`` (join what no
written page needed, save the environment again, a per-build summary, stop the
worker).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ConfigError, ExtensionError
from sphinx.project import Project
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from . import __version__
from .cache import Cache, atomic_write
from .classlinks import resolve_class_links
from .compare import against, is_snapshot, snapshot_path, traced_versions
from .errors import DiagramError, OptionError, error_text, reported_as_bug
from .html import (
    CSS_NAME,
    JS_NAME,
    asset_text,
    download_html,
    error_html,
    figure_html,
    layer_table_html,
    stylesheet,
    unique_ids,
)
from .options import (
    EDITABLE_FORMATS,
    OPTIONS,
    SHORTHANDS,
    SUFFIXES,
    DiagramOptions,
    canonical_name,
    fold_shorthands,
    parse_options,
    preload_modules,
    validate_defaults,
)
from .pipeline import DEFAULT_CACHE_DIR, Pending, Pipeline, Result, Views, never_traced
from .remote import MODES, is_url
from .rendering import standalone_svg
from .sanitize import plain_text, sanitize_svg
from .scan import Syntax, diagrams

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config
    from sphinx.environment import BuildEnvironment
    from sphinx.writers.html5 import HTML5Translator
    from sphinx.writers.latex import LaTeXTranslator

    from .diff import ArchitectureDiff

logger = logging.getLogger(__name__)

PREFIX = "model_diagram_"
EMBED_MODES = ("inline", "img")
ON_ERROR_MODES = ("warn", "raise")
#: bump when the node's stored data changes shape, so Sphinx re-reads old doctrees
ENV_VERSION = 2


# -- the node


class model_diagram(nodes.General, nodes.Element):  # type: ignore[misc]  # noqa: N801
    """A diagram (``options``, ``svg``, ``graph``, ``key``, ``alt``, ``fallback``: the text
    for non-visual builders) or a failed one (``error``); ``factory`` always."""


# -- configuration


def _config_error(key: str, problem: str) -> ConfigError:
    return ConfigError(f"{PREFIX}{key}: {problem}")


def check_config(app: Sphinx, config: Config) -> None:
    """Validate every ``model_diagram_*`` value on ``config-inited``; resolve the cache dir."""
    try:
        defaults = validate_defaults(config.model_diagram_defaults)
    except DiagramError as exc:  # an option error, or a malformed tensor spec
        raise _config_error("defaults", exc.message) from None
    try:
        _, notices = fold_shorthands(
            defaults,
            {key: config[PREFIX + key] for key in SHORTHANDS},
            spelled=lambda key: PREFIX + key,
            defaults_name=f"{PREFIX}defaults",
        )
    except DiagramError as exc:
        raise ConfigError(exc.message) from None
    for notice in notices:
        logger.warning(notice, type="model_diagram", subtype="deprecated")
    for key, choices in (("embed", EMBED_MODES), ("on_error", ON_ERROR_MODES)):
        value = config[PREFIX + key]
        if value not in choices:
            raise _config_error(key, f"{value!r} is not one of {', '.join(choices)}")
    jobs = config.model_diagram_jobs
    if isinstance(jobs, str) and jobs.strip().isdecimal():  # -D model_diagram_jobs=2
        jobs = config.model_diagram_jobs = int(jobs)
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise _config_error("jobs", f"{jobs!r} is not a number of processes (1 or more)")
    try:
        config.model_diagram_preload = list(preload_modules(config.model_diagram_preload))
    except OptionError as exc:
        raise _config_error("preload", exc.message) from None
    cache_dir = config.model_diagram_cache_dir
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise _config_error("cache_dir", f"{cache_dir!r} is not a path or URL")
    options = config.model_diagram_cache_storage_options
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise _config_error("cache_storage_options", f"{options!r} is not a mapping")
    mode = config.model_diagram_cache_mode
    if mode is not None and mode not in MODES:
        raise _config_error("cache_mode", f"{mode!r} is not one of {', '.join(MODES)}")
    base = Path(app.confdir or app.srcdir)
    # a URL is a shared store; this build's own directory keeps a read-through copy
    config.model_diagram_local_cache = str(base / DEFAULT_CACHE_DIR)
    if not is_url(cache_dir):
        config.model_diagram_cache_dir = str(base / (cache_dir or DEFAULT_CACHE_DIR))


class BuildState:
    """What one build keeps while it runs: its pipeline (cache + worker), per process.

    Lives on the environment (``env.model_diagram_build``) but is never pickled
    with it: a pickled copy (the saved environment, a ``-j`` reader's result) is
    empty. A forked ``-j`` reader makes its own pipeline, for cache lookups only;
    only the main process uses the build's worker.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        #: the build's own process; ``pid``: the process that made ``_pipeline``
        self.main_pid = self.pid = os.getpid()
        self._pipeline: Pipeline | None = None
        #: the configured cache directory and the working directory it was resolved in
        self._resolved: tuple[str, str, Path] | None = None
        #: pending diagrams by node id, submitted while reading, handed on at ``env-updated``
        self.waiting: dict[str, Pending] = {}
        #: what each joined diagram became, by node id, for ``doctree-resolved``
        self.outcomes: dict[str, Result | DiagramError] = {}
        #: diagrams still being traced when writing began, by node id: each is joined
        #: when its page is written (see :func:`join`)
        self.late: dict[str, _Joining] = {}
        #: a diagram was joined after Sphinx saved the environment: save it again
        self.joined_late = False
        #: the scan at ``config-inited`` found every diagram of the project traced
        self.all_traced = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (_empty_state, ())

    @property
    def pipeline(self) -> Pipeline:
        configured = self.config.model_diagram_cache_dir
        # a shared store's pipeline caches in the local read-through copy
        local = self.config.model_diagram_local_cache if is_url(configured) else configured
        cache_dir = self._cache_dir(str(local))
        if (
            self._pipeline is None
            or self.pid != os.getpid()
            or self._pipeline.cache.root != cache_dir
        ):
            if self._pipeline is not None and self.pid == os.getpid():
                self._pipeline.close()  # the cache dir changed (a tool reusing the env)
            self.pid = os.getpid()
            self._pipeline = Pipeline(
                self.config.model_diagram_cache_dir,
                jobs=self.config.model_diagram_jobs,
                preload=self.config.model_diagram_preload,
                storage_options=self.config.model_diagram_cache_storage_options,
                mode=self.config.model_diagram_cache_mode,
                local_dir=self.config.model_diagram_local_cache,
            )
        return self._pipeline

    def _cache_dir(self, local: str) -> Path:
        """``local`` resolved, once per directory (a diagram asks twice: ~0.2 ms each)."""
        here = str(Path.cwd())
        if self._resolved is None or self._resolved[:2] != (local, here):
            self._resolved = (local, here, Path(local).resolve())
        return self._resolved[2]

    def start(self, options: DiagramOptions) -> Pending | None:
        """The diagram from the cache, or on its way in the worker; in a forked ``-j``
        reader, None on a miss: the main process traces it when it joins."""
        if os.getpid() == self.main_pid:
            return self.pipeline.submit(options)
        return self.pipeline.lookup(options)

    def close(self) -> None:
        if self._pipeline is not None and self.pid == os.getpid():
            self._pipeline.close()

    def preload_hint(self) -> tuple[float, list[str]] | None:
        """See :meth:`Pipeline.preload_hint`; None when this process traced nothing."""
        if self._pipeline is None or self.pid != os.getpid():
            return None
        return self._pipeline.preload_hint()


def _empty_state() -> None:
    return None


def build_state(env: BuildEnvironment) -> BuildState:
    """This build's state (made on first use, e.g. by a tool that reads pages itself)."""
    state = getattr(env, "model_diagram_build", None)
    if not isinstance(state, BuildState):
        state = BuildState(env.config)
        env.model_diagram_build = state  # type: ignore[attr-defined]
    return state


def start_early(app: Sphinx, config: Config) -> None:
    """Start the worker as soon as the configuration is read, when a page has a diagram
    that was never traced: torch then imports while Sphinx loads its environment and
    builder (a quarter of a second of a small site), not only while it reads pages."""
    state = BuildState(config)
    project = Project(app.srcdir, config.source_suffix)
    try:
        docnames = project.discover(config.exclude_patterns, config.include_patterns)
    except Exception:
        return
    paths = (Path(project.doc2path(name, absolute=True)) for name in sorted(docnames))
    if next(scanned_misses(state.pipeline.cache, config, paths), None) is not None:
        state.pipeline.start_worker()
    else:
        state.all_traced = True  # the pages about to be read are some of these
    app.model_diagram_early = state  # type: ignore[attr-defined]


def new_build(app: Sphinx) -> None:
    """A fresh state per build (installed versions may have changed since the last one);
    the one :func:`start_early` made, with its worker, when there is one."""
    state = getattr(app, "model_diagram_early", None)
    if state is not None:
        del app.model_diagram_early  # type: ignore[attr-defined]
    app.env.model_diagram_build = state or BuildState(app.config)  # type: ignore[attr-defined]


def end_build(app: Sphinx, exception: BaseException | None) -> None:
    """Join what no written page needed, save the environment again if a diagram was
    joined after Sphinx saved it, summarise; stop the worker (its parent and children
    end with the build)."""
    state = build_state(app.env)
    try:
        if exception is None:
            _join_late(app, app.env, list(state.late))
            if state.joined_late:
                state.joined_late = False  # an app that builds again saves its own
                _save_environment(app)
            summarize(app, app.env)
    finally:
        state.close()


def _save_environment(app: Sphinx) -> None:
    """Sphinx saved the environment before writing; the diagrams joined since then
    added their model files as dependencies, which the next build must see to
    rebuild exactly the pages whose models changed. Where it cannot be saved, the
    saved one is removed: the next build then reads every page."""
    import pickle

    from sphinx.application import ENV_PICKLE_FILENAME

    path = Path(app.doctreedir) / ENV_PICKLE_FILENAME
    try:
        atomic_write(path, pickle.dumps(app.env, pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        logger.info(
            "model-diagram: cannot save the environment again (%s); the next "
            "build reads every page",
            exc,
        )
        path.unlink(missing_ok=True)


def page_defaults(config: Config) -> dict[str, Any]:
    """Schema defaults from config, with the deprecated shorthands (checked to agree)."""
    values: dict[str, Any] = {
        key: config[PREFIX + key] for key in SHORTHANDS if config[PREFIX + key] is not None
    }
    values.update(config.model_diagram_defaults)
    return values


# -- the directive


class _AnyOption(dict):  # type: ignore[type-arg]
    """An ``option_spec`` that takes any key, so the schema (not docutils) reports
    unknown options, as a typed, located ``model_diagram.option`` warning with a hint."""

    def __missing__(self, key: str) -> Any:
        return directives.unchanged


class ModelDiagram(SphinxDirective):
    """``.. model-diagram:: package.module:factory``; content is the caption."""

    # checked by the schema, so a missing or malformed factory is a typed, located
    # warning with a placeholder, not a docutils error that drops the directive
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = _AnyOption(
        {name: directives.unchanged for name in OPTIONS if name != "factory"}
    )

    def run(self) -> list[nodes.Node]:
        factory = self.arguments[0] if self.arguments else ""
        node = model_diagram("", factory=factory)
        self.set_source_info(node)
        try:
            with reported_as_bug():
                caption, legend = self._caption()
                options = self._options(factory, caption)
        except DiagramError as exc:
            return [self._failed(node, exc, retry=False)]
        state = build_state(self.env)
        # a figure with only :name: is captioned with the model's name, and a comparison
        # reads the graph: those wait now
        wait = (caption is None and options.name is not None) or bool(options.compare_to)
        pending: Pending | None = None
        result: Result | None = None
        try:
            with reported_as_bug():  # a bug of ours: one placeholder, not a lost site
                pending = state.start(options)
                if pending is not None and (pending.cached or wait):
                    result = finish(pending)
                elif wait:  # a -j reader: it traces this one itself
                    pending = state.pipeline.submit(options)
                    result = finish(pending)
                if result is not None and options.compare_to:
                    result, node["diff"] = self._against(state.pipeline, options, result)
        except DiagramError as exc:
            failed = self._failed(node, exc, retry=True)
            if caption is None and options.name is None:
                return [failed]
            # keep the figure, so its caption shows and references to it still resolve
            caption = caption or self._default_caption(options.alt or "")
            return [self._figure(failed, options, caption, legend)]
        node["options"] = options
        if result is None:
            # traced while the other pages are read; joined when this page is written
            ident = f"{self.env.docname}:{len(_records(self.env).get(self.env.docname, []))}"
            node["pending"] = ident
            if pending is not None:
                state.waiting[ident] = pending
            record(self.env, factory, self.lineno, None, traced=False, pending=(ident, options))
        else:
            for path in result.files:
                self.env.note_dependency(str(path))
            for note in result.notes:
                logger.info("model-diagram: %s", note, location=node)
            for problem in {p.message: p for p in result.warnings}.values():  # once each
                warn(problem, node)
            fill(node, result)
            traced = pending is not None and pending.traced
            record(self.env, factory, self.lineno, result.key, traced=traced)
        if caption is None:
            if options.name is None:
                return [node]
            caption = self._default_caption(node["fallback"])
        return [self._figure(node, options, caption, legend)]

    def _against(
        self, pipeline: Pipeline, options: DiagramOptions, result: Result
    ) -> tuple[Result, ArchitectureDiff]:
        """``compare-to``: a snapshot path is relative to this page (``/`` to the source dir)."""
        assert options.compare_to is not None
        path = None
        if is_snapshot(options.compare_to):
            page_dir = Path(self.env.doc2path(self.env.docname)).parent
            path = snapshot_path(options.compare_to, page_dir, Path(self.env.srcdir))
        return against(pipeline, options, result, path)

    def _default_caption(self, text: str = "") -> nodes.caption:
        """Sphinx numbers only captioned figures and prints the number in the caption,
        so a diagram with only ``:name:`` is captioned with its alt text."""
        caption = nodes.caption("", text or f"Diagram of {self.arguments[0]}")
        self.set_source_info(caption)
        return caption

    def _caption(self) -> tuple[nodes.caption | None, nodes.legend | None]:
        """Content is the caption (first paragraph) and legend (the rest), as for ``figure``;
        ``:caption:`` gives a one-line caption with inline markup."""
        if "caption" in self.options:
            if self.content:
                raise OptionError(
                    "give the caption either as the directive's content or with :caption:, not both"
                )
            text = self.options["caption"] or ""
            # problems in the markup are logged by the reporter as it creates them
            inline, _messages = self.state.inline_text(text, self.lineno)
            caption = nodes.caption(text, "", *inline)
            self.set_source_info(caption)
            return _plain(caption), None
        if not self.content:
            return None, None
        parsed = nodes.Element()
        self.state.nested_parse(self.content, self.content_offset, parsed)
        first = parsed[0]
        if not isinstance(first, nodes.paragraph):
            raise OptionError("the directive's content must start with the caption, a paragraph")
        caption = nodes.caption(first.rawsource, "", *first.children)
        caption.source, caption.line = first.source, first.line
        legend = nodes.legend("", *parsed[1:]) if len(parsed) > 1 else None
        return _plain(caption), legend

    def _options(self, factory: str, caption: nodes.caption | None) -> DiagramOptions:
        values: dict[str, Any] = {"factory": factory}
        for key, value in self.options.items():
            values[canonical_name(key)] = value
        if caption is not None:
            values["caption"] = caption.astext()
        return parse_options(values, strings=True, defaults=page_defaults(self.config))

    def _figure(
        self,
        node: model_diagram,
        options: DiagramOptions,
        caption: nodes.caption | None,
        legend: nodes.legend | None,
    ) -> nodes.figure:
        """A docutils figure, so numfig, ``:numref:``, ``:ref:`` and LaTeX floats just work."""
        figure = nodes.figure("", node, classes=["model-diagram", *options.css_class])
        self.set_source_info(figure)
        if options.align:
            figure["align"] = options.align
        if options.width:
            figure["width"] = options.width
        if caption is not None:
            figure += caption
        if legend is not None:
            figure += legend
        if options.name:
            figure["names"].append(nodes.fully_normalize_name(options.name))
            self.state.document.note_explicit_target(figure, figure)
        return figure

    def _failed(self, node: model_diagram, error: DiagramError, *, retry: bool) -> model_diagram:
        """Warn (or stop, with ``on_error = "raise"``) and leave a visible placeholder.

        ``retry``: a failure that may come from the model's code re-reads the page on
        the next build, so the warning never vanishes (from the cache when the failure
        is deterministic, by tracing again when it is not).
        """
        if self.config.model_diagram_on_error == "raise":
            raise ExtensionError(
                f"{self.get_location()}: {error_text(error, factory=node['factory'])}",
                modname="model_diagram",
            )
        warn(error, node)
        if retry:
            self.env.note_reread()
        node["error"] = error.to_dict()
        record(self.env, node["factory"], self.lineno, None, traced=False, error=error.kind)
        return node


def _plain(caption: nodes.caption) -> nodes.caption:
    """The caption without control characters (HTML and XML cannot hold them)."""
    for text in list(caption.findall(nodes.Text)):
        cleaned = plain_text(str(text))
        if cleaned != str(text):
            text.parent.replace(text, nodes.Text(cleaned))
    return caption


def _finished(
    state: BuildState, jobs: list[tuple[Pending | None, DiagramOptions]]
) -> list[Result | DiagramError]:
    """Every joined diagram, drawn side by side: Graphviz lays one out while the next
    trace is awaited, instead of all of them one after another at the end."""

    def one(job: tuple[Pending | None, DiagramOptions]) -> Result | DiagramError:
        pending, options = job
        try:
            return finish(pending or state.pipeline.submit(options))
        except DiagramError as exc:
            return exc

    if len(jobs) < 2:
        return [one(job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor  # a warm build joins nothing

    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1, 4)) as pool:
        return list(pool.map(one, jobs))


def finish(pending: Pending) -> Result:
    """Wait for a diagram; also fail now if the engine cannot write its file format."""
    with reported_as_bug():
        result = pending.result()
        options = pending.options
        if options.format != "svg":
            pending.pipeline.render_graph(options, result.stored, options.format, [])
    return result


def fill(node: model_diagram, result: Result) -> None:
    """Give a node its drawing: what the visitors and the search index read."""
    options: DiagramOptions = node["options"]
    model = result.stored.model or "Model"
    node["svg"] = result.svg
    node["graph"] = result.stored
    node["key"] = result.key
    node["explorer"] = result.explorer
    # the accessible name, as the SVG's title; other builders print the alt text
    node["alt"] = options.alt or options.caption or f"{model} architecture"
    node["fallback"] = options.alt or f"{model} architecture"
    # not rendered (visitors skip children), but Sphinx's search indexes the layers
    node += nodes.Text(result.stored.words)


def warn(error: DiagramError, location: nodes.Node | tuple[str, int], factory: str = "") -> None:
    """A typed, located warning: ``suppress_warnings = ["model_diagram.<kind>"]`` silences it.

    ``location``: the node, or (docname, line) for a diagram joined after reading.
    """
    if isinstance(location, nodes.Node):
        factory = location.get("factory", "")
    logger.warning(
        error_text(error, factory=factory, typed=False),
        type="model_diagram",
        subtype=error.kind,
        location=location,
    )
    if error.detail:
        logger.debug("model-diagram: details of the error above:\n%s", error.detail)


# -- per-build state on the environment (merged across -j readers)


def _records(env: BuildEnvironment) -> dict[str, list[dict[str, Any]]]:
    if not hasattr(env, "model_diagram_records"):
        env.model_diagram_records = {}  # type: ignore[attr-defined]
    return env.model_diagram_records  # type: ignore[attr-defined, no-any-return]


def record(
    env: BuildEnvironment,
    factory: str,
    line: int,
    key: str | None,
    *,
    traced: bool,
    error: str | None = None,
    pending: tuple[str, DiagramOptions] | None = None,
) -> None:
    """One diagram of the page being read; ``pending``: (id, options) of one to join."""
    entry: dict[str, Any] = {
        "factory": factory,
        "line": line,
        "key": key,
        "traced": traced,
        "error": error,
    }
    if pending is not None:
        entry["pending"] = pending
    _records(env).setdefault(env.docname, []).append(entry)


def purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _records(env).pop(docname, None)


def merge_info(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    mine, theirs = _records(env), _records(other)
    for docname in docnames:
        if docname in theirs:
            mine[docname] = theirs[docname]


def before_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """Submit the misses the pre-scan finds before any page is read: the worker's
    children trace them while Sphinx reads (and, with ``-j``, before the readers
    fork, so one warm parent serves the whole build)."""
    env.model_diagram_reading = set(docnames)  # type: ignore[attr-defined]
    #: diagrams traced by joins rather than while their page was read
    env.model_diagram_pretraced = 0  # type: ignore[attr-defined]
    state = build_state(env)
    if state.all_traced:
        return
    paths = (Path(env.doc2path(docname)) for docname in docnames)
    for options in scanned_misses(state.pipeline.cache, env.config, paths):
        state.pipeline.submit(options)


_Joining = tuple[str, dict[str, Any], str, "Pending | None", DiagramOptions]


def join(app: Sphinx, env: BuildEnvironment) -> None:
    """Submit every diagram left pending while reading (after ``-j`` readers merged),
    and wait only for those that must be known now.

    The others are joined as their page is written (:func:`resolve_pending`), so
    Sphinx writes pages while the worker still traces: the build costs what its
    slowest part costs. Their dependencies, notes and warnings still go to each
    diagram's page and line, and the environment Sphinx saved before writing is
    saved again at the end with their dependencies (:func:`end_build`). With
    ``on_error = "raise"`` every diagram is joined here, so a failure stops the
    build before anything is written.
    """
    state = build_state(env)
    joining: list[_Joining] = []
    for docname, entries in sorted(_records(env).items()):
        for entry in entries:
            if "pending" not in entry:
                continue
            ident, options = entry.pop("pending")
            pending = state.waiting.pop(ident, None)
            try:
                pending = pending or state.pipeline.submit(options)
            except DiagramError:
                pending = None
            joining.append((docname, entry, ident, pending, options))
    if app.config.model_diagram_on_error == "raise":
        _join(app, env, joining)
        return
    ready: list[_Joining] = []  # from the cache: nothing to wait for
    for item in joining:
        if item[3] is not None and item[3].cached:
            ready.append(item)
        else:
            state.late[item[2]] = item
    _join(app, env, ready)


def _join(app: Sphinx, env: BuildEnvironment, joining: list[_Joining]) -> None:
    """Wait for these diagrams (drawn side by side); record what each one became."""
    state = build_state(env)
    for (docname, entry, ident, pending, _), result in zip(
        joining, _finished(state, [(p, o) for _, _, _, p, o in joining]), strict=True
    ):
        location = (docname, entry["line"])
        if isinstance(result, DiagramError):
            exc = result
            if app.config.model_diagram_on_error == "raise":
                where = f"{env.doc2path(docname)}:{entry['line']}"
                raise ExtensionError(
                    f"{where}: {error_text(exc, factory=entry['factory'])}",
                    modname="model_diagram",
                ) from None
            warn(exc, location, entry["factory"])
            env.reread_always.add(docname)  # the warning must not vanish next time
            entry["error"] = exc.kind
            state.outcomes[ident] = exc
            continue
        for path in result.files:
            env.note_dependency(str(path), docname=docname)
        for note in result.notes:
            logger.info("model-diagram: %s", note, location=location)
        for problem in {p.message: p for p in result.warnings}.values():
            warn(problem, location, entry["factory"])
        entry["key"] = result.key
        traced = getattr(env, "model_diagram_pretraced", 0) + bool(pending and pending.traced)
        env.model_diagram_pretraced = traced  # type: ignore[attr-defined]
        state.outcomes[ident] = result


def _join_late(app: Sphinx, env: BuildEnvironment, idents: Iterable[str]) -> None:
    """Join diagrams left for writing time (a page's, or all that are left)."""
    state = build_state(env)
    items = [state.late.pop(ident) for ident in idents if ident in state.late]
    if items:
        state.joined_late = True
        _join(app, env, items)


def resolve_pending(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Give pending nodes their drawing (or placeholder) before any visitor sees them.

    A page read by an earlier build and written by this one has no outcome here:
    its diagram comes from the cache, as the directive would have drawn it.
    """
    state = build_state(app.env)
    nodes_here = list(doctree.findall(model_diagram))
    _join_late(app, app.env, [n["pending"] for n in nodes_here if "pending" in n])
    for node in nodes_here:
        ident = node.attributes.pop("pending", None)
        if ident is None:
            continue
        outcome = state.outcomes.get(ident)
        if outcome is None:
            try:
                outcome = finish(state.pipeline.submit(node["options"]))
            except DiagramError as exc:
                warn(exc, node)
                outcome = exc
        if isinstance(outcome, DiagramError):
            node["error"] = outcome.to_dict()
        else:
            fill(node, outcome)


def summarize(app: Sphinx, env: BuildEnvironment) -> None:
    """One status line per build: how many diagrams were read, traced and failed."""
    reading: set[str] = getattr(env, "model_diagram_reading", set())
    done = [r for d, rs in _records(env).items() if d in reading for r in rs]
    if done:
        traced = sum(r["traced"] for r in done) + getattr(env, "model_diagram_pretraced", 0)
        failed = sum(r["error"] is not None for r in done)
        logger.info(
            "model-diagram: %d diagram(s) on %d page(s): %d traced, %d from the cache, %d failed",
            len(done),
            len({d for d in reading if _records(env).get(d)}),
            traced,
            len(done) - traced - failed,
            failed,
        )
    hint = build_state(env).preload_hint()
    if hint is not None:
        logger.info(
            "model-diagram: each trace took %.1f s (median) and imported the same packages "
            "itself; model_diagram_preload = %r imports them once for the whole build",
            *hint,
        )


# -- the worker starts early when a page about to be read has an untraced diagram


def scanned_misses(cache: Cache, config: Config, paths: Iterable[Path]) -> Iterator[DiagramOptions]:
    """Options of the diagrams a cheap scan finds on these pages that were never traced
    (a shared store's entries for them are fetched in one batch first).

    No hashing, no import: directives the scan cannot read, and manifests made stale
    by an edit, are found by the directive.
    """
    defaults = page_defaults(config)
    colon_fence = "colon_fence" in getattr(config, "myst_enable_extensions", ())
    found: list[DiagramOptions] = []
    for path in paths:
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "model-diagram" not in text:
            continue
        syntax: Syntax = "myst" if config.source_suffix.get(path.suffix) == "markdown" else "rst"
        for scanned in diagrams(text, syntax, defaults, colon_fence=colon_fence):
            found.extend(traced_versions(scanned))
    yield from never_traced(found, cache)


# -- output


def _store(folder: Path, data: bytes, ext: str) -> str:
    """Write ``data`` under a content-hash name (atomic, so parallel writers are safe)."""
    name = f"model-diagram-{hashlib.sha256(data).hexdigest()[:20]}.{ext}"
    path = folder / name
    if not (path.is_file() and path.stat().st_size == len(data)):
        atomic_write(path, data)
        path.chmod(0o644)  # a published file: the web server's user must read it
    return name


def _render(env: BuildEnvironment, node: model_diagram, fmt: str) -> bytes:
    """Another format of a diagram read earlier, from its stored graph (no worker, no trace)."""
    if "diff" in node:
        from . import diffdraw  # only a compare-to diagram needs it

        return diffdraw.draw(node["diff"], node["options"], fmt)
    warnings: list[DiagramError] = []
    pipeline = build_state(env).pipeline
    data, _, _ = pipeline.render_graph(node["options"], node["graph"], fmt, warnings)
    for problem in warnings:  # the cache warning was given when the page was read
        logger.debug("model-diagram: %s", problem.message)
    return data


def visit_html(self: HTML5Translator, node: model_diagram) -> None:
    if "error" in node:
        error = DiagramError.from_dict(node["error"])
        self.body.append(error_html(error, node["factory"]))
        raise nodes.SkipNode
    options: DiagramOptions = node["options"]
    try:
        if self.config.model_diagram_embed == "img":
            inner = _html_img(self, node, options)
        else:
            svg = _embeddable(self.builder.env, node)
            seen: dict[str, int] = self.__dict__.setdefault("_model_diagram_seen", {})
            occurrence = seen.get(node["key"], 0)
            seen[node["key"]] = occurrence + 1
            resolve = _class_urls(self) if options.link_classes else None
            inner = unique_ids(resolve_class_links(svg, resolve), occurrence)
            inner += _explorer(self, node, resolve)
    except DiagramError as exc:
        warn(exc, node)
        self.body.append(error_html(exc, node["factory"]))
        raise nodes.SkipNode from None
    table = layer_table_html(node["graph"].load()) if options.table else ""
    # an e-book cannot offer a file to download (and EPUB lists only its media types)
    if options.format in EDITABLE_FORMATS.values() and not self.builder.name.startswith("epub"):
        data = _render(self.builder.env, node, options.format)
        name = _store(
            Path(self.builder.outdir) / self.builder.imagedir, data, SUFFIXES[options.format][1:]
        )
        href = f"{self.builder.imgpath}/{name}" if self.builder.imgpath else name
        table += download_html(href, options.format)
    if isinstance(node.parent, nodes.figure):
        self.body.append(f'<div class="model-diagram-canvas">{inner}</div>{table}')
    else:
        self.body.append(
            figure_html(
                inner,
                align=options.align,
                width=options.width,
                classes=options.css_class,
                table=table,
            )
        )
    raise nodes.SkipNode


def _embeddable(env: BuildEnvironment, node: model_diagram) -> str:
    """The node's SVG sanitised where it is embedded (the cache is untrusted); a cached
    drawing the sanitiser refuses is drawn again (a comparison's is drawn fresh)."""
    if "diff" in node:
        return sanitize_svg(node["svg"])
    return build_state(env).pipeline.embeddable(node["options"], node["svg"], node["graph"])


def _explorer(
    self: HTML5Translator, node: model_diagram, resolve: Callable[[str], str | None] | None
) -> str:
    """The explorer's manifest; its views go to ``_images`` as sidecar scripts."""
    views: Views | None = node.get("explorer")
    if not views or not views.views:
        return ""
    folder = Path(self.builder.outdir) / self.builder.imagedir

    def store(key: str, data: bytes) -> str:
        name = _store(folder, data, "js")
        return f"{self.builder.imgpath}/{name}" if self.builder.imgpath else name

    parent = node.parent
    ids = parent["ids"] if isinstance(parent, nodes.figure) else []
    figure_id = ids[0] if ids else f"model-diagram-{node['key'][:10]}"
    from .explorer import manifest  # only a diagram with views needs it

    return manifest(views, figure_id=figure_id, resolve=resolve, store=store)


def _class_urls(self: HTML5Translator) -> Callable[[str], str | None]:
    """Module class path -> its API page in this site (a Python domain ``class``), or None."""
    builder = self.builder
    objects = builder.env.get_domain("py").objects  # type: ignore[attr-defined]
    here = builder.current_docname

    def resolve(path: str) -> str | None:
        entry = objects.get(path)
        if entry is None or entry.objtype not in {"class", "exception"}:
            return None
        page = builder.get_relative_uri(here, entry.docname).split("#", 1)[0]  # singlehtml
        return f"{page}#{entry.node_id}"

    return resolve


def _html_img(self: HTML5Translator, node: model_diagram, options: DiagramOptions) -> str:
    if options.format == "png":
        data, ext = _render(self.builder.env, node, "png"), "png"
    else:
        # an <img> cannot follow links: drop the class placeholders
        svg = _embeddable(self.builder.env, node)
        data, ext = standalone_svg(resolve_class_links(svg)).encode(), "svg"
    name = _store(Path(self.builder.outdir) / self.builder.imagedir, data, ext)
    src = f"{self.builder.imgpath}/{name}" if self.builder.imgpath else name
    return f'<img src="{escape(src)}" alt="{escape(node["alt"])}" class="model-diagram-img">'


def visit_latex(self: LaTeXTranslator, node: model_diagram) -> None:
    options: DiagramOptions = node["options"]
    try:
        # vector PDF (embedded fonts) from every style and engine, unless PNG is asked for
        ext = "png" if options.format == "png" else "pdf"
        data = _render(self.builder.env, node, ext)
    except DiagramError as exc:
        warn(exc, node)
        self.body.append(
            f"\n\n{self.encode(error_text(exc, factory=node['factory'], typed=False))}\n\n"
        )
        raise nodes.SkipNode from None
    name = _store(Path(self.builder.outdir), data, ext)
    length = self.latex_image_length(options.width) if options.width else None
    include = rf"\sphinxincludegraphics{f'[width={length}]' if length else ''}{{{name}}}"
    if isinstance(node.parent, nodes.figure):
        self.body.append(f"\n{include}\n")
    elif options.align == "left":
        self.body.append(f"\n\n\\noindent{include}\\hspace*{{\\fill}}\n\n")
    elif options.align == "right":
        self.body.append(f"\n\n\\noindent\\hspace*{{\\fill}}{include}\n\n")
    else:
        self.body.append(f"\n\n\\begin{{center}}\n{include}\n\\end{{center}}\n\n")
    raise nodes.SkipNode


def depart_noop(self: Any, node: model_diagram) -> None:
    """Visitors raise SkipNode; docutils still wants a departure function."""


def plain_fallback(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Placeholders outside HTML, and plain text for builders that are neither HTML nor
    LaTeX (text, man, texinfo, ...): never an unknown-node crash."""
    if app.builder.format == "html":
        return
    for node in list(doctree.findall(model_diagram)):
        if "error" not in node and app.builder.format == "latex":
            continue
        if "error" in node:
            error = DiagramError.from_dict(node["error"])
            replacement: list[nodes.Node] = [
                nodes.paragraph(
                    "", f"model-diagram: no diagram for {node['factory']} ({error.kind} error)"
                ),
                nodes.literal_block(error.message, error.message),
            ]
        else:
            replacement = [nodes.paragraph("", node["fallback"])]
        node.replace_self(replacement)


def add_assets(app: Sphinx) -> None:
    """Ship the stylesheet and the pan/zoom viewer with the site (no CDN)."""
    if app.builder.format != "html":
        return
    static = Path(app.builder.outdir) / "_static"
    for name, text in ((CSS_NAME, stylesheet()), (JS_NAME, asset_text(JS_NAME))):
        path = static / name
        if not (path.is_file() and path.read_text("utf-8") == text):
            static.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    app.add_css_file(CSS_NAME)
    app.add_js_file(JS_NAME, loading_method="defer")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value(f"{PREFIX}defaults", {}, "env", types=frozenset({dict}))
    app.add_config_value(f"{PREFIX}cache_dir", None, "", types=frozenset({str, Path, type(None)}))
    app.add_config_value(f"{PREFIX}cache_storage_options", {}, "", types=frozenset({dict}))
    app.add_config_value(f"{PREFIX}cache_mode", None, "", types=frozenset({str, type(None)}))
    app.add_config_value(f"{PREFIX}engine", None, "env", types=frozenset({str, type(None)}))
    app.add_config_value(f"{PREFIX}embed", "inline", "html", types=frozenset({str}))
    app.add_config_value(f"{PREFIX}timeout", None, "env", types=frozenset({int, float, type(None)}))
    app.add_config_value(f"{PREFIX}on_error", "warn", "", types=frozenset({str}))
    app.add_config_value(f"{PREFIX}jobs", None, "", types=frozenset({int, type(None)}))
    app.add_config_value(f"{PREFIX}preload", [], "", types=frozenset({list, tuple, str}))
    app.add_node(
        model_diagram,
        html=(visit_html, depart_noop),
        latex=(visit_latex, depart_noop),
    )
    app.add_directive("model-diagram", ModelDiagram)
    app.connect("config-inited", check_config)
    app.connect("config-inited", start_early, priority=900)  # after source_suffix is a dict
    app.connect("builder-inited", new_build)
    app.connect("builder-inited", add_assets)
    app.connect("env-before-read-docs", before_read)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("env-updated", join, priority=400)
    app.connect("doctree-resolved", resolve_pending, priority=200)
    app.connect("doctree-resolved", plain_fallback)
    app.connect("build-finished", end_build)
    return {
        "version": __version__,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


__all__ = ["ModelDiagram", "model_diagram", "setup"]
