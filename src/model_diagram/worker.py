"""Load and trace models in a child process.

The docs build never imports torch or the user's package: a child process
does, started on the first cache miss and reused for the rest of the build.
A hang is killed after ``timeout``; a crash (``os._exit``, a segfault, the OOM
killer) becomes an error for that one diagram and the next job gets a fresh
child. The child sees the caller's ``sys.path`` and working directory.

Protocol: one JSON object per line. The child answers ``{"ready": true}``
once torch is imported, then one reply per request. Anything the user's code
prints goes to the child's stderr, never into the protocol stream.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from .errors import DiagramError, TraceError

#: how long the child may take to import torch and torchview
STARTUP_TIMEOUT = 300.0


class Worker:
    """Parent side: one child process, one job at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[bytes] | None = None
        self._ready = False
        self._lock = threading.Lock()
        #: jobs the current child has answered, and where its stderr stood when this job began
        self._served = 0
        self._stderr_start = 0
        self.jobs = 0

    def start(self) -> None:
        """Start the child now (it imports torch while the caller goes on)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        if self._stderr is not None:
            self._stderr.close()
        # kept open for the child's lifetime: its tail explains a crash
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("PYTHONHASHSEED", "0")
        self._proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "model_diagram.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=Path.cwd(),
            env=env,
            text=True,
            encoding="utf-8",
        )
        self._ready = False
        self._served = self._stderr_start = 0
        self._lines = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc.stdout, self._lines), daemon=True).start()

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one job; return the child's reply or raise the job's error."""
        with self._lock:
            try:
                reply = self._run(request, timeout)
            except _Died as died:
                if not died.served:
                    raise died.error from None
                # the child had answered earlier jobs and may have died of one of them
                # (a thread it left running): only a fresh child's death is this job's
                try:
                    reply = self._run(request, timeout)
                except _Died as again:
                    raise again.error from None
        if not reply.get("ok"):
            error = DiagramError.from_dict(reply["error"])
            if isinstance(reply.get("files"), dict) and isinstance(reply.get("dists"), dict):
                error.dependencies = (reply["files"], reply["dists"])
            raise error
        return reply

    def _run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.start()
        assert self._proc is not None and self._proc.stdin is not None
        served = self._served
        try:
            if not self._ready:
                self._receive(STARTUP_TIMEOUT, "starting the worker (importing torch)")
                self._ready = True
            self.jobs += 1
            payload = {
                **request,
                "id": self.jobs,
                "sys_path": list(sys.path),
                "cwd": str(Path.cwd()),
            }
            self._stderr_start = self._stderr_size()
            try:
                self._proc.stdin.write(json.dumps(payload) + "\n")
                self._proc.stdin.flush()
            except OSError:
                raise self._crashed("while receiving the job") from None
            # threading.TIMEOUT_MAX: a larger timeout would raise OverflowError in the wait
            deadline = time.monotonic() + min(timeout, threading.TIMEOUT_MAX)
            doing = f"tracing {request.get('factory', '')!r}"
            reply = self._receive(timeout, doing, deadline)
            while reply.get("id") != self.jobs:  # a reply to no job of ours: skip it
                reply = self._receive(timeout, doing, deadline)
        except _Died as died:
            died.served = served
            raise
        except BaseException:
            # the job was abandoned (a timeout, an interrupt): never let its late reply
            # answer the next job
            self.stop()
            raise
        self._served += 1
        return reply

    def _receive(self, timeout: float, doing: str, deadline: float | None = None) -> dict[str, Any]:
        wait = timeout if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            line = self._lines.get(timeout=min(wait, threading.TIMEOUT_MAX))
        except queue.Empty:
            self.stop()
            raise TraceError(
                f"timed out after {timeout:g} s {doing}; raise 'timeout' if the model is "
                "just slow, or look for an endless loop in forward"
            ) from None
        if line is None:
            raise self._crashed(doing)
        return json.loads(line)  # type: ignore[no-any-return]

    def _crashed(self, doing: str) -> _Died:
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        tail = self._stderr_tail()
        self._proc = None
        self._ready = False
        return _Died(
            TraceError(
                f"the worker process died (exit code {code}) {doing}; the model's code may "
                "call os._exit, crash the interpreter or run out of memory"
                f"{': ' + tail if tail else ''}",
                detail=tail,
            )
        )

    def _stderr_size(self) -> int:
        if self._stderr is None:
            return 0
        return self._stderr.seek(0, os.SEEK_END)

    def _stderr_tail(self, limit: int = 800) -> str:
        """The end of what the child wrote to stderr during the current job."""
        if self._stderr is None:
            return ""
        size = self._stderr_size()
        self._stderr.seek(max(self._stderr_start, size - limit))
        return self._stderr.read().decode("utf-8", "replace").strip()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        self._ready = False


class _Died(Exception):  # noqa: N818 -- internal signal, never escapes Worker.run
    """The child died during a job; ``served``: jobs it had answered before this one."""

    def __init__(self, error: TraceError) -> None:
        super().__init__(error.message)
        self.error = error
        self.served = 0


def _pump(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Move the child's protocol lines into a queue so reads can time out."""
    assert stream is not None
    for line in stream:
        if line.strip():
            lines.put(line)
    lines.put(None)


_WORKERS: dict[int, Worker] = {}


def shared_worker() -> Worker:
    """The worker of this process (a forked Sphinx reader gets its own)."""
    pid = os.getpid()
    if pid not in _WORKERS:
        _WORKERS[pid] = Worker()
    return _WORKERS[pid]


def shutdown() -> None:
    worker = _WORKERS.pop(os.getpid(), None)
    if worker is not None:
        worker.stop()


# -- child side


def _serve() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # prints from user code land on stderr
    sys.stdout = sys.stderr
    import torch  # noqa: F401  -- the cold cost, paid while the parent keeps reading
    import torchview  # noqa: F401

    from . import loader, trace

    trace.warm_up()
    loader.distributions_by_top_level()  # a one-off 0.3 s, paid before the first job
    baseline = set(sys.modules)
    loader.import_project_files_fresh()
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        for path in reversed(request.get("sys_path", [])):
            if path not in sys.path:
                sys.path.insert(0, path)
        with contextlib.suppress(OSError):
            os.chdir(request.get("cwd") or ".")
        loader.forget_project_modules()
        started = time.perf_counter()
        try:
            result = trace.trace_diagram(request["options"])
            files, dists = loader.dependencies(baseline)
            reply: dict[str, Any] = {"ok": True, **result, "files": files, "dists": dists}
        except DiagramError as exc:
            reply = {"ok": False, "error": exc.to_dict()}
            if exc.cacheable:  # what it depended on, so the parent can cache the failure
                reply["files"], reply["dists"] = loader.dependencies(baseline)
        except BaseException as exc:
            reply = {
                "ok": False,
                "error": TraceError(
                    f"unexpected {type(exc).__name__}: {exc}", detail=traceback.format_exc()
                ).to_dict(),
            }
        reply["id"] = request.get("id")
        reply["seconds"] = round(time.perf_counter() - started, 3)
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    _serve()
