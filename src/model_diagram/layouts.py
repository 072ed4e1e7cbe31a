"""Long-lived Graphviz ``dot`` processes that lay out one SVG after another.

Starting ``dot`` costs about 14 ms (linking its libraries, loading its plugins and
fonts); laying out a model's graph costs 1 to 5 ms. A build that draws sixty diagrams
started sixty processes; a :class:`Layouts` keeps one per concurrent render and feeds
it graph after graph on its input, as ``dot`` reads any number of graphs and writes
each one's SVG as soon as it is read.

The output is byte for byte what a fresh process writes, with one exception undone
here: a later graph's group id carries a page prefix (``page0,1_graph0``). Anything
uncertain (the process ended, wrote to stderr, or wrote something that is not one
SVG) retires that process and draws the graph again with a fresh one
(:func:`~model_diagram.rendering.run_engine`), so errors read as they always did.

Not every graph may share a process. Graphviz orders named subgraphs (our module
clusters) by the memory address of their names, which a fresh process allocates in
the order it reads them, and a reused one in whatever order its freed memory
comes back: the same graph would be drawn with its clusters in another order, and
could be laid out differently. A graph with a subgraph is therefore always drawn
by a fresh process. Only the system ``dot`` is used this way: ``graphviz-pure``
holds its output until its input ends, and costs about 3 ms to start anyway.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
import weakref
from typing import IO

from .errors import RenderError
from .rendering import RENDER_TIMEOUT, Engine, run_engine

#: how an SVG from ``dot`` ends: nothing follows until the next graph is read
_END = b"</svg>\n"
_PAGE_PREFIX = re.compile(rb'(<g id=")page\d+,\d+_(graph\d+")')


class _UnsureError(Exception):
    """The process did something a fresh one would have to judge."""


class _Server:
    """One ``dot -Tsvg`` process. Its stderr goes to a file, never a pipe: a graph
    with many warnings can then never block it while we are still writing."""

    def __init__(self, engine: Engine) -> None:
        import tempfile  # a warm build draws nothing

        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close()
        self.process = subprocess.Popen(
            [engine.path, "-Tsvg"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        # a pipeline dropped without close() still ends its process (when collected,
        # or as the interpreter exits): nothing waits on a child nobody knows of
        self._end = weakref.finalize(self, _end, self.process, self.errors, os.getpid())
        self.stdin = self.process.stdin.fileno()
        self.stdout = self.process.stdout.fileno()
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)

    def lay_out(self, dot: str, timeout: float) -> bytes:
        """The SVG of one graph; :class:`_UnsureError` if a fresh process must judge it."""
        import selectors

        data = dot.encode() + b"\n"
        errors_before = os.fstat(self.errors.fileno()).st_size
        out = bytearray()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.stdout, selectors.EVENT_READ)
            selector.register(self.stdin, selectors.EVENT_WRITE)
            while not out.endswith(_END):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RenderError(
                        f"Graphviz (dot) failed: the layout took more than {timeout:.0f} s"
                    )
                for key, _ in selector.select(left):
                    if key.fd == self.stdin:
                        try:
                            data = data[os.write(self.stdin, data) :]
                        except BrokenPipeError:
                            raise _UnsureError from None
                        if not data:
                            selector.unregister(self.stdin)
                        continue
                    try:
                        chunk = os.read(self.stdout, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        raise _UnsureError  # it exited: a syntax error, a crash
                    out += chunk
        if data or os.fstat(self.errors.fileno()).st_size != errors_before:
            raise _UnsureError  # a warning: a fresh process decides whether it is an error
        if out.count(b"<svg") != 1:
            raise _UnsureError
        return _PAGE_PREFIX.sub(rb"\1\2", bytes(out), count=1)

    def close(self) -> None:
        self._end()


def _end(process: subprocess.Popen[bytes], errors: IO[bytes], owner: int) -> None:
    """Kill and reap a ``dot`` process, in the process that started it only."""
    if owner != os.getpid():
        return
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, errors):
        with contextlib.suppress(OSError):
            stream.close()  # type: ignore[union-attr]


class Layouts:
    """SVG layouts by long-lived ``dot`` processes, one per render running at once;
    other formats and engines run a fresh process each time. Thread-safe; a forked
    process never touches its parent's processes. :meth:`close` ends them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[Engine, list[_Server]] = {}
        self._pid = os.getpid()
        #: processes started so far (one per render running at once, plus replacements)
        self.started = 0

    def run(self, engine: Engine, dot: str, fmt: str, dpi: int = 96) -> bytes:
        """What :func:`~model_diagram.rendering.run_engine` returns, faster for SVG."""
        if fmt != "svg" or engine.name != "dot" or "subgraph" in dot:
            return run_engine(engine, dot, fmt, dpi)
        server = self._take(engine)
        if server is None:
            return run_engine(engine, dot, fmt, dpi)
        try:
            data = server.lay_out(dot, RENDER_TIMEOUT)
        except _UnsureError:
            server.close()
            return run_engine(engine, dot, fmt, dpi)
        except BaseException:
            server.close()
            raise
        with self._lock:
            self._idle.setdefault(engine, []).append(server)
        return data

    def _take(self, engine: Engine) -> _Server | None:
        with self._lock:
            if self._pid != os.getpid():  # a forked -j reader: its parent's are not ours
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(engine)
            if idle:
                return idle.pop()
        try:
            server = _Server(engine)
        except OSError:
            return None  # the one-shot run reports why
        with self._lock:
            self.started += 1
        return server

    def close(self) -> None:
        with self._lock:
            servers = [s for idle in self._idle.values() for s in idle]
            self._idle = {}
            ours = self._pid == os.getpid()
        if ours:
            for server in servers:
                server.close()
