"""MkDocs front end: ```` ```model-diagram ```` fenced blocks whose body is YAML options.

A thin layer over :class:`model_diagram.pipeline.Pipeline`: the plugin parses
blocks, submits them to the pipeline and embeds the SVGs with
:func:`model_diagram.html.figure_html`. It never imports torch or the user's
package; tracing happens in the worker process.

MkDocs events used, in build order:

- ``on_startup``: its presence keeps this plugin instance across ``mkdocs
  serve`` rebuilds, so the pipeline and its warm worker are reused.
- ``on_config``: resolves ``cache_dir``/``paths`` against ``mkdocs.yml``,
  puts ``paths`` on ``sys.path``, registers the fence (a SuperFences custom
  fence when ``pymdownx.superfences`` is configured, else a Markdown
  preprocessor) and links the assets through ``extra_css``/``extra_javascript``.
- ``on_files``: adds the packaged stylesheet and viewer script to the site;
  submits every block on the site that was never traced, so the worker's
  children trace while MkDocs reads and renders the pages.
- ``on_page_markdown``: remembers the page and where its blocks start in the
  source file, so warnings name ``page:line``.
- ``on_page_content``: renders the blocks Markdown left as slots (so a block
  SuperFences gives back as indented code never runs), registers figure names
  as anchors for MkDocs' link validation; ``on_error: raise`` raises here. A
  cached block is drawn at once; a miss is submitted and leaves markers.
- ``on_post_page``: joins the page's blocks still being traced, puts each SVG
  into its figure (the page content holds a marker until then, so the search
  index never parses diagram internals), logs the page's warnings in line
  order, and points ``link-classes`` placeholders at the pages whose anchors
  document those classes (mkdocstrings ids), or drops them.
- ``on_post_build`` / ``on_build_error``: restores ``sys.path``, logs a
  summary and, under ``mkdocs serve``, watches model files found this build.
- ``on_serve``: watches every project source file the diagrams depended on.
- ``on_shutdown``: stops the worker (a build stops it at ``on_post_build``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.base import BaseConfigOption, ValidationError
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from .cache import atomic_write
from .classlinks import CLASS_LINK, resolve_class_links
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
    fold_shorthands,
    parse_options,
    preload_modules,
    validate_defaults,
)
from .pipeline import DEFAULT_CACHE_DIR, Pending, Pipeline, Result, Views, never_traced
from .remote import MODES, is_url
from .rendering import find_engine
from .sanitize import sanitize_svg
from .scan import Syntax, body_key, markdown_fences, read_block, scan

log = logging.getLogger("mkdocs.plugins.model_diagram")

FENCE_NAME = "model-diagram"
CSS_URI = f"assets/model-diagram/{CSS_NAME}"
JS_URI = f"assets/model-diagram/{JS_NAME}"
SUPERFENCES = "pymdownx.superfences"
_SLOT = re.compile(
    r'(?:<p>)?<div class="model-diagram-slot" data-slot="(?P<slot>[0-9a-f]+-\d+)"></div>(?:</p>)?'
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

# -- configuration


class _Defaults(BaseConfigOption[dict[str, Any]]):
    """``defaults``: schema options applied under every block, checked at config time."""

    def __init__(self) -> None:
        super().__init__()
        self.default: dict[str, Any] = {}

    def run_validation(self, value: object) -> dict[str, Any]:
        if value is None:
            return {}
        try:
            defaults = validate_defaults(value)
        except DiagramError as exc:  # an option error, or a malformed tensor spec
            raise ValidationError(exc.message) from None
        if "factory" in defaults:
            raise ValidationError("'factory' names one model; give it in each block")
        return defaults

    def post_validation(self, config: base.Config, key_name: str) -> None:
        """Fold the deprecated plugin keys ``engine``/``timeout`` into the defaults."""
        try:
            config[key_name], notices = fold_shorthands(
                config[key_name],
                {key: config[key] for key in SHORTHANDS},
                spelled=lambda key: f"plugin key '{key}'",
                defaults_name=f"'{key_name}'",
            )
        except DiagramError as exc:
            raise ValidationError(exc.message) from None
        self.warnings.extend(notices)  # MkDocs logs them; --strict aborts on them


class _SchemaValue(BaseConfigOption[Any]):
    """A plugin option that is also a diagram option: validated by the option schema."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spec = OPTIONS[name]

    def run_validation(self, value: object) -> Any:
        try:
            value = self.spec.from_value(value)
            if self.spec.name == "engine":
                find_engine(value)
        except DiagramError as exc:
            # MkDocs already says "option 'engine': "
            message = exc.message.removeprefix(f"option '{self.spec.name}': ")
            raise ValidationError(message) from None
        return value


