"""The example sites in a real browser: theme, legibility, viewer, accessibility.

The example docs are built once into a temporary folder (Sphinx with furo on
the ``auto`` engine, which is ``dot`` where Graphviz is installed; MkDocs with
Material on ``graphviz-pure``), served over http on 127.0.0.1, and opened in
headless Chromium driven through the DevTools protocol on a pipe (no port, no
extra dependency). Everything is measured in the page with JavaScript:
computed colours and contrast, label boxes against node boxes, the viewer's
``data-scale``/``data-x``/``data-y`` after real input events, print media and
pages without scripts. Screenshots of every themed page land in ``tmp_path``;
``docs/_static/screenshots/make.py`` reuses these helpers for the committed ones.

Skipped, with the reason, where no ``chromium`` is on PATH (``.ci/run``
installs Debian's package).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"
CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--font-render-hinting=none",
    "--remote-debugging-pipe",
)
#: Chromium reads commands on fd 3 and writes replies on fd 4; a tiny Python
#: trampoline moves our pipe ends there (``sh`` cannot name fds above 9).
TRAMPOLINE = (
    "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); "
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)
WIDTH, HEIGHT = 1280, 900

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` on PATH: install Debian's chromium package (.ci/run does) "
    "to run the browser tests",
)


# --- a minimal DevTools protocol client -------------------------------------------------


class BrowserError(RuntimeError):
    pass


def _high_fd(fd: int) -> int:
    """The same pipe end on a descriptor >= 10, so moving it to 3 or 4 never clobbers it."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium over ``--remote-debugging-pipe`` (JSON messages ending in NUL)."""

    def __init__(self, executable: str, profile: Path) -> None:
        child_reads, self._to = map(_high_fd, os.pipe())
        self._from, child_writes = map(_high_fd, os.pipe())
        cmd = [
            sys.executable,
            "-c",
            TRAMPOLINE,
            str(child_reads),
            str(child_writes),
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            cmd,
            pass_fds=(child_reads, child_writes),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(child_reads)
        os.close(child_writes)
        self._next_id = 0
        self._lock = threading.Lock()
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    message = json.loads(raw)
                    box = self._replies.pop(message.get("id", -1), None)
                    if box is not None:
                        box.put(message)
                        continue
                    with self._arrived:
                        self.events.append(message)
                        self._arrived.notify_all()

    def call(
        self, method: str, session: str | None = None, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            box: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[self._next_id] = box
            message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            os.write(self._to, json.dumps(message).encode() + b"\0")
        try:
            reply = box.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"{method}: no reply in {timeout} s") from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def wait_event(self, method: str, session: str, after: int, timeout: float = 30) -> None:
        """Wait for ``method`` on ``session`` among the events after index ``after``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                if any(
                    e.get("method") == method and e.get("sessionId") == session
                    for e in self.events[after:]
                ):
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no {method} within {timeout} s")
                self._arrived.wait(left)

    def new_page(self, *, javascript: bool = True) -> Page:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, target, session, javascript=javascript)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        if not javascript:
            page.call("Emulation.setScriptExecutionDisabled", value=True)
        return page

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to)


class Page:
    """One tab: navigate, evaluate JavaScript, send input, take screenshots."""

    def __init__(self, browser: Chromium, target: str, session: str, *, javascript: bool) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.javascript = javascript

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str) -> None:
        mark = len(self.browser.events)
        self.call("Page.navigate", url=url)
        self.browser.wait_event("Page.loadEventFired", self.session, mark)
        self.settle()

    def settle(self) -> None:
        """Fonts loaded and two frames painted, so layout and styles are final."""
        if not self.javascript:  # no frame callbacks run: the load event has to do
            self.js("document.body.getBoundingClientRect().width")
            return
        self.js(
            "document.fonts.ready.then(() => new Promise(done =>"
            " requestAnimationFrame(() => requestAnimationFrame(() => done(true)))))"
        )

    def wait_for(self, condition: str, timeout: float = 5) -> bool:
        """Poll the JavaScript ``condition`` until it holds (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not self.js(f"!!({condition})"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` (awaiting a promise) and return its value as JSON."""
        reply = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript failed: {text}\n{expression[:300]}")
        return reply["result"].get("value")

    def screenshot(
        self,
        path: Path,
        selector: str | None = None,
        clip: dict[str, float] | None = None,
        margin: int = 12,
    ) -> Path:
        """A PNG of the viewport, of the element ``selector`` (plus ``margin``), or of the
        page rectangle ``clip`` (``x``, ``y``, ``width``, ``height`` in CSS pixels)."""
        if selector:
            x, y, width, height = self.js(
                f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                " el.scrollIntoView({block: 'start'});"
                " const r = el.getBoundingClientRect();"
                " return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()"
            )
            self.settle()
            clip = {
                "x": max(0, x - margin),
                "y": max(0, y - margin),
                "width": width + 2 * margin,
                "height": height + 2 * margin,
            }
        params: dict[str, Any] = {"format": "png"}
        if clip:
            params["clip"] = {"scale": 1, **clip}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def key(self, key: str, code: str) -> None:
        text = {"text": key} if len(key) == 1 else {}
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code, **text)

    @property
    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and failed loads of this tab so far."""
        found = []
        for event in list(self.browser.events):
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"{entry['text']} {entry.get('url', '')}".strip())
        return found

    def close(self) -> None:
        self.browser.call("Target.closeTarget", targetId=self.target)


# --- the example sites, built and served ------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":  # neither theme ships one; a 404 would log an error
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


def build_sites(root: Path) -> dict[str, Path]:
    """Build the example project's Sphinx and MkDocs sites under ``root``, side by side.

    Each build has its own diagram cache under ``root``. MkDocs draws with
    ``graphviz-pure`` and Sphinx with ``auto`` (``dot`` where installed), so
    both engines meet the browser; Material's web fonts are off (offline).
    """
    config = yaml.safe_load((EXAMPLE / "mkdocs.yml").read_text())
    config["docs_dir"] = str(EXAMPLE / config["docs_dir"])
    config["site_dir"] = str(root / "mkdocs")
    config["theme"]["font"] = False
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "model-diagram" in plugin:
            settings = plugin["model-diagram"]
            settings["paths"] = [str(EXAMPLE)]
            settings["cache_dir"] = str(root / "cache-mkdocs")
            settings["defaults"] = {**settings.get("defaults", {}), "engine": "graphviz-pure"}
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config))
    commands = {
        "sphinx": [
            sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
            "-d", str(root / "doctrees"),
            "-D", f"model_diagram_cache_dir={root / 'cache-sphinx'}",
            str(EXAMPLE / "docs"), str(root / "sphinx"),
        ],
        "mkdocs": [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml")],
    }  # fmt: skip
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    running = {
        name: subprocess.Popen(
            cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name, cmd in commands.items()
    }
    for name, proc in running.items():
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name} build failed:\n{output[-4000:]}"
    return {name: root / name for name in commands}


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """``root`` over http on 127.0.0.1 (a free port), as its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    browser = Chromium(CHROMIUM, profile)
    try:
        yield browser
    finally:
        browser.close()


#: per site: page paths, and the script that switches the page to its dark theme
SITES: dict[str, dict[str, str]] = {
    "sphinx": {
        "cnn": "sphinx/cnn.html",
        "huge": "sphinx/huge.html",
        "bert": "sphinx/bert.html",
        "recommender": "sphinx/recommender.html",
        "transformer": "sphinx/transformer.html",
        "index": "sphinx/index.html",
        "dark": "document.body.dataset.theme = 'dark'",
        "light": "document.body.dataset.theme = 'light'",
    },
    "mkdocs": {
        "cnn": "mkdocs/cnn/",
        "huge": "mkdocs/huge/",
        "bert": "mkdocs/bert/",
        "recommender": "mkdocs/recommender/",
        "transformer": "mkdocs/transformer/",
        "index": "mkdocs/",
        "dark": "document.body.setAttribute('data-md-color-scheme', 'slate')",
        "light": "document.body.setAttribute('data-md-color-scheme', 'default')",
    },
}


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sites")
    build_sites(root)
    return root


@pytest.fixture(scope="module")
def base_url(site_root: Path) -> Iterator[str]:
    with serve(site_root) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as running:
        yield running


@pytest.fixture
def open_page(browser: Chromium, base_url: str) -> Iterator[Any]:
    """``open_page(site, page, javascript=True)``: a loaded tab; each must end error-free."""
    pages: list[Page] = []

    def opener(site: str, page: str, *, javascript: bool = True) -> Page:
        tab = browser.new_page(javascript=javascript)
        pages.append(tab)
        tab.goto(f"{base_url}/{SITES[site][page]}")
        return tab

    yield opener
    try:
        for tab in pages:
            assert tab.errors == [], f"console errors on {tab.js('location.href')}"
    finally:
        for tab in pages:
            tab.close()


# --- measurements, run in the page ------------------------------------------------------

#: per figure: every node label's contrast against its box, label boxes against node
#: and cell boxes, and the filters on the way up (there must be none)
MEASURE = r"""
(() => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = (c) => {
    const v = rgb(c).map((x) => {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const ratio = (a, b) => {
    const [high, low] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
  };
  const clear = (c) => c === 'none' || c === 'transparent' || c.startsWith('rgba(0, 0, 0, 0)');
  const painted = (el) => !clear(getComputedStyle(el).fill);
  const within = (p, b, tol) => p[0] >= b.x - tol && p[0] <= b.x + b.width + tol &&
    p[1] >= b.y - tol && p[1] <= b.y + b.height + tol;
  const inside = (inner, outer, tol) => within([inner.x, inner.y], outer, tol) &&
    within([inner.x + inner.width, inner.y + inner.height], outer, tol);
  const box = (b) => [b.x, b.y, b.width, b.height].map((v) => Math.round(v * 10) / 10);
  let pageBg = 'rgb(255, 255, 255)';
  for (let el = document.querySelector('figure.model-diagram'); el; el = el.parentElement) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && !clear(bg)) { pageBg = bg; break; }
  }
  const filters = [];
  for (const svg of document.querySelectorAll('svg.model-diagram-svg')) {
    for (let el = svg; el; el = el.parentElement) {
      const f = getComputedStyle(el).filter;
      if (f !== 'none') filters.push(el.tagName + ': ' + f);
    }
  }
  const figures = Array.from(document.querySelectorAll('figure.model-diagram')).map((figure) => {
    const svg = figure.querySelector('svg.model-diagram-svg');
    const labels = [];
    for (const node of svg.querySelectorAll('g.node')) {
      const shapes = Array.from(node.querySelectorAll('polygon, path, rect'));
      const bg = shapes.find(painted);
      const bgBox = bg.getBBox();
      const cells = shapes.filter((s) => !clear(getComputedStyle(s).stroke))
        .map((s) => s.getBBox());
      for (const text of node.querySelectorAll('text')) {
        if (!text.textContent.trim()) continue;  // a space between two runs of a label
        const t = text.getBBox();
        const cx = t.x + t.width / 2, cy = t.y + t.height / 2;
        const cell = cells.filter((c) => within([cx, cy], c, 0))
          .sort((a, b) => a.width * a.height - b.width * b.height)[0];
        labels.push({
          node: node.id, kind: node.getAttribute('class'), text: text.textContent,
          fg: getComputedStyle(text).fill, bg: getComputedStyle(bg).fill,
          contrast: ratio(getComputedStyle(text).fill, getComputedStyle(bg).fill),
          inNode: inside(t, bgBox, 1), inCell: !cell || inside(t, cell, 1),
          box: box(t), nodeBox: box(bgBox), cellBox: cell ? box(cell) : null,
        });
      }
    }
    const onPage = Array.from(svg.querySelectorAll('g.cluster text, g.edge text')).map((text) => ({
      text: text.textContent, fg: getComputedStyle(text).fill,
      contrast: ratio(getComputedStyle(text).fill, pageBg),
    }));
    return { id: figure.id, labels, onPage };
  });
  return { pageBg, filters, figures };
})()
"""

#: the state of every figure's canvas and viewer
VIEWERS = r"""
Array.from(document.querySelectorAll('figure.model-diagram')).map((figure) => {
  const canvas = figure.querySelector('.model-diagram-canvas');
  const svg = canvas.querySelector('svg.model-diagram-svg');
  const box = svg.viewBox.baseVal;
  const c = canvas.getBoundingClientRect(), s = svg.getBoundingClientRect();
  return {
    id: figure.id, viewer: canvas.dataset.viewer || null,
    toolbar: !!figure.querySelector('.model-diagram-toolbar'),
    scale: Number(canvas.dataset.scale), x: Number(canvas.dataset.x), y: Number(canvas.dataset.y),
    natural: [box.width * 4 / 3, box.height * 4 / 3], canvas: [c.x, c.y, c.width, c.height],
    contentWidth: canvas.clientWidth, svg: [s.x, s.y, s.width, s.height],
    transform: getComputedStyle(svg).transform, visible: c.width > 0,
  };
})
"""


def measure(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.js(MEASURE)
    return result


def viewers(page: Page) -> dict[str, dict[str, Any]]:
    return {v["id"] or f"#{i}": v for i, v in enumerate(page.js(VIEWERS))}


# --- the tests ---------------------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
@pytest.mark.parametrize("page_name", ["cnn", "huge"])
def test_labels_readable_in_light_and_dark(
    open_page: Any, site: str, page_name: str, tmp_path: Path
) -> None:
    """Every node label meets WCAG AA against its own box in both themes, the colours
    switch with the page's theme (no inversion filter), and no label leaves its box."""
    page = open_page(site, page_name)
    page.js(SITES[site]["light"])
    page.settle()
    light = measure(page)
    page.screenshot(tmp_path / f"{site}-{page_name}-light.png")
    page.js(SITES[site]["dark"])
    page.settle()
    dark = measure(page)
    page.screenshot(tmp_path / f"{site}-{page_name}-dark.png")

    for theme, result in (("light", light), ("dark", dark)):
        assert result["filters"] == [], f"{theme}: filters on the way up from the SVG"
        labels = [label for figure in result["figures"] for label in figure["labels"]]
        assert len(labels) > 20
        low = [(lb["node"], lb["text"], lb["fg"], lb["bg"], round(lb["contrast"], 2))
               for lb in labels if lb["contrast"] < 4.5]  # fmt: skip
        assert low == [], f"{theme}: labels below 4.5:1 against their box"
        outside = [lb for lb in labels if not lb["inNode"] or not lb["inCell"]]
        assert outside == [], f"{theme}: labels overflow their box: {json.dumps(outside)}"
        on_page = [t for figure in result["figures"] for t in figure["onPage"]]
        assert on_page or page_name != "huge", "cluster labels are measured too"
        assert [t for t in on_page if t["contrast"] < 4.5] == [], f"{theme}: {result['pageBg']}"
    assert light["pageBg"] != dark["pageBg"], "the page itself went dark"
    pairs = zip(
        (lb for figure in light["figures"] for lb in figure["labels"]),
        (lb for figure in dark["figures"] for lb in figure["labels"]),
        strict=True,
    )
    for before, after in pairs:
        assert before["fg"] != after["fg"], before
        assert before["bg"] != after["bg"], before


@needs_chromium
def test_furo_auto_theme_follows_the_system(browser: Chromium, base_url: str) -> None:
    """furo's default ``auto`` theme: the diagram goes dark with ``prefers-color-scheme``."""
    page = browser.new_page()
    try:
        page.call(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "dark"}],
        )
        page.goto(f"{base_url}/{SITES['sphinx']['cnn']}")
        assert page.js("document.body.dataset.theme") == "auto"
        result = measure(page)
        labels = [label for figure in result["figures"] for label in figure["labels"]]
        module = next(lb for lb in labels if "md-module" in lb["kind"])
        assert module["bg"] == "rgb(29, 59, 39)"  # --model-diagram-module-fill, dark
        assert min(lb["contrast"] for lb in labels) >= 4.5
        assert page.errors == []
    finally:
        page.close()


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_viewer_zooms_and_pans(open_page: Any, site: str) -> None:
    """The big diagram gets the viewer: buttons, Ctrl+wheel, dragging and the keyboard
    change the state mirrored on the canvas."""
    page = open_page(site, "huge")
    figure = "#fig-huge"
    canvas = f"{figure} .model-diagram-canvas"
    state = viewers(page)["fig-huge"]
    assert state["viewer"] == "on"
    assert state["toolbar"]
    assert 0 < state["scale"] <= 1
    assert state["svg"][2] <= state["canvas"][2] + 1, "fitted to the width"
    labels = page.js(
        f"Array.from(document.querySelectorAll('{figure} .model-diagram-button'))"
        ".map(b => b.getAttribute('aria-label'))"
    )
    assert labels == ["Zoom in", "Zoom out", "Fit to width", "Reset zoom", "Full screen"]

    def read() -> tuple[float, int, int]:
        values = page.js(f"Object.assign({{}}, document.querySelector('{canvas}').dataset)")
        return float(values["scale"]), int(values["x"]), int(values["y"])

    def click(label: str) -> None:
        page.js(
            f"document.querySelector('{figure} .model-diagram-button[aria-label=\"{label}\"]')"
            ".click()"
        )

    fitted = read()
    click("Zoom in")
    assert read()[0] == pytest.approx(fitted[0] * 1.25, rel=1e-3)
    click("Zoom out")
    assert read()[0] == pytest.approx(fitted[0], rel=1e-3)

    page.js(f"document.querySelector('{canvas}').scrollIntoView({{block: 'center'}})")
    page.settle()
    x, y, w, h = page.js(
        f"(() => {{ const r = document.querySelector('{canvas}').getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )
    cx, cy = x + w / 2, y + h / 2
    before = read()
    page.mouse("mouseWheel", cx, cy, deltaX=0, deltaY=-120, modifiers=2)  # Ctrl
    zoomed = read()
    assert zoomed[0] > before[0]
    page.mouse("mouseWheel", cx, cy, deltaX=0, deltaY=120, modifiers=2)
    unzoomed = read()
    assert unzoomed[0] < zoomed[0]
    scroll = page.js("scrollY")
    page.mouse("mouseWheel", cx, cy, deltaX=0, deltaY=120)  # no Ctrl: the page scrolls
    assert page.wait_for(f"scrollY > {scroll}")
    assert read() == unzoomed
    page.js(f"document.querySelector('{canvas}').scrollIntoView({{block: 'center'}})")
    page.settle()

    # drag from wherever the pointer lands, a node included (they are <a> elements)
    start = read()
    page.mouse("mouseMoved", cx, cy)
    page.mouse("mousePressed", cx, cy, button="left", buttons=1, clickCount=1)
    for step in range(1, 6):
        page.mouse("mouseMoved", cx + 12 * step, cy + 8 * step, button="left", buttons=1)
    page.mouse("mouseReleased", cx + 60, cy + 40, button="left", buttons=0, clickCount=1)
    dragged = read()
    assert (dragged[1] - start[1], dragged[2] - start[2]) == (60, 40)
    assert dragged[0] == start[0]

    page.js(f"document.querySelector('{canvas}').focus()")
    assert page.js("document.activeElement.classList.contains('model-diagram-canvas')")
    page.key("+", "Equal")
    plus = read()
    assert plus[0] > dragged[0]
    page.key("-", "Minus")
    assert read()[0] < plus[0]
    before = read()
    page.key("ArrowLeft", "ArrowLeft")
    assert read() == (before[0], before[1] + 40, before[2])
    page.key("0", "Digit0")
    assert read() == (1.0, 0, 0)
    click("Fit to width")
    assert read() == fitted

    # full screen (a real click: browsers want a user gesture) fills the screen, then back
    framed = page.js(f"document.querySelector('{canvas}').clientHeight")
    bx, by = page.js(
        f"(() => {{ const b = document.querySelector('{figure} .model-diagram-button"
        "[aria-label=\"Full screen\"]'); b.scrollIntoView({block: 'center'});"
        " const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.mouse("mousePressed", bx, by, button="left", buttons=1, clickCount=1)
    page.mouse("mouseReleased", bx, by, button="left", buttons=0, clickCount=1)
    assert page.wait_for("document.fullscreenElement && document.fullscreenElement.id")
    assert page.js("document.fullscreenElement.id") == "fig-huge"
    page.settle()
    assert page.js(f"document.querySelector('{canvas}').clientHeight") > 0.85 * HEIGHT
    page.js("document.exitFullscreen()")
    assert page.wait_for("!document.fullscreenElement")
    page.settle()
    assert page.js(f"document.querySelector('{canvas}').clientHeight") == framed
    assert read() == fitted


@needs_chromium
def test_viewer_only_where_needed(open_page: Any) -> None:
    """A diagram that fits gets no viewer; every bigger one does, also in a hidden tab."""
    for site in ("sphinx", "mkdocs"):
        for name in ("cnn", "recommender", "transformer", "huge"):
            page = open_page(site, name)
            inner = page.js("innerHeight")
            for key, state in viewers(page).items():
                if not state["visible"]:
                    continue
                big = state["natural"][0] > state["contentWidth"] * 1.05 or (
                    state["natural"][1] > inner * 0.85
                )
                assert (state["viewer"] == "on") == big, f"{site} {name}: {json.dumps(state)}"
                assert state["toolbar"] == big
                assert state["svg"][2] <= state["canvas"][2] + 1, (site, name, key, "clipped")
    page = open_page("mkdocs", "recommender")
    small = [s for s in viewers(page).values() if s["viewer"] is None]
    assert small, "the recommender page has a diagram that fits"
    assert all(s["transform"] == "none" for s in small)

    # Material's tabs: the second tab's diagram is laid out only once the tab is shown
    page = open_page("mkdocs", "transformer")
    page.js("document.querySelectorAll('.tabbed-labels label')[1].click()")
    page.settle()
    shown = [s for s in viewers(page).values() if s["visible"]]
    assert len(shown) == 2
    for state in shown:
        assert state["scale"] > 0 if state["viewer"] else state["transform"] == "none"
        assert state["svg"][2] > 100 and state["svg"][3] > 100, state


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_accessible_svg_and_tooltips(open_page: Any, site: str) -> None:
    page = open_page(site, "huge")
    figures = page.js(
        r"""Array.from(document.querySelectorAll('svg.model-diagram-svg')).map((svg) => {
          const ref = (name) => {
            const id = svg.getAttribute(name);
            const el = id && document.getElementById(id);
            return el ? { tag: el.tagName, inside: svg.contains(el), text: el.textContent } : null;
          };
          const title = (g) => {
            const t = g.querySelector(':scope > title');
            return t ? t.textContent : null;
          };
          return {
            role: svg.getAttribute('role'),
            label: ref('aria-labelledby'),
            desc: ref('aria-describedby'),
            graph: title(svg.querySelector('g.graph')),
            nodes: Array.from(svg.querySelectorAll('g.node')).map((g) => (
              { id: g.id, kind: g.getAttribute('class'), title: title(g) })),
          };
        })"""
    )
    assert len(figures) >= 1
    for svg in figures:
        assert svg["role"] == "img"
        assert svg["label"] == {"tag": "title", "inside": True, "text": svg["label"]["text"]}
        assert svg["label"]["text"].strip()
        assert svg["desc"]["tag"] == "desc" and svg["desc"]["inside"]
        assert "LayerNorm" in svg["desc"]["text"]
        modules = [n for n in svg["nodes"] if "md-module" in n["kind"]]
        assert modules
        for node in modules:
            assert node["title"] and "parameters:" in node["title"], node
        for node in svg["nodes"]:  # every node keeps its own tooltip, the first one too
            assert node["title"] and "output:" in node["title"], node
        assert "output:" not in (svg["graph"] or ""), "the drawing's background has no node tooltip"


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_without_javascript_the_static_svg_shows(open_page: Any, site: str) -> None:
    page = open_page(site, "huge", javascript=False)
    assert page.js("typeof window.document") == "object"  # evaluate still works
    states = viewers(page)
    assert states
    for state in states.values():
        assert state["viewer"] is None and not state["toolbar"]
        assert state["svg"][2] > 100 and state["svg"][3] > 50
        assert state["svg"][2] <= state["canvas"][2] + 1


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_print_shows_the_whole_figure(open_page: Any, site: str, tmp_path: Path) -> None:
    """Zoomed in on screen, the printed page still shows the whole, untransformed drawing."""
    page = open_page(site, "huge")
    page.js(
        "document.querySelector('#fig-huge .model-diagram-button[aria-label=\"Zoom in\"]').click()"
    )
    assert viewers(page)["fig-huge"]["transform"] != "none"
    page.call("Emulation.setEmulatedMedia", media="print")
    page.settle()
    for key, state in viewers(page).items():
        assert state["transform"] == "none", key
        assert not page.js(
            "Array.from(document.querySelectorAll('.model-diagram-toolbar'))"
            ".some(t => t.offsetParent !== null)"
        )
        x, y, w, h = state["svg"]
        cx, cy, cw, ch = state["canvas"]
        assert w > 100
        assert x >= cx - 1 and y >= cy - 1, key
        assert x + w <= cx + cw + 1 and y + h <= cy + ch + 1, (key, "clipped in print")
    pdf = page.call("Page.printToPDF", printBackground=True)["data"]
    (tmp_path / f"{site}-huge.pdf").write_bytes(base64.b64decode(pdf))
    page.call("Emulation.setEmulatedMedia", media="")


@pytest.mark.parametrize("engine", ["dot", "graphviz-pure"])
def test_each_node_keeps_its_own_tooltip(engine: str, tmp_path: Path) -> None:
    """The first node's tooltip once became the whole graph's ``<title>`` (no browser needed)."""
    import xml.etree.ElementTree as ET

    import model_diagram
    from model_diagram.errors import RenderError
    from model_diagram.rendering import SVG_NS, find_engine

    try:
        find_engine(engine)
    except RenderError as exc:
        pytest.skip(str(exc))
    diagram = model_diagram.render(
        "models:make_mlp", input="float[2,8]", engine=engine, cache_dir=tmp_path
    )
    root = ET.fromstring(diagram.svg)
    title = f"{{{SVG_NS}}}title"
    graph = next(g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class") == "graph")
    assert "output:" not in (graph.findtext(title) or "")
    nodes = [g for g in root.iter(f"{{{SVG_NS}}}g") if "node" in (g.get("class") or "").split()]
    assert len(nodes) >= 3
    for node in nodes:
        assert "output:" in (node.findtext(title) or ""), node.get("id")


# --- the explorer (a diagram folded to its node budget) ----------------------------------

#: the explorer's state: the view shown, its breadcrumbs, the drawn nodes
EXPLORER = r"""
(() => {
  const figure = document.querySelector('#fig-bert');
  const svg = figure.querySelector('svg.model-diagram-svg');
  return {
    view: figure.dataset.view,
    crumbs: Array.from(figure.querySelectorAll('.model-diagram-crumbs li'))
      .map((li) => li.textContent),
    nodes: svg.querySelectorAll('g.node').length,
    opens: Array.from(svg.querySelectorAll('.model-diagram-opens'))
      .map((g) => g.querySelector('title') ? g.querySelector('title').textContent : g.id),
    label: svg.getAttribute('aria-label'),
    found: Array.from(svg.querySelectorAll('.model-diagram-found')).map((g) => g.id),
    details: figure.querySelector('.model-diagram-details').textContent,
    hash: decodeURIComponent(location.hash),
  };
})()
"""


def explorer(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.js(EXPLORER)
    return state


def real_click(page: Page, selector: str) -> None:
    """A real mouse click in the middle of the element (scrolled into view first)."""
    x, y = page.js(
        f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
        " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.mouse("mouseMoved", x, y)
    page.mouse("mousePressed", x, y, button="left", buttons=1, clickCount=1)
    page.mouse("mouseReleased", x, y, button="left", buttons=0, clickCount=1)


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_explorer_overview_within_the_node_budget(open_page: Any, site: str) -> None:
    """A full-depth trace of BERT-base is drawn within ``max-nodes: 16``; the views it can
    open are files next to the page, not part of it."""
    page = open_page(site, "bert")
    state = explorer(page)
    assert state["view"] == "" and state["crumbs"] == ["BertModel"]
    assert 3 <= state["nodes"] <= 16, state
    assert state["opens"], "folded modules are marked as openable"
    manifest = page.js(
        "JSON.parse(document.querySelector('#fig-bert script.model-diagram-views').textContent)"
    )
    keys = set(manifest["views"])
    assert {"", "encoder.layer.0", "encoder.layer.0.attention"} <= keys
    sidecars = [v["src"] for k, v in manifest["views"].items() if k]
    assert sidecars and all(src.endswith(".js") for src in sidecars)
    assert all("svg" not in v for v in manifest["views"].values()), "views load lazily"
    assert page.js("Object.keys(window.modelDiagramViews || {}).length") == 0


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_explorer_opens_folded_blocks_with_breadcrumbs_back_and_deep_links(
    open_page: Any, site: str, tmp_path: Path
) -> None:
    page = open_page(site, "bert")
    page.js(SITES[site]["light"])
    overview = explorer(page)
    # a click on the label of the collapsed encoder layers ("x12") opens their block
    assert page.js("!!document.querySelector('#fig-bert g.cluster.model-diagram-opens text')")
    real_click(page, "#fig-bert g.cluster.model-diagram-opens text")
    assert page.wait_for("document.querySelector('#fig-bert').dataset.view !== ''")
    page.settle()
    opened = explorer(page)
    assert opened["view"] == "encoder.layer.0", opened
    assert opened["crumbs"][0] == "BertModel" and len(opened["crumbs"]) >= 2
    assert opened["hash"] == f"#fig-bert/{opened['view']}"
    assert opened["label"] != overview["label"], "another drawing, with its own name"
    page.screenshot(tmp_path / f"{site}-bert-opened-light.png", selector="#fig-bert")

    # Enter on a folded node of this view goes one level deeper
    deeper = page.js(
        "(() => { const g = document.querySelector('#fig-bert .model-diagram-opens');"
        " g.focus(); return g.getAttribute('aria-label'); })()"
    )
    assert deeper and deeper.startswith("Open ")
    page.key("Enter", "Enter")
    assert page.wait_for(
        f"document.querySelector('#fig-bert').dataset.view !== {json.dumps(opened['view'])}"
    )
    page.settle()
    third = explorer(page)
    assert len(third["crumbs"]) == len(opened["crumbs"]) + 1, third
    page.js(SITES[site]["dark"])
    page.settle()
    page.screenshot(tmp_path / f"{site}-bert-deeper-dark.png", selector="#fig-bert")

    # the browser's back button returns to the previous view, then to the overview
    page.js("history.back()")
    assert page.wait_for(
        f"document.querySelector('#fig-bert').dataset.view === {json.dumps(opened['view'])}"
    )
    # a breadcrumb goes straight back up
    page.js("document.querySelector('#fig-bert .model-diagram-crumb').click()")
    assert page.wait_for("document.querySelector('#fig-bert').dataset.view === ''")
    assert explorer(page)["nodes"] == overview["nodes"]

    # a deep link into a repeated block opens the block drawn for all twelve
    url = page.js("location.href.split('#')[0]")
    page.goto("about:blank")  # a new document: a hash-only change fires no load event
    page.goto(url + "#fig-bert/encoder.layer.7.attention")
    assert page.wait_for("document.querySelector('#fig-bert').dataset.view !== ''")
    assert explorer(page)["view"] == "encoder.layer.0.attention"


@needs_chromium
@pytest.mark.parametrize("site", ["sphinx", "mkdocs"])
def test_explorer_find_opens_the_view_holding_the_layer(
    open_page: Any, site: str, tmp_path: Path
) -> None:
    page = open_page(site, "bert")
    page.js("document.querySelector('#fig-bert .model-diagram-find-input').focus()")
    page.call("Input.insertText", text="query")
    assert page.wait_for("document.querySelectorAll('#fig-bert .model-diagram-result').length")
    hits = page.js(
        "Array.from(document.querySelectorAll('#fig-bert .model-diagram-result'))"
        ".map((b) => b.textContent)"
    )
    assert any("attention.self.query" in hit and "Linear" in hit for hit in hits), hits
    page.key("Enter", "Enter")
    assert page.wait_for("document.querySelector('#fig-bert').dataset.view !== ''")
    assert page.wait_for("document.querySelector('#fig-bert .model-diagram-found')")
    state = explorer(page)
    assert state["view"] == "encoder.layer.0.attention.self", state
    assert len(state["found"]) == 1
    focused = page.js("document.activeElement.id")
    assert focused == state["found"][0], "the layer found has the focus"
    assert "attention.self.query" in state["details"] and "Linear" in state["details"]
    assert "parameters" in state["details"] and "(1, 16, 768)" in state["details"]
    page.screenshot(tmp_path / f"{site}-bert-found.png", selector="#fig-bert")
    # by type: every LayerNorm is offered
    page.js(
        "(() => { const i = document.querySelector('#fig-bert .model-diagram-find-input');"
        " i.value = 'layernorm'; i.dispatchEvent(new Event('input')); })()"
    )
    hits = page.js(
        "Array.from(document.querySelectorAll('#fig-bert .model-diagram-result'))"
        ".map((b) => b.textContent)"
    )
    assert len(hits) >= 2 and all("LayerNorm" in hit for hit in hits), hits


@needs_chromium
def test_explorer_works_from_file_urls(browser: Chromium, site_root: Path) -> None:
    """No server: the sidecar views load as scripts from ``file://`` too."""
    page = browser.new_page()
    try:
        page.goto((site_root / "sphinx" / "bert.html").as_uri())
        page.js(
            "document.querySelector('#fig-bert .model-diagram-opens')"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
        )
        assert page.wait_for("document.querySelector('#fig-bert').dataset.view !== ''")
        assert explorer(page)["nodes"] > 2
        assert page.errors == []
    finally:
        page.close()


@needs_chromium
def test_full_screen_keeps_the_other_diagrams_zoom(open_page: Any) -> None:
    """Entering full screen on one diagram once refitted (reset the zoom of) all of them."""
    page = open_page("sphinx", "huge")
    zoomable = page.js(
        "Array.from(document.querySelectorAll('figure.model-diagram-zoomable')).map(f => f.id)"
    )
    assert len(zoomable) >= 2, zoomable
    first, other = zoomable[0], zoomable[1]
    page.js(
        f"document.querySelector('#{other} .model-diagram-button[aria-label=\"Zoom in\"]').click()"
    )
    zoomed = viewers(page)[other]["scale"]
    real_click(page, f'#{first} .model-diagram-button[aria-label="Full screen"]')
    assert page.wait_for("document.fullscreenElement")
    page.settle()
    page.js("document.exitFullscreen()")
    assert page.wait_for("!document.fullscreenElement")
    page.settle()
    assert viewers(page)[other]["scale"] == zoomed


#: a folded diagram for the themes test: the small transformer within 8 nodes
FOLDED_RST = """Folded
======

.. model-diagram:: example_project.models:make_transformer
   :kwargs: {input_ids: "long[1,16](0,1000)"}
   :max-nodes: 8
   :name: fig-folded
"""
FOLDED_MD = """# Folded

```model-diagram
factory: example_project.models:make_transformer
kwargs: {input_ids: "long[1,16](0,1000)"}
max-nodes: 8
name: fig-folded
```
"""


def _themed_site(theme: str, root: Path) -> Path:
    """A one-page site in ``theme`` (Sphinx: alabaster; MkDocs: its readthedocs theme)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    if theme == "alabaster":
        src = root / "src"
        src.mkdir(parents=True)
        (src / "conf.py").write_text(
            f"import sys\nsys.path.insert(0, {str(EXAMPLE)!r})\n"
            "extensions = ['model_diagram']\nhtml_theme = 'alabaster'\n"
        )
        (src / "index.rst").write_text(FOLDED_RST)
        cmd = [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(src),
            str(root / "out"),
        ]
        page = root / "out" / "index.html"
    else:
        (root / "docs").mkdir(parents=True)
        (root / "docs" / "index.md").write_text(FOLDED_MD)
        config = {
            "site_name": "themes",
            "theme": {"name": theme, "highlightjs": False},  # no CDN: the page stays offline
            "site_dir": str(root / "out"),
            "markdown_extensions": ["pymdownx.superfences"],
            "plugins": [{"model-diagram": {"paths": [str(EXAMPLE)], "cache_dir": "cache"}}],
        }
        (root / "mkdocs.yml").write_text(yaml.safe_dump(config))
        cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml")]
        page = root / "out" / "index.html"
    done = subprocess.run(
        cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return page


@needs_chromium
@pytest.mark.parametrize("theme", ["alabaster", "readthedocs"])
def test_explorer_in_other_themes(browser: Chromium, tmp_path: Path, theme: str) -> None:
    """Alabaster (Sphinx) and MkDocs' readthedocs theme, opened from ``file://``."""
    page_file = _themed_site(theme, tmp_path)
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        assert page.js("document.querySelectorAll('#fig-folded .model-diagram-opens').length")
        page.js(
            "document.querySelector('#fig-folded .model-diagram-opens')"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
        )
        assert page.wait_for("document.querySelector('#fig-folded').dataset.view")
        crumbs = page.js("document.querySelectorAll('#fig-folded .model-diagram-crumbs li').length")
        assert crumbs == 2
        page.screenshot(tmp_path / f"{theme}-opened.png", selector="#fig-folded")
        assert page.errors == []
    finally:
        page.close()
