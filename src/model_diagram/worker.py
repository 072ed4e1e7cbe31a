"""Trace models in isolated children of one warm parent process.

The docs build never imports torch or the user's package. It starts one
*parent* (``python -m model_diagram.worker``) that imports torch and
torchview once (and the meta device's one-off imports when a model needs them), then forks one
*child* per diagram: copy-on-write fast, and isolated, so a monkeypatch, a
thread or a global left by one model never reaches the next. Each child is
the leader of its own process group: a timeout kills the group (processes the
model started die too), and what the child prints goes to a pipe of which
only the last few KiB are kept, for error messages. A crash (``os._exit``, a
segfault, the OOM killer, ``memory-limit``) is an error for that one diagram.
Up to ``jobs`` children run at once.

Where ``fork`` is missing or unsafe (macOS, where Python itself defaults to
spawn), each child is a fresh interpreter instead (``start_method="spawn"``):
the same isolation and limits, plus the torch import per diagram.

A model that kills the parent (``os.kill(os.getppid(), ...)``) ends only the
diagrams running at that moment: the build starts a new parent, runs the
suspects one at a time, and the one that kills the parent again gets the error.

Protocol between the build and the parent, one JSON object per line: the
parent says ``{"ready": true}`` once warm; for each request it says
``{"id": n, "started": true}`` when the job's child starts, then sends the
child's reply under the same id.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import DiagramError, TraceError
from .protocol import dumps as protocol_dumps
from .protocol import loads as protocol_loads

if TYPE_CHECKING:
    from .loader import Loaded

#: how long the parent may take to import torch and torchview
STARTUP_TIMEOUT = 300.0
#: how much of a child's (or the parent's) output is kept to explain a failure
TAIL_BYTES = 8192
#: memory a child may need, for sizing the automatic ``jobs``
CHILD_MEMORY = 1 << 30
#: parents started for one job at most (a parent that dies keeps its queued jobs)
MAX_ATTEMPTS = 3
#: how long the build waits past a job's own timeout before it restarts a silent parent
GRACE = 15.0


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_jobs() -> int:
    """Children at once: one per core this process may use, as memory allows, at most 8."""
    usable = cores()
    available = _available_memory()
    by_memory = max(1, available // CHILD_MEMORY) if available else usable
    return max(1, min(usable, by_memory, 8))


def _available_memory() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def default_start_method() -> str:
    """``fork`` where it is safe with threaded libraries such as torch, else ``spawn``."""
    return "fork" if hasattr(os, "fork") and sys.platform != "darwin" else "spawn"


class _Tail:
    """The last ``TAIL_BYTES`` of a stream: bounded, however much a model prints."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > TAIL_BYTES:
            del self.data[: len(self.data) - TAIL_BYTES]

    def text(self, limit: int = 800) -> str:
        return bytes(self.data[-limit:]).decode("utf-8", "replace").strip()


@dataclass
class _Job:
    """A request the build is waiting for, as the build sees it."""

    request: dict[str, Any]
    timeout: float
    future: Future[dict[str, Any]] = field(default_factory=Future)
    started: float | None = None
    exclusive: bool = False
    attempts: int = 0