class ModelDiagramConfig(base.Config):  # type: ignore[no-untyped-call]
    """The ``plugins: - model-diagram:`` keys. Paths are relative to ``mkdocs.yml``."""

    defaults = _Defaults()
    #: a directory (relative to mkdocs.yml) or the URL of a shared store (s3://, gs://, ...)
    cache_dir = c.Type(str, default=DEFAULT_CACHE_DIR)
    cache_storage_options = c.Type(dict, default={})
    cache_mode: c.Optional[str] = c.Optional(c.Choice(MODES))
    engine: c.Optional[str] = c.Optional(_SchemaValue("engine"))
    timeout: c.Optional[float] = c.Optional(_SchemaValue("timeout"))
    on_error = c.Choice(("warn", "raise"), default="warn")
    paths = c.ListOfItems(c.Dir(exists=True), default=["."])
    #: processes tracing at once; automatic (cores and memory) when not given
    jobs: c.Optional[int] = c.Optional(c.Type(int))
    #: modules the worker imports once for every block (third-party dependencies)
    preload = c.ListOfItems(c.Type(str), default=[])


# -- per-page state


@dataclass
class _PageState:
    """Where the blocks of one page are, and the blocks Markdown found, by slot id."""

    src_uri: str
    #: the page's URL (links to files written beside the site are relative to it)
    url: str = ""
    lines: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    #: slot id -> the block's body
    slots: dict[str, str] = field(default_factory=dict)
    occurrences: Counter[str] = field(default_factory=Counter)
    names: set[str] = field(default_factory=set)
    #: (line, order, level, text): logged in line order once the page's blocks are joined
    messages: list[tuple[int, int, int, str]] = field(default_factory=list)

    def tell(self, line: int | None, level: int, text: str) -> None:
        self.messages.append((line or 0, len(self.messages), level, text))

    def flush(self) -> None:
        for _, _, level, text in sorted(self.messages):
            log.log(level, text)
        self.messages.clear()

    def line_of(self, body: str) -> int | None:
        """The 1-based line of the next not yet rendered block with this body."""
        key = body_key(body.splitlines())
        for index, (candidate, line) in enumerate(self.lines):
            if candidate == key:
                del self.lines[index]
                return line
        return None


class _FencePreprocessor(Preprocessor):  # type: ignore[misc]  # Markdown has no stubs
    """Plain Markdown: replace top-level blocks before ``fenced_code`` sees them."""

    def __init__(self, md: Markdown, plugin: ModelDiagramPlugin) -> None:
        super().__init__(md)
        self.plugin = plugin

    def run(self, lines: list[str]) -> list[str]:
        fences = [f for f in markdown_fences(lines, nested=False) if f.lang == FENCE_NAME]
        for fence in reversed(fences):
            slot = self.plugin.slot("\n".join(fence.body))
            lines[fence.start : fence.end + 1] = ["", self.md.htmlStash.store(slot), ""]
        return lines


class _FenceExtension(Extension):  # type: ignore[misc]
    def __init__(self, plugin: ModelDiagramPlugin) -> None:
        super().__init__()
        self.plugin = plugin

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 -- Python-Markdown's name
        # after normalize_whitespace (30), before fenced_code_block (25)
        md.preprocessors.register(_FencePreprocessor(md, self.plugin), "model_diagram", 28)