class Worker:
    """The build's side: one warm parent process, several jobs in flight.

    ``submit`` returns at once with a future; ``run`` waits for it. The parent
    starts on the first ``start`` or ``submit`` and lives until ``stop``.
    """

    def __init__(
        self,
        jobs: int | None = None,
        *,
        start_method: str | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        """``preload``: modules the parent imports once, after torch, for every child
        (third-party packages the models import, such as a library's heavy
        dependencies; see :func:`_preload`)."""
        self.jobs = jobs or auto_jobs()
        self.start_method = start_method or default_start_method()
        self.preload = tuple(preload)
        #: jobs submitted, and parents started, over this worker's life
        self.submitted = 0
        self.parents = 0
        self._proc: subprocess.Popen[str] | None = None
        #: ends the current parent: when called, or when this worker is garbage
        self._end_parent: weakref.finalize[Any, Any] | None = None
        self._ready = threading.Event()
        self._stderr = _Tail()
        self._lock = threading.RLock()
        self._pending: dict[int, _Job] = {}
        self._started_at = 0.0

    # -- the build's API

    def start(self) -> None:
        """Start the parent now (it imports torch while the caller goes on)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._spawn_parent()

    def submit(self, request: dict[str, Any], timeout: float) -> Future[dict[str, Any]]:
        """Queue one job; the future's result is the child's reply (``ok`` or ``error``).

        ``request["memory_limit"]``: bytes the child may allocate beyond the warm
        parent's (``RLIMIT_AS``, Linux), or absent.
        """
        with self._lock:
            self.submitted += 1
            job = _Job(dict(request, id=self.submitted), timeout)
            self._pending[self.submitted] = job
            self.start()
            self._send(job)
        return job.future

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one job and wait: the reply, or the job's error raised."""
        return self.result(self.submit(request, timeout))

    def result(self, future: Future[dict[str, Any]]) -> dict[str, Any]:
        """Wait for a submitted job; a parent gone silent is restarted, not waited for."""
        try:
            while True:
                try:
                    reply = future.result(timeout=0.5)
                    break
                except FutureTimeout:
                    self._watch()
        except BaseException:
            # abandoned (an interrupt): no late reply may answer anything else
            self.stop()
            raise
        if not reply.get("ok"):
            error = DiagramError.from_dict(reply["error"])
            if isinstance(reply.get("files"), dict) and isinstance(reply.get("dists"), dict):
                error.dependencies = (reply["files"], reply["dists"])
            raise error
        return reply

    def stop(self) -> None:
        """End the parent and its children; jobs still pending fail."""
        with self._lock:
            self._proc, end = None, self._end_parent
            pending, self._pending = self._pending, {}
        if end is not None:
            end()
        for job in pending.values():
            _fail(job, TraceError("the worker was stopped before the diagram was traced"))

    # -- the parent process

    def _spawn_parent(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("PYTHONHASHSEED", "0")
        env["GLIBC_TUNABLES"] = _with_huge_pages(env.get("GLIBC_TUNABLES", ""))
        command = [sys.executable, "-u", "-m", "model_diagram.worker", "--parent"]
        command += ["--jobs", str(self.jobs), "--start", self.start_method]
        if self.preload:
            command += ["--preload", ",".join(self.preload)]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path.cwd(),
            env=env,
            text=True,
            encoding="utf-8",
            # a terminal's Ctrl-C reaches the build, which then stops the parent
            start_new_session=hasattr(os, "setsid"),
        )
        self._proc, self._stderr = proc, _Tail()
        self._end_parent = weakref.finalize(self, _end, proc, os.getpid())
        self._ready = threading.Event()
        self._started_at = time.monotonic()
        self.parents += 1
        reader = threading.Thread(
            target=_read, args=(weakref.ref(self), proc, self._ready), daemon=True
        )
        reader.start()
        threading.Thread(target=_drain, args=(proc.stderr, self._stderr), daemon=True).start()

    def _send(self, job: _Job) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        job.attempts += 1
        payload = {
            **job.request,
            "timeout": min(job.timeout, threading.TIMEOUT_MAX),
            "exclusive": job.exclusive,
            "sys_path": list(sys.path),
            "cwd": str(Path.cwd()),
        }
        # a dead parent shows as the end of its output; the reader handles that
        with contextlib.suppress(OSError, ValueError):
            self._proc.stdin.write(protocol_dumps(payload) + "\n")
            self._proc.stdin.flush()

    def _dispatch(self, line: str, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        try:
            message = protocol_loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("ready"):
            ready.set()
            return
        with self._lock:
            if proc is not self._proc:
                return
            job = self._pending.get(message.get("id"))  # type: ignore[arg-type]
            if job is None:  # a reply to no job of ours: skipped
                return
            if message.get("started"):
                job.started = time.monotonic()
                return
            del self._pending[message["id"]]
        job.future.set_result(message)

    def _parent_died(
        self, proc: subprocess.Popen[str], overdue: frozenset[int] = frozenset()
    ) -> None:
        """Fail the job that killed the parent; run the others again in a new one."""
        with self._lock:
            if proc is not self._proc:
                return
            self._proc = None
            code = self._end_parent() if self._end_parent is not None else _end(proc)
            warm = self._ready.is_set()
            running = [i for i, j in self._pending.items() if j.started is not None]
            failed: list[tuple[_Job, TraceError]] = []
            retry: list[_Job] = []
            for number, job in sorted(self._pending.items()):
                doing = f"tracing {job.request.get('factory', '')!r}"
                if number in overdue:
                    failed.append((job, _timed_out(job.timeout, doing)))
                elif not warm:
                    tail = self._stderr.text()
                    failed.append(
                        (
                            job,
                            TraceError(
                                f"the worker could not start (exit code {code}); is torch "
                                f"installed for {sys.executable}?{': ' + tail if tail else ''}",
                                detail=tail,
                            ),
                        )
                    )
                elif job.started is not None and (job.exclusive or len(running) == 1):
                    failed.append(
                        (
                            job,
                            TraceError(
                                f"the worker's parent process died (exit code {code}) {doing}; "
                                "the model's code may kill its parent process",
                                detail=self._stderr.text(),
                            ),
                        )
                    )
                elif job.attempts >= MAX_ATTEMPTS:
                    failed.append(
                        (job, TraceError(f"the worker's parent process died {job.attempts} times"))
                    )
                else:
                    # it ran beside the one that killed the parent: next time, alone
                    job.exclusive = job.exclusive or job.started is not None
                    job.started = None
                    retry.append(job)
            for job, _ in failed:
                del self._pending[job.request["id"]]
            if retry:
                self._spawn_parent()
                for job in retry:
                    self._send(job)
        for job, error in failed:
            _fail(job, error)

    def _watch(self) -> None:
        """Restart a parent that is silent past every deadline (stopped, or wedged)."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            now = time.monotonic()
            if not self._ready.is_set():
                overdue = (
                    frozenset(self._pending) if now - self._started_at > STARTUP_TIMEOUT else None
                )
            else:
                late = {
                    i
                    for i, j in self._pending.items()
                    if j.started is not None and now - j.started > j.timeout + GRACE
                }
                overdue = frozenset(late) if late else None
            if overdue:
                # before the reader thread sees the end: these jobs timed out, they are
                # not suspects of killing the parent
                self._parent_died(proc, overdue)


#: glibc (2.35 and newer) backs the heap with transparent huge pages: torch's 85 MiB of
#: heap then has 512 times fewer page-table entries for each fork to copy and each
#: child's exit to free (fork and exit: 6 ms instead of 11)
HUGE_PAGES = "glibc.malloc.hugetlb"


def _with_huge_pages(tunables: str) -> str:
    """``GLIBC_TUNABLES`` for the parent: the user's, plus huge pages unless they chose.
    Other C libraries, and a kernel without transparent huge pages, ignore it."""
    if any(item.partition("=")[0] == HUGE_PAGES for item in tunables.split(":")):
        return tunables
    return ":".join(filter(None, (tunables, f"{HUGE_PAGES}=1")))


def _timed_out(timeout: float, doing: str) -> TraceError:
    return TraceError(
        f"timed out after {timeout:g} s {doing}; raise 'timeout' if the model is "
        "just slow, or look for an endless loop in forward"
    )


def _fail(job: _Job, error: DiagramError) -> None:
    if not job.future.done():
        job.future.set_result({"ok": False, "id": job.request.get("id"), "error": error.to_dict()})


def _end(proc: subprocess.Popen[str], owner: int | None = None) -> int | None:
    """End a parent and reap it: closing its input makes it kill its children's process
    groups and exit; a parent that does not is killed (its children die with it on Linux).

    ``owner``: the process that started it; a forked copy of the build (a ``-j``
    reader) leaves it alone.
    """
    if owner is not None and owner != os.getpid():
        return None
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout=3)
    with contextlib.suppress(OSError):
        proc.kill()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None


def _read(ref: weakref.ref[Worker], proc: subprocess.Popen[str], ready: threading.Event) -> None:
    """Hand each reply line of ``proc`` to its job; at the end, deal with its death.

    Holds the worker weakly, so a pipeline nobody closed still ends its parent.
    """
    assert proc.stdout is not None
    for line in proc.stdout:
        worker = ref()
        if worker is None:
            return
        worker._dispatch(line, proc, ready)
        del worker
    worker = ref()
    if worker is not None:
        worker._parent_died(proc)


def _drain(stream: IO[str] | None, tail: _Tail) -> None:
    assert stream is not None
    for line in stream:
        tail.add(line.encode("utf-8", "replace"))


# -- the parent process


@dataclass
class _Child:
    """One job running in a child process, as the parent sees it."""

    request: dict[str, Any]
    pid: int
    reply_fd: int
    output_fd: int
    deadline: float
    popen: subprocess.Popen[bytes] | None = None
    request_file: Path | None = None
    reply: bytearray = field(default_factory=bytearray)
    output: _Tail = field(default_factory=_Tail)
    reaped: bool = False


class _Parent:
    """The warm parent: reads requests, runs each in a child, forwards the replies."""

    def __init__(self, protocol: int, jobs: int, start_method: str) -> None:
        self.protocol = protocol
        self.jobs = jobs
        self.start_method = start_method
        self.selector = selectors.DefaultSelector()
        self.queue: deque[dict[str, Any]] = deque()
        self.children: dict[int, _Child] = {}
        self.buffer = b""
        self.baseline: set[str] = set()
        #: top-level names of the packages ``--preload`` imported: every child reports them
        self.preloaded: tuple[str, ...] = ()
        #: a model needed the meta device, whose one-off imports are paid (see _warm_meta)
        self.meta_due = False
        self.meta_paid = False
        #: killed children not reaped yet (a process group id stays reserved until then)
        self.dying: list[int] = []
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, None)

    def serve(self) -> None:
        """Until the build closes our input: start children, forward their replies."""
        while True:
            # a short wait while children run: their exit is polled, not signalled
            timeout = 0.05 if self.children or self.dying else None
            for key, _ in self.selector.select(timeout):
                if key.data is None:
                    if not self._read_requests():
                        self._shutdown()
                        return
                else:
                    self._read_child(*key.data)
            for child in list(self.children.values()):
                self._check(child)
            self._start_queued()
            self._reap(block=False)

    def _read_requests(self) -> bool:
        try:
            chunk = os.read(0, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        self.queue.extend(protocol_loads(line) for line in lines if line.strip())
        return True

    def _start_queued(self) -> None:
        while self.queue and len(self.children) < self.jobs:
            alone = any(c.request.get("exclusive") for c in self.children.values())
            if alone or (self.queue[0].get("exclusive") and self.children):
                return  # a suspect of killing the parent runs with nothing beside it
            if self.meta_due:
                self._warm_meta()
            request = self.queue.popleft()
            child = self._fork(request) if self.start_method == "fork" else self._spawn(request)
            self.children[child.pid] = child
            for fd, which in ((child.reply_fd, "reply"), (child.output_fd, "output")):
                os.set_blocking(fd, False)
                self.selector.register(fd, selectors.EVENT_READ, (child.pid, which))
            self._say({"id": request.get("id"), "started": True})

    def _fork(self, request: dict[str, Any]) -> _Child:
        reply_r, reply_w = os.pipe()
        output_r, output_w = os.pipe()
        # the child's collections then skip torch's million objects instead of writing
        # to each one's header, which would copy every page of the parent's heap
        gc.freeze()
        from .loader import Loaded

        loaded = Loaded.now(self.baseline, self.preloaded)
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.setpgid(0, 0)
                _die_with_parent()
                self.selector.close()
                for fd in (self.protocol, reply_r, output_r, *self._child_fds()):
                    os.close(fd)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(output_w, 1)
                os.dup2(output_w, 2)
                code = _child(request, reply_w, self.baseline, self._threads(), loaded)
            finally:
                os._exit(code)
        with contextlib.suppress(OSError):  # here too: the group exists before any kill
            os.setpgid(pid, pid)
        os.close(reply_w)
        os.close(output_w)
        return _Child(request, pid, reply_r, output_r, _deadline(request))

    def _spawn(self, request: dict[str, Any]) -> _Child:
        reply_r, reply_w = os.pipe()
        output_r, output_w = os.pipe()
        handle, name = tempfile.mkstemp(prefix="model-diagram-job-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(protocol_dumps(request))
        popen = subprocess.Popen(
            [sys.executable, "-u", "-m", "model_diagram.worker", "--child", name],
            stdin=subprocess.DEVNULL,
            stdout=reply_w,
            stderr=output_w,
            start_new_session=hasattr(os, "setsid"),
        )
        os.close(reply_w)
        os.close(output_w)
        return _Child(request, popen.pid, reply_r, output_r, _deadline(request), popen, Path(name))

    def _threads(self) -> int:
        """Compute threads for a child: the cores shared by the children running at once."""
        return max(1, cores() // self.jobs)

    def _child_fds(self) -> list[int]:
        return [fd for c in self.children.values() for fd in (c.reply_fd, c.output_fd)]

    def _read_child(self, pid: int, which: str) -> bool:
        """Read what one pipe of a child holds; False when it had nothing."""
        child = self.children.get(pid)
        if child is None:
            return False
        fd = child.reply_fd if which == "reply" else child.output_fd
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # BlockingIOError: nothing now
            return False
        if not chunk:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            return False
        if which == "reply":
            child.reply += chunk
        else:
            child.output.add(chunk)
        return True

    def _check(self, child: _Child) -> None:
        """Finish a child that replied, exited or ran out of time."""
        doing = f"tracing {child.request.get('factory', '')!r}"
        if child.reply.endswith(b"\n"):
            self._finish(child, self._reply(child, doing))
            return
        code = self._exited(child)
        if code is not None:
            # what it wrote before it ended is in the pipes (a process the model forked
            # may hold them open: never wait for their end)
            for which in ("reply", "output"):
                while self._read_child(child.pid, which):
                    pass
            if child.reply.endswith(b"\n"):
                self._finish(child, self._reply(child, doing))
            else:
                self._finish(child, {"ok": False, "error": self._crashed(child, code, doing)})
        elif time.monotonic() >= child.deadline:
            timeout = float(child.request.get("timeout") or 120.0)
            self._finish(child, {"ok": False, "error": _timed_out(timeout, doing).to_dict()})

    def _reply(self, child: _Child, doing: str) -> dict[str, Any]:
        line = bytes(child.reply).split(b"\n", 1)[0]
        with contextlib.suppress(ValueError):
            reply = protocol_loads(line)
            if isinstance(reply, dict) and "ok" in reply:
                return reply
        error = TraceError(f"the worker sent a garbled reply {doing}", detail=child.output.text())
        return {"ok": False, "error": error.to_dict()}

    def _crashed(self, child: _Child, code: int, doing: str) -> dict[str, str]:
        tail = child.output.text()
        limit = child.request.get("memory_limit")
        hint = (
            f", or need more memory than {_limit_text(limit)}"
            if limit
            else ", crash the interpreter or run out of memory"
        )
        return TraceError(
            f"the worker process died (exit code {code}) {doing}; the model's code may "
            f"call os._exit{hint}{': ' + tail if tail else ''}",
            detail=tail,
        ).to_dict()

    def _exited(self, child: _Child) -> int | None:
        """The child's exit code (negative: a signal) once it ended, else None.

        Where it can, the child is left unreaped: its process group id then stays
        reserved until ``_finish`` has killed the group.
        """
        if child.popen is not None:
            return child.popen.poll()
        if hasattr(os, "waitid"):
            info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None:
                return None
            return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid == 0:
            return None
        child.reaped = True
        return os.waitstatus_to_exitcode(status)

    def _finish(self, child: _Child, reply: dict[str, Any]) -> None:
        """Kill what is left of the child's process group, reap it, send the reply."""
        if not child.reaped:
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)  # the model's own processes too
            if child.popen is not None:
                child.popen.wait()
            else:  # reaped later: the next child forks while this one's memory is freed
                self.dying.append(child.pid)
        for fd in (child.reply_fd, child.output_fd):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            os.close(fd)
        if child.request_file is not None:
            child.request_file.unlink(missing_ok=True)
        del self.children[child.pid]
        reply = _with_distributions(reply, child.request, self.preloaded)
        reply["id"] = child.request.get("id")
        self._say(reply)
        if self.start_method == "fork" and isinstance(reply.get("files"), dict):
            from . import loader

            loader.compile_for_children(reply["files"])
        if reply.get("device") == "meta" and not self.meta_paid:
            self.meta_due = True

    def _warm_meta(self) -> None:
        """Before the next fork, pay once the meta device's imports a model turned out to
        need, so the children forked from now on do not each pay them. Never while
        nothing waits: a one-diagram build ends without them."""
        from . import loader, trace

        self.meta_due, self.meta_paid = False, True
        if self.start_method != "fork":
            return
        with contextlib.suppress(Exception):
            trace.warm_up()
        self.baseline |= loader.loaded_before()  # torch's own modules, never a dependency

    def _reap(self, *, block: bool) -> None:
        """Collect killed children that have ended (all of them, with ``block``)."""
        for pid in list(self.dying):
            try:
                done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.dying.remove(pid)

    def _say(self, message: dict[str, Any]) -> None:
        data = (protocol_dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.protocol, data) :]

    def _shutdown(self) -> None:
        """The build went away: nothing of ours may outlive it."""
        for child in list(self.children.values()):
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            if child.popen is not None:
                child.popen.wait()
            elif not child.reaped:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child.pid, 0)
            if child.request_file is not None:
                child.request_file.unlink(missing_ok=True)
        self._reap(block=True)


def job_path(request: dict[str, Any]) -> list[str]:
    """The import path a child runs with: the build's entries it lacks, first."""
    extra = [p for p in request.get("sys_path", []) if isinstance(p, str) and p not in sys.path]
    return [*dict.fromkeys(extra), *sys.path]


def _with_distributions(
    reply: dict[str, Any], request: dict[str, Any], preloaded: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The child's reply with the versions of the packages it loaded (``tops``), named
    here: the child need not map modules to distributions (0.4 s) itself."""
    tops = reply.pop("tops", None)
    if not isinstance(tops, list):
        return reply
    from . import loader

    names = [top for top in tops if isinstance(top, str)]
    path = tuple(job_path(request))
    try:
        reply["dists"] = loader.distributions(names, path)
        # for the build's preload suggestion: what the child imported itself
        reply["imported"] = loader.installed_packages(
            [top for top in names if top not in preloaded], path
        )
    except Exception as exc:  # a broken installed distribution: this diagram's error
        error = TraceError(
            f"could not list the installed distributions: {type(exc).__name__}: {_text(exc)}",
            detail=traceback.format_exc(),
        )
        return {"ok": False, "error": error.to_dict()}
    return reply


def _deadline(request: dict[str, Any]) -> float:
    return time.monotonic() + float(request.get("timeout") or 120.0)


def _die_with_parent() -> None:
    """Linux: the kernel kills this child if the parent dies (a model may kill it)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _child(
    request: dict[str, Any],
    reply_fd: int,
    baseline: set[str],
    threads: int | None = None,
    loaded: Loaded | None = None,
) -> int:
    """Run one job in this fresh child and write the reply to ``reply_fd``; ``threads``:
    torch's compute threads (the parent used one, so that forking it is safe);
    ``loaded``: the parent's modules when it forked this child."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    limit = request.get("memory_limit")
    if limit:
        _limit_memory(int(limit))
    sys.path[:] = job_path(request)
    reply = _job(request, baseline, loaded)
    data = (protocol_dumps(reply) + "\n").encode()
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(reply_fd, data) :]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return 0


def _job(
    request: dict[str, Any], baseline: set[str], loaded: Loaded | None = None
) -> dict[str, Any]:
    from . import loader, trace

    started = time.perf_counter()
    try:
        with contextlib.suppress(OSError):
            os.chdir(request.get("cwd") or ".")
        result = trace.trace_diagram(request["options"])
        files, tops = loader.dependencies(baseline, loaded)
        reply: dict[str, Any] = {"ok": True, **result, "files": files, "tops": tops}
    except DiagramError as exc:
        if _OUT_OF_MEMORY.search(exc.message) or _OUT_OF_MEMORY.search(exc.detail):
            # the machine's and memory-limit's doing, not the model's: never cached
            exc.cacheable = False
            limit = request.get("memory_limit")
            exc.message += (
                f"; it ran out of memory under {_limit_text(limit)}: "
                "raise it if the model needs more"
                if limit
                else "; the machine ran out of memory"
            )
        reply = {"ok": False, "error": exc.to_dict()}
        if exc.cacheable:  # what it depended on, so the build can cache the failure
            reply["files"], reply["tops"] = loader.dependencies(baseline, loaded)
    except MemoryError:
        limit = request.get("memory_limit")
        under = f" under {_limit_text(limit)}" if limit else ""
        error = TraceError(
            f"ran out of memory{under}; raise memory-limit if the model needs it",
            detail=traceback.format_exc(),
        )
        reply = {"ok": False, "error": error.to_dict()}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: this diagram's error
        error = TraceError(
            f"unexpected {type(exc).__name__}: {_text(exc)}", detail=traceback.format_exc()
        )
        reply = {"ok": False, "error": error.to_dict()}
    reply["seconds"] = round(time.perf_counter() - started, 3)
    return reply


#: how running out of memory reads in an error: Python's, torch's allocators, the C library's
_OUT_OF_MEMORY = re.compile(
    r"\bMemoryError\b|can't allocate memory|[Cc]annot allocate memory|out of memory|bad_alloc"
)


def _limit_text(limit: float) -> str:
    """How a message names the job's ``memory-limit`` (bytes)."""
    return f"memory-limit ({limit / 2**20:.0f} MiB)"


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "(unprintable)"


def _limit_memory(limit: int) -> None:
    """Cap this child's address space at what it maps now plus ``limit`` (Linux)."""
    import resource

    in_use = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        in_use = pages * os.sysconf("SC_PAGE_SIZE")
    cap = in_use + limit
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _warm(*, forks: bool) -> set[str]:
    """Import torch and torchview and pay one-off costs; the modules loaded by then.
    ``forks``: this process is a parent that forks children (a spawned child traces
    once: a warm-up would only delay it, and pin it to one thread).

    The meta device's imports wait for a model that needs them (``_Parent._warm_meta``):
    ``auto`` traces small models on CPU. The map from modules to distributions is
    made for the first reply that names a package (a model of plain torch never needs it).
    """
    import torch  # noqa: F401  -- the cold cost, paid while the build keeps reading
    import torchview  # noqa: F401

    from . import loader, trace

    if forks:
        trace.warm_up_cpu()  # torch's first-call costs, paid once for all children
    baseline = loader.loaded_before()  # classifies torch's files, once for all children
    loader.import_project_files_fresh()
    return baseline


def _preload(names: Sequence[str], baseline: set[str]) -> tuple[set[str], tuple[str, ...]]:
    """Import ``names`` in the parent, once for all its children: (the new baseline, the
    top-level names of the packages that came with them).

    A child still reports those packages as its dependencies (their versions key its
    cache entry), and still imports project files fresh: a project module a preload
    brought in is dropped again. A name that fails to import is left to the children,
    whose diagrams then fail with the error at their own directive.
    """
    import importlib

    from . import loader

    for name in names:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    loader.forget_project_modules()
    now = loader.loaded_before()
    return now, tuple(sorted(loader.third_party_tops(now - baseline)))


def _protocol_fd() -> int:
    """A private copy of fd 1 for the protocol; prints from user code land on stderr."""
    protocol = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model_diagram.worker")
    parser.add_argument("--parent", action="store_true")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--start", choices=("fork", "spawn"), default="fork")
    parser.add_argument("--child", type=Path, help="spawn: run the one job in this file")
    parser.add_argument("--preload", default="", help="modules to import once, comma-separated")
    args = parser.parse_args(argv)
    protocol = _protocol_fd()
    if args.child is not None:
        request = protocol_loads(args.child.read_text("utf-8"))
        args.child.unlink(missing_ok=True)
        return _child(request, protocol, _warm(forks=False))
    parent = _Parent(protocol, max(1, args.jobs), args.start)
    if args.start == "fork":
        parent.baseline = _warm(forks=True)
        preload = [name for name in args.preload.split(",") if name]
        if preload:
            parent.baseline, parent.preloaded = _preload(preload, parent.baseline)
    parent._say({"ready": True})
    parent.serve()
    # the build waits for this exit: skip the interpreter's teardown of torch (about 1 s)
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