# -- the plugin


class ModelDiagramPlugin(BasePlugin[ModelDiagramConfig]):  # type: ignore[no-untyped-call]
    """Draw PyTorch models from ```` ```model-diagram ```` blocks."""

    def __init__(self) -> None:
        self.pipeline: Pipeline | None = None
        self.defaults: dict[str, Any] = {}
        self.diagrams = 0
        self.failures = 0
        #: diagrams drawn from a fresh trace (a trace whose render then failed is a failure)
        self.traced = 0
        #: project source files the site's diagrams depend on (watched under ``mkdocs serve``)
        self.watched: set[Path] = set()
        #: the content each watched file had when this build read it (serve compares it)
        self._used: dict[Path, str] = {}
        self._nudger: _Nudger | None = None
        self._builds = 0
        self._server: Any = None
        self._serving: set[Path] = set()
        self._added_paths: list[str] = []
        self._page: _PageState | None = None
        self._site_dir = Path("site")
        self._seconds = 0.0
        #: per build: a page cannot forge a slot or marker that takes another's drawing
        self._nonce = secrets.token_hex(16)
        self._files: Files | None = None
        #: what the pipeline was made for: a changed cache or worker setting makes a new one
        self._cache: tuple[Any, ...] | None = None
        self._class_urls: dict[str, Page] | None = None
        #: SVGs waiting for on_post_page, by marker number
        self._svgs: dict[int, str] = {}
        #: the explorer's views of a figure (and its id), by the number of its SVG marker
        self._views: dict[int, tuple[Views, str]] = {}
        self._post_page: Page | None = None
        #: diagrams still being traced, by marker number: joined in on_post_page
        self._later: dict[int, _Later] = {}
        #: pages whose messages wait for on_post_page, by source URI
        self._pages: dict[str, _PageState] = {}
        #: the options of the blocks the pre-scan parsed, by body (per build)
        self._scanned: dict[str, DiagramOptions] = {}
        #: the blocks the pre-scan found, by page: (the text it read, each block's line)
        self._lines: dict[str, tuple[str, list[tuple[tuple[str, ...], int]]]] = {}
        self._markers = 0
        self._marker = _markers(self._nonce)
        #: under ``mkdocs serve`` the worker stays warm between rebuilds
        self._serving_site = False
        self._docs_dir = Path()
        #: how the pages' blocks are found: top-level fences only, or SuperFences' nesting
        self._syntax: Syntax = "markdown"

    # -- events

    def on_startup(self, *, command: Literal["build", "gh-deploy", "serve"], dirty: bool) -> None:
        """Present so MkDocs keeps this instance (and its warm worker) across serve rebuilds."""
        self._serving_site = command == "serve"

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self._builds += 1
        settings = self.config
        if settings.jobs is not None and settings.jobs < 1:
            raise PluginError(f"model-diagram: jobs: {settings.jobs} is not 1 or more")
        self.defaults = settings.defaults
        here = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        # a URL is a shared store; the site's own directory keeps a read-through copy
        local = here / (DEFAULT_CACHE_DIR if is_url(settings.cache_dir) else settings.cache_dir)
        store = settings.cache_dir if is_url(settings.cache_dir) else str(local.resolve())
        self._add_paths(settings.paths)  # first: a preloaded package may live there
        try:
            preload = preload_modules(settings.preload)
        except OptionError as exc:
            raise PluginError(f"model-diagram: preload: {exc.message}") from None
        options = repr(sorted(settings.cache_storage_options.items()))
        cache = (store, settings.cache_mode, options, settings.jobs, preload)
        if self.pipeline is None or self._cache != cache:
            if self.pipeline is not None:
                self.pipeline.close()
            self.pipeline = Pipeline(
                store,
                jobs=settings.jobs,
                preload=preload,
                storage_options=settings.cache_storage_options,
                mode=settings.cache_mode,
                local_dir=local,
            )
            self._cache = cache
        self.pipeline.new_build()
        self._site_dir = Path(config.site_dir)
        self._docs_dir = Path(config.docs_dir)
        self._nonce = secrets.token_hex(16)  # per build: markers cannot be forged
        self._marker = _markers(self._nonce)
        self.diagrams = self.failures = self.traced = 0
        self._class_urls = None
        self._svgs = {}
        self._views = {}
        self._later = {}
        self._pages = {}
        self._scanned = {}
        self._lines = {}
        self._seconds = 0.0

        if any(_extension_name(ext) == SUPERFENCES for ext in config.markdown_extensions):
            superfences = config.mdx_configs.setdefault(SUPERFENCES, {}) or {}
            config.mdx_configs[SUPERFENCES] = superfences
            fences = [
                f for f in superfences.get("custom_fences") or [] if f.get("name") != FENCE_NAME
            ]
            fences.append({"name": FENCE_NAME, "class": FENCE_NAME, "format": self._superfence})
            superfences["custom_fences"] = fences
            self._syntax = "superfences"
        else:
            config.markdown_extensions.append(_FenceExtension(self))
            self._syntax = "markdown"
        if CSS_URI not in config.extra_css:
            config.extra_css.append(CSS_URI)
        if JS_URI not in [str(script) for script in config.extra_javascript]:
            config.extra_javascript.append(JS_URI)
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        for uri, content in ((CSS_URI, stylesheet()), (JS_URI, asset_text(JS_NAME))):
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, content=content))
        self._files = files
        self._submit_uncached(files)
        return files

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        state = _PageState(page.file.src_uri, page.url)
        if FENCE_NAME in markdown:
            try:
                source = page.file.content_string
            except (OSError, ValueError):
                source = markdown
            scanned, lines = self._lines.pop(page.file.src_uri, ("", []))
            if scanned != source:  # not pre-scanned, or edited since
                nested = self._syntax == "superfences"
                fences = markdown_fences(source.splitlines(), nested=nested)
                lines = [(body_key(f.body), f.start + 1) for f in fences if f.lang == FENCE_NAME]
            state.lines = lines
        self._page = state
        self._pages[page.file.src_uri] = state
        return markdown

    @event_priority(50)  # before other plugins read the content: they see the figures
    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        state, self._page = self._page, None
        if state is None or not state.slots:
            return html

        # a block in an HTML comment is switched off (SuperFences formats it all the same)
        comments = [m.span() for m in _COMMENT.finditer(html)]

        def render(match: re.Match[str]) -> str:
            source = state.slots.get(match["slot"])
            if source is None:
                return match[0]
            if any(start <= match.start() < end for start, end in comments):
                return ""
            # lines are matched here, in page order, to the blocks that are drawn: a
            # block SuperFences formats and then shows as code must not take one
            return self.render_block(source, state.line_of(source), state)

        html = _SLOT.sub(render, html)
        anchors = getattr(page, "present_anchor_ids", None)  # MkDocs >= 1.6 validates anchors
        if anchors is not None:
            anchors.update(state.names)
        return html

    @event_priority(100)  # first, so later post-processors see the whole figure
    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        """Insert the SVGs, then point ``link-classes`` placeholders at class pages.

        Runs once every page is rendered, so an anchor such as mkdocstrings'
        ``id="example_project.models.SmallCNN"`` on any page can be found.
        """
        self._post_page = page
        if "<!--model-diagram-" in output:  # a page without a figure is not scanned again
            output = self._marker.sub(self._insert, output)
        self._post_page = None
        state = self._pages.pop(page.file.src_uri, None)
        if state is not None:
            state.flush()
        if CLASS_LINK not in output:
            return output
        return resolve_class_links(output, self._resolver(page))

    def _resolver(self, page: Page) -> Callable[[str], str | None]:
        """Class path -> its API page relative to ``page`` (mkdocstrings anchors), or None."""
        if self._class_urls is None:
            self._class_urls = {}
            for file in self._files.documentation_pages() if self._files else ():
                if file.page is None:
                    continue
                for anchor in getattr(file.page, "present_anchor_ids", None) or ():
                    self._class_urls.setdefault(anchor, file.page)

        def resolve(cls: str) -> str | None:
            target = self._class_urls.get(cls) if self._class_urls else None
            if target is None:
                return None
            return f"{get_relative_url(target.url, page.url)}#{cls}"

        return resolve

    def _svg_of(self, number: int) -> str:
        """A figure's SVG, with its explorer manifest; the views go beside the page."""
        svg = self._svgs.pop(number, "")
        found = self._views.pop(number, None)
        page = self._post_page
        if found is None or page is None or not svg:
            return svg
        views, figure_id = found
        folder = Path(page.file.abs_dest_path).parent

        def store(key: str, data: bytes) -> str:
            name = f"model-diagram-{key}.js"
            path = folder / name
            if not (path.is_file() and path.read_bytes() == data):
                atomic_write(path, data)
                path.chmod(0o644)  # a published file: the web server's user must read it
            return name

        links = self._resolver(page) if CLASS_LINK in svg else None
        from .explorer import manifest  # only a diagram with views needs it

        return svg + manifest(views, figure_id=figure_id, resolve=links, store=store)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        for state in self._pages.values():  # pages no template rendered
            state.flush()
        self._pages = {}
        self._remove_paths()
        traced = self.traced
        if self.diagrams:
            (log.info if traced else log.debug)(
                "model-diagram: %d diagram(s), %d traced, %d from cache, %d failed (%.1f s)",
                self.diagrams,
                traced,
                self.diagrams - traced - self.failures,
                self.failures,
                self._seconds,
            )
        hint = self.pipeline.preload_hint() if self.pipeline is not None else None
        if hint is not None:
            log.info(
                "model-diagram: each trace took %.1f s (median) and imported the same "
                "packages itself; 'preload: [%s]' imports them once for the whole build",
                hint[0],
                ", ".join(hint[1]),
            )
        self._watch_new_files()
        self._stop_worker()

    def on_build_error(self, *, error: Exception) -> None:
        self._remove_paths()
        self._page = None
        self._stop_worker()

    def _stop_worker(self) -> None:
        """A build's worker ends with it; ``mkdocs serve`` keeps it for the next rebuild."""
        if self.pipeline is not None and not self._serving_site:
            self.pipeline.close()

    def on_serve(self, server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
        self._server = server
        self._watch_new_files()
        if self._nudger is None:
            self._nudger = _Nudger(self._used, lambda: self._builds)
            server.watch(str(self._nudger.folder))
            self._nudger.start()
        return server

    def on_shutdown(self) -> None:
        if self._nudger is not None:
            self._nudger.stop()
        if self.pipeline is not None:
            self.pipeline.close()

    # -- rendering

    def slot(self, source: str) -> str:
        """Stand-in HTML for a block found by Markdown; ``on_page_content`` renders it.

        Rendering late means a block that SuperFences first takes for a fence and
        then gives back as indented code never runs, and errors can raise.
        """
        if self._page is None:  # Markdown rendered outside a page: nothing will fill a slot
            self._page = _PageState("(outside a page)")
        slot = f"{self._nonce}-{len(self._page.slots)}"
        self._page.slots[slot] = source
        return f'<div class="model-diagram-slot" data-slot="{slot}"></div>'

    def render_block(self, source: str, line: int | None, state: _PageState) -> str:
        """One block body (YAML) -> figure HTML, or a placeholder after a located warning."""
        where = f"{state.src_uri}:{line}" if line else state.src_uri
        self.diagrams += 1
        started = time.perf_counter()
        factory = ""
        options: DiagramOptions | None = None
        try:
            with reported_as_bug():  # a bug of ours: still one placeholder, not a lost page
                options = self._scanned.get(source)
                if options is None:
                    values = read_block(source, line)
                    found = values.get("factory")
                    factory = found if isinstance(found, str) else ""  # str() of a bomb never ends
                    options = parse_options(values, defaults=self.defaults)
                factory = options.factory
                self._check_name(options, where, state, line)
                assert self.pipeline is not None
                pending = self.pipeline.submit(options)
                # traced while MkDocs renders the other pages; ``raise`` stops at the
                # first, and a comparison reads the graph now
                later = self.config.on_error != "raise" and not options.compare_to
                if not pending.cached and later:
                    return self._later_figure(_Later(pending, where, factory, state, line))
                result = pending.result()
                self.traced += pending.traced
                if options.compare_to:
                    result = self._against(options, result, state)
                figure = self._figure(result, options, state)
        except DiagramError as exc:
            return self._failed(exc, where, factory, state, line, options=options)
        finally:
            self._seconds += time.perf_counter() - started
        self._report(result, where, state, line)
        return figure

    def _later_figure(self, later: _Later) -> str:
        """The figure of a diagram being traced: markers for its SVG and what goes under
        it, inside markers for the whole figure (a failed trace replaces it)."""
        options = later.pending.options
        self._markers += 1
        number = self._markers
        self._later[number] = later
        mark = self._marker_text
        figure = _figure_of(options, mark("svg", number), mark("table", number))
        return mark("figure", number) + figure + mark("end", number)

    def _insert(self, match: re.Match[str]) -> str:
        """One marker of ``on_post_page``: an SVG, or a figure whose trace is joined now."""
        if match["kind"] is not None:  # the SVG of a figure drawn from the cache
            return self._svg_of(int(match["number"])) if match["kind"] == "svg" else ""
        number = int(match["fnumber"])
        later = self._later.pop(number, None)
        if later is None:
            return ""
        started = time.perf_counter()
        try:
            with reported_as_bug():
                result = later.pending.result()
                options = later.pending.options
                self._figure(result, options, later.state, number)
                extra = self._extra(result, options, later.state)
        except DiagramError as exc:
            options = later.pending.options
            return self._failed(
                exc, later.where, later.factory, later.state, later.line, options=options
            )
        finally:
            self._seconds += time.perf_counter() - started
        self._report(result, later.where, later.state, later.line)
        self.traced += later.pending.traced
        return self._marker.sub(
            lambda m: self._svg_of(number) if m["kind"] == "svg" else extra, match["body"]
        )

    def _report(self, result: Result, where: str, state: _PageState, line: int | None) -> None:
        """A drawn diagram's warnings (each once) and notes; its files, to watch."""
        for problem in {p.message: p for p in result.warnings}.values():
            state.tell(line, logging.WARNING, error_text(problem, where=where))
        for note in result.notes:
            state.tell(line, logging.INFO, f"model-diagram: {where}: {note}")
        self.watched.update(result.files)
        self._used.update(zip(result.files, result.digests, strict=False))

    def _against(self, options: DiagramOptions, result: Result, state: _PageState) -> Result:
        """``compare-to``: a snapshot path is relative to the page (``/`` to ``docs_dir``)."""
        assert options.compare_to is not None and self.pipeline is not None
        path = None
        if is_snapshot(options.compare_to):
            root = self._docs_dir
            page_dir = (root / state.src_uri).parent
            path = snapshot_path(options.compare_to, page_dir, root)
        return against(self.pipeline, options, result, path)[0]

    def _check_name(
        self, options: DiagramOptions, where: str, state: _PageState, line: int | None
    ) -> None:
        if options.name:
            if options.name in state.names:
                state.tell(
                    line,
                    logging.WARNING,
                    error_text(
                        OptionError(
                            f"name {options.name!r} is used by another diagram on this page; "
                            "figure ids must be unique"
                        ),
                        where=where,
                    ),
                )
            state.names.add(options.name)

    def _figure(
        self,
        result: Result,
        options: DiagramOptions,
        state: _PageState,
        number: int | None = None,
    ) -> str:
        """The figure HTML, its SVG left for ``on_post_page`` (under ``number`` if given);
        raises :class:`DiagramError` for a drawing the sanitiser refuses even when redrawn."""
        assert self.pipeline is not None
        if options.compare_to:  # a comparison is drawn fresh, never from the cache
            svg = sanitize_svg(result.svg)
        else:  # the cache is untrusted: sanitised where embedded, redrawn if refused
            svg = self.pipeline.embeddable(options, result.svg, result.stored)
        occurrence = state.occurrences[result.key]
        state.occurrences[result.key] += 1
        if not options.link_classes:
            svg = resolve_class_links(svg)  # drop the placeholders now; else on_post_page
        if number is None:
            self._markers += 1
            number = self._markers
        self._svgs[number] = unique_ids(svg, occurrence)
        if result.explorer.views:
            self._views[number] = (
                result.explorer,
                options.name or f"model-diagram-{result.key[:10]}",
            )
        return _figure_of(
            options, self._marker_text("svg", number), self._extra(result, options, state)
        )

    def _extra(self, result: Result, options: DiagramOptions, state: _PageState) -> str:
        """What goes under the drawing: the layer table, the editable drawing's link."""
        extra = layer_table_html(result.graph) if options.table else ""
        if options.format in EDITABLE_FORMATS.values():
            extra += self._editable(result, options, state)
        return extra

    def _editable(self, result: Result, options: DiagramOptions, state: _PageState) -> str:
        """Write the editable drawing (``format``) beside the site; a link to it."""
        assert self.pipeline is not None
        data, _, _ = self.pipeline.render_graph(options, result.stored, options.format, [])
        name = f"{hashlib.sha256(data).hexdigest()[:20]}{SUFFIXES[options.format]}"
        uri = f"assets/model-diagram/{name}"
        atomic_write(self._site_dir / uri, data)
        return download_html(get_relative_url(uri, state.url), options.format)

    def _failed(
        self,
        error: DiagramError,
        where: str,
        factory: str,
        state: _PageState | None = None,
        line: int | None = None,
        *,
        options: DiagramOptions | None = None,
    ) -> str:
        """Warn (or stop, with ``on_error: raise``) and leave a visible placeholder; a
        block with a name or caption keeps its figure, so links to it still land."""
        self.failures += 1
        message = error_text(error, where=where)
        if self.config.on_error == "raise":
            raise PluginError(message)
        if state is None:
            log.warning(message)
        else:
            state.tell(line, logging.WARNING, message)
        placeholder = error_html(error, factory)
        if options is None or not (options.name or options.caption):
            return placeholder
        return _figure_of(options, placeholder)

    def _superfence(
        self,
        source: str,
        language: str,
        class_name: str,
        options: Any,
        md: Markdown,
        **kwargs: Any,
    ) -> str:
        """SuperFences formatter (SuperFences shows a block as code if its formatter raises)."""
        return self.slot(source)

    # -- helpers

    def _marker_text(self, kind: str, number: int) -> str:
        return f"<!--model-diagram-{kind}:{self._nonce}:{number}-->"

    def _submit_uncached(self, files: Files) -> None:
        """Submit the blocks on the site that were never traced (a cheap scan, no hashing):
        the worker's children trace them while MkDocs reads and renders the pages. A
        manifest made stale by an edit is found when the block is rendered."""
        assert self.pipeline is not None
        for options in self._uncached(files):
            with contextlib.suppress(DiagramError):  # reported, located, when rendered
                self.pipeline.submit(options)

    def _uncached(self, files: Files) -> Iterator[DiagramOptions]:
        assert self.pipeline is not None
        found: list[DiagramOptions] = []
        for file in files.documentation_pages():
            try:
                text = file.content_string
            except (OSError, ValueError):
                continue
            if FENCE_NAME not in text:
                continue
            blocks = scan(text, self._syntax)
            self._lines[file.src_uri] = (
                text,
                [(body_key(b.body.splitlines()), b.line) for b in blocks],
            )
            for block in blocks:
                scanned = block.options(self.defaults)
                if scanned is not None:
                    self._scanned[block.body] = scanned  # the block, rendered, reads it once
                    found.extend(traced_versions(scanned))
        yield from never_traced(found, self.pipeline.cache)

    def _add_paths(self, paths: list[str]) -> None:
        self._remove_paths()
        for path in reversed(paths):
            if path not in sys.path:
                sys.path.insert(0, path)
                self._added_paths.append(path)

    def _remove_paths(self) -> None:
        for path in self._added_paths:
            if path in sys.path:
                sys.path.remove(path)
        self._added_paths = []

    def _watch_new_files(self) -> None:
        if self._server is None:
            return
        for path in sorted(self.watched - self._serving):
            if path.is_file():
                self._server.watch(str(path), recursive=False)
                self._serving.add(path)


def _figure_of(options: DiagramOptions, inner: str, table: str = "") -> str:
    """A block's ``<figure>`` around ``inner`` (its drawing, or a placeholder)."""
    return figure_html(
        inner,
        caption=options.caption,
        name=options.name,
        align=options.align,
        width=options.width,
        classes=options.css_class,
        table=table,
    )


def _content(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class _Nudger(threading.Thread):
    """Under ``mkdocs serve``: rebuild when a file a diagram was drawn from no longer has
    the content the build read, however the edit was timed.

    MkDocs' watcher compares file stats between polls, and an edit made before its
    first poll of a file (while the first build runs, or just after serving starts)
    is never reported, so the page would keep the old figure. This thread compares
    content with what the last build read and touches a file of its own in a
    watched folder (its own watch has the same blind spot, so it touches it again
    until a build starts); a new content gets one build, so a failing one does not loop.
    """

    def __init__(self, used: dict[Path, str], builds: Callable[[], int]) -> None:
        super().__init__(name="model-diagram-serve", daemon=True)
        self.used = used
        self.builds = builds
        self.folder = Path(tempfile.mkdtemp(prefix="model-diagram-serve-"))
        #: path -> (the content a build was asked for, the build count when asked)
        self._asked: dict[Path, tuple[str, int]] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(0.5):
            for path, seen in list(self.used.items()):
                now = _content(path)
                if now == seen:
                    continue  # the last build read this content
                asked = self._asked.get(path)
                if asked is None or asked[0] != now:
                    self._asked[path] = asked = (now, self.builds())
                if self.builds() > asked[1]:
                    continue  # a build started after this content appeared: it reads it
                (self.folder / "changed").write_text(f"{path}\n{now}\n{time.time_ns()}\n")

    def stop(self) -> None:
        self._stopped.set()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class _Later:
    """A block whose trace was still running when its page was rendered."""

    pending: Pending
    where: str
    factory: str
    #: its page (the count of each drawing, so repeated SVGs get unique ids; the URL)
    state: _PageState
    line: int | None


def _markers(nonce: str) -> re.Pattern[str]:
    """This build's markers (the nonce makes them unforgeable from page source): an SVG,
    what goes under it, or a whole figure (``figure`` ... ``end``) still being traced."""
    return re.compile(
        rf"<!--model-diagram-figure:{nonce}:(?P<fnumber>\d+)-->(?P<body>.*?)"
        rf"<!--model-diagram-end:{nonce}:(?P=fnumber)-->"
        rf"|<!--model-diagram-(?P<kind>svg|table):{nonce}:(?P<number>\d+)-->",
        re.DOTALL,
    )


def _extension_name(extension: Any) -> str:
    if isinstance(extension, str):
        return extension
    return type(extension).__module__  # an Extension instance: pymdownx.superfences


__all__ = ["ModelDiagramConfig", "ModelDiagramPlugin"]
