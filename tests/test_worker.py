"""The warm parent and its forked children: isolation, process groups, bounded output,
a parent killed by a model, memory limits, several children at once, and spawn.

Real models (tests/models_worker.py), real torch, real processes; nothing mocked.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from model_diagram.errors import TraceError
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline, trace_key
from model_diagram.worker import Worker, auto_jobs

X = {"input": "float[2,8]"}


def layers(result: Any) -> list[str]:
    return sorted(layer.name for layer in result.graph.layers if layer.kind == "module")


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has ended: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def pipeline(tmp_path: Path) -> Any:
    with Pipeline(tmp_path / "cache", worker=Worker(jobs=2)) as pipe:
        yield pipe


def test_a_monkeypatch_never_reaches_the_next_diagram(pipeline: Pipeline) -> None:
    """Issue 14 D6: the first model patches nn.Sequential.forward; the second is traced
    in a clean state, by the same warm parent, and its graph (and cache entry) is honest."""
    patcher = pipeline.diagram(parse_options({"factory": "models_worker:make_patcher", **X}))
    assert patcher.graph.model == "Linear"
    innocent = pipeline.diagram(parse_options({"factory": "models_worker:make_innocent", **X}))
    assert len(layers(innocent)) == 3
    assert pipeline.worker.parents == 1  # no restart bought the isolation


def test_two_diagrams_in_one_sphinx_build_are_isolated(make_app: Any, tmp_path: Path) -> None:
    src = tmp_path / "site"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["model_diagram"]\nmodel_diagram_jobs = 1\n')
    (src / "index.rst").write_text(
        "Isolation\n=========\n\n"
        ".. model-diagram:: models_worker:make_patcher\n   :input: float[2,8]\n\n"
        ".. model-diagram:: models_worker:make_innocent\n   :input: float[2,8]\n"
    )
    app = make_app("html", srcdir=src)
    try:
        app.build()
        assert app.statuscode == 0 and "WARNING" not in app.warning.getvalue()
        html = (Path(app.outdir) / "index.html").read_text("utf-8")
    finally:
        app.cleanup()
    svgs = BeautifulSoup(html, "html.parser").select("svg.model-diagram-svg")
    assert len(svgs) == 2
    innocent = " ".join(t.get_text() for t in svgs[1].select("text"))
    assert innocent.count("Linear") == 2 and "ReLU" in innocent


def test_a_timeout_kills_the_processes_the_model_started(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """Issue 14 D11: the child's whole process group ends with it."""
    pid_file = tmp_path / "pid"
    options = parse_options(
        {
            "factory": "models_worker:make_starts_process_and_hangs",
            "factory-kwargs": {"pid_file": str(pid_file)},
            "timeout": 3,
            "device": "cpu",
            **X,
        }
    )
    with pytest.raises(TraceError, match="timed out after 3 s"):
        pipeline.diagram(options)
    sleeper = int(pid_file.read_text())
    assert wait_dead(sleeper), "the model's own process outlived the timeout"


def test_a_fork_followed_by_a_crash_is_a_crash(pipeline: Pipeline, tmp_path: Path) -> None:
    """Issue 14 D11: the forked process holds the pipes open; the crash is still seen
    at once, as a crash, and the forked process is killed too."""
    pid_file = tmp_path / "pid"
    options = parse_options(
        {
            "factory": "models_worker:make_forks_then_crashes",
            "factory-kwargs": {"pid_file": str(pid_file)},
            "timeout": 60,
            "device": "cpu",
            **X,
        }
    )
    started = time.monotonic()
    with pytest.raises(TraceError, match=r"died \(exit code 5\)") as info:
        pipeline.diagram(options)
    assert "timed out" not in info.value.message
    assert time.monotonic() - started < 30
    assert wait_dead(int(pid_file.read_text()))


def test_output_is_bounded(pipeline: Pipeline) -> None:
    """Issue 14 D12: 32 MiB of prints; the error keeps the end, a few hundred bytes."""
    options = parse_options({"factory": "models_worker:make_chatty", "device": "cpu", **X})
    with pytest.raises(TraceError) as info:
        pipeline.diagram(options)
    assert "LAST WORDS" in info.value.message
    assert len(info.value.message) < 1500 and len(info.value.detail) < 1000
    # the next diagram does not pay for it
    assert layers(pipeline.diagram(parse_options({"factory": "models:make_mlp", **X})))


def test_a_model_that_kills_the_parent_fails_alone(pipeline: Pipeline) -> None:
    """The diagrams traced beside it are traced again by a new parent; the killer gets
    the error (the build survives, with a located warning from the front end)."""
    worker = pipeline.worker
    killer = pipeline.submit(parse_options({"factory": "models_worker:make_kills_parent", **X}))
    others = [
        pipeline.submit(parse_options({"factory": f, **X}))
        for f in ("models:make_mlp", "models:make_branchy", "models_worker:make_innocent")
    ]
    with pytest.raises(TraceError, match="parent process died") as info:
        killer.result()
    assert "kill its parent" in info.value.message
    assert [o.result().graph.model for o in others] == ["Sequential", "Branchy", "Sequential"]
    assert worker.parents >= 2


def test_memory_limit_turns_a_runaway_into_an_error(pipeline: Pipeline) -> None:
    options = parse_options(
        {"factory": "models_worker:make_hungry", "memory-limit": "512MiB", "device": "cpu", **X}
    )
    with pytest.raises(TraceError) as info:
        pipeline.diagram(options)
    assert re.search(r"memory|allocate", info.value.message), info.value.message
    assert layers(pipeline.diagram(parse_options({"factory": "models:make_mlp", **X})))


def test_running_out_of_memory_is_never_cached(pipeline: Pipeline) -> None:
    """memory-limit is not part of the trace key: a cached out-of-memory failure stayed
    after the limit was raised (and a small CI runner's one, on every machine after)."""
    values = {"factory": "models_worker:make_hungry", "factory-kwargs": {"mib": 512}, **X}
    tight = parse_options({**values, "memory-limit": "128MiB", "device": "cpu"})
    with pytest.raises(TraceError, match=r"memory-limit \(128 MiB\): raise it"):
        pipeline.diagram(tight)
    assert not pipeline.cache.has_trace(trace_key(tight, pipeline.cache))
    roomy = parse_options({**values, "memory-limit": "2GiB", "device": "cpu"})
    assert layers(pipeline.diagram(roomy)) == ["Linear"]


def test_children_run_at_once(pipeline: Pipeline, tmp_path: Path) -> None:
    stamps = [tmp_path / f"stamp{i}" for i in range(2)]
    pending = [
        pipeline.submit(
            parse_options(
                {
                    "factory": "models_worker:make_stamps",
                    "factory-kwargs": {"stamp_file": str(stamp), "seconds": 2.0},
                    "device": "cpu",
                    **X,
                }
            )
        )
        for stamp in stamps
    ]
    for job in pending:
        assert job.result().graph.model == "Stamps"
    (a0, a1), (b0, b1) = (map(float, s.read_text().split()) for s in stamps)
    assert a0 < b1 and b0 < a1, "the two children did not overlap"
    assert pipeline.worker.parents == 1


def test_spawn_fallback_isolates_too(tmp_path: Path) -> None:
    """Where fork is unavailable each child is a fresh interpreter: same results."""
    with Pipeline(tmp_path / "cache", worker=Worker(jobs=1, start_method="spawn")) as pipe:
        pipe.diagram(parse_options({"factory": "models_worker:make_patcher", **X}))
        innocent = pipe.diagram(parse_options({"factory": "models_worker:make_innocent", **X}))
        assert len(layers(innocent)) == 3
        with pytest.raises(TraceError, match=r"died \(exit code 3\)"):
            pipe.diagram(parse_options({"factory": "models:make_exit", **X}))


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    worker = Worker(jobs=1)
    pipe = Pipeline(tmp_path / "cache", worker=worker)
    pid_file = tmp_path / "pid"
    job = pipe.submit(
        parse_options(
            {
                "factory": "models_worker:make_starts_process_and_hangs",
                "factory-kwargs": {"pid_file": str(pid_file)},
                "device": "cpu",
                **X,
            }
        )
    )
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    parent = worker._proc.pid if worker._proc else 0
    pipe.close()
    with pytest.raises(TraceError, match="stopped"):
        job.result()
    assert wait_dead(parent) and wait_dead(int(pid_file.read_text()))


def test_automatic_jobs_fit_the_machine() -> None:
    jobs = auto_jobs()
    assert 1 <= jobs <= max(1, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_the_parent_names_what_a_model_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    """A child reports the packages its model loaded; the parent names their installed
    distributions. What torch imports for itself inside the child (sympy, for the meta
    device's shape checks) is torch's: a meta-traced model of plain torch names none."""
    from importlib.metadata import version

    from model_diagram.pipeline import trace_options

    (tmp_path / "souped.py").write_text(
        "import bs4\nfrom torch import nn\n\n\ndef make():\n    return nn.Linear(8, 4)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    options = parse_options({"factory": "souped:make", **X})
    request = {"factory": options.factory, "options": trace_options(options)}
    worker = Worker(jobs=1, start_method=start_method)
    try:
        for _ in range(2):  # the first reply, and one after the map was made
            reply = worker.run(request, timeout=120)
            assert "tops" not in reply
            assert reply["dists"]["beautifulsoup4"] == version("beautifulsoup4")
            assert not {"torch", "torchview", "model_diagram"} & set(reply["dists"])
        meta = parse_options(
            {"factory": "models:make_mlp", "input": "float[2,8]", "device": "meta"}
        )
        reply = worker.run({"factory": meta.factory, "options": trace_options(meta)}, timeout=120)
        assert reply["ok"] and reply["device"] == "meta", reply
        assert reply["dists"] == {}, reply["dists"]
    finally:
        worker.stop()


def test_children_use_the_parents_code_only_for_the_same_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent compiles the project files a child reported, for later children;
    a file edited between two diagrams of one build is traced as it is now."""
    from model_diagram import loader
    from model_diagram.pipeline import trace_options

    model = tmp_path / "shared_layers.py"
    model.write_text("from torch import nn\n\n\ndef make():\n    return nn.Linear(8, 4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    options = parse_options({"factory": "shared_layers:make", **X})
    request = {"factory": options.factory, "options": trace_options(options)}
    worker = Worker(jobs=1)
    try:
        first = worker.run(request, timeout=120)
        assert [layer["name"] for layer in first["graph"]["layers"]].count("Linear") == 1
        model.write_text(
            "from torch import nn\n\n\ndef make():\n"
            "    return nn.Sequential(nn.Linear(8, 4), nn.ReLU())\n"
        )
        second = worker.run(request, timeout=120)
        names = [layer["name"] for layer in second["graph"]["layers"]]
        assert "ReLU" in names, names
        assert second["files"] != first["files"]
        assert worker.parents == 1
    finally:
        worker.stop()

    # in this process: the code compiled for a digest serves that source, and no other
    digest = loader.file_digest(model)
    loader.compile_for_children({str(model.resolve()): digest})
    compiled = loader._COMPILED[str(model.resolve()), digest]
    fresh = loader._FreshSourceLoader("shared_layers", str(model))
    assert fresh.get_code("shared_layers") is compiled
    model.write_text("from torch import nn\n\n\ndef make():\n    return nn.ReLU()\n")
    assert fresh.get_code("shared_layers") is not compiled

    # the report comes from a child that ran the model: a FIFO it names is never opened
    # for a blocking read, and files outside the project are not read at all
    fifo = tmp_path / "blocks.py"
    os.mkfifo(fifo)
    done = threading.Event()
    reported = {str(fifo): "0" * 64, "/dev/zero": "0" * 64, "/etc/hostname": "0" * 64}
    threading.Thread(
        target=lambda: (loader.compile_for_children(reported), done.set()), daemon=True
    ).start()
    assert done.wait(10), "compiling a reported FIFO blocked the parent"


def test_a_child_reads_only_the_modules_loaded_since_it_was_forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dependencies`` walks back from the newest module to the fork's snapshot; a
    project module loaded before it is still named, and a snapshot whose newest module
    is gone means every name is read."""
    import importlib
    import sys

    from model_diagram import loader

    names = ("early_part", "newest_part", "late_part")
    for name in names:
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("early_part")  # a project module loaded before the fork
    baseline = loader.loaded_before()
    assert "early_part" not in baseline
    importlib.import_module("newest_part")
    baseline.add("newest_part")
    snapshot = loader.Loaded.now(baseline)
    assert snapshot.newest == "newest_part"
    importlib.import_module("late_part")
    files, _ = loader.dependencies(baseline, snapshot)
    # (this test's own modules are project files loaded before the snapshot too)
    assert {"early_part.py", "late_part.py"} <= {Path(p).name for p in files}
    assert snapshot.since() == ["late_part"]
    gone = loader.Loaded("no_such_module_was_ever_loaded", None, ())
    assert len(gone.since()) == len(sys.modules)
    # the snapshot's newest module removed and imported again: it now sits after
    # late_part, so stopping at its name would miss late_part; every name is read
    sys.modules.pop(snapshot.newest)
    importlib.import_module(snapshot.newest)
    assert "late_part" in snapshot.since()
    assert len(snapshot.since()) == len(sys.modules)
    for name in names:
        sys.modules.pop(name)


def test_the_parent_asks_for_huge_pages_unless_the_user_chose() -> None:
    """glibc's ``hugetlb`` tunable puts the warm parent's heap (torch's 85 MiB) on
    transparent huge pages, so each fork copies fewer page-table entries; a value the
    user set, for it or for other tunables, is kept."""
    import platform

    from model_diagram.worker import _with_huge_pages

    assert _with_huge_pages("") == "glibc.malloc.hugetlb=1"
    assert _with_huge_pages("glibc.malloc.arena_max=2") == (
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    )
    assert _with_huge_pages("glibc.malloc.hugetlb=0") == "glibc.malloc.hugetlb=0"
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    libc, version = platform.libc_ver()
    if not mode.is_file() or "[never]" in mode.read_text() or libc != "glibc":
        pytest.skip("no transparent huge pages here")
    if tuple(int(p) for p in version.split(".")[:2]) < (2, 35):
        pytest.skip(f"glibc {version} has no hugetlb tunable")
    worker = Worker(jobs=1)
    try:
        worker.start()
        assert worker._ready.wait(120)
        assert worker._proc is not None
        rollup = Path(f"/proc/{worker._proc.pid}/smaps_rollup").read_text()
    finally:
        worker.stop()
    huge = int(re.search(r"AnonHugePages:\s+(\d+) kB", rollup)[1])  # type: ignore[index]
    assert huge >= 16 * 1024, rollup


def test_preloaded_packages_are_imported_once_and_still_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``preload``: the parent imports a third-party package once, so a child finds it
    loaded (its model never imports it), still names its distribution for the cache
    key, and still imports a project module fresh even when it was preloaded too."""
    from importlib.metadata import version

    from model_diagram.pipeline import trace_options

    model = tmp_path / "sees_soup.py"
    source = (
        "import sys\nfrom torch import nn\n\n\ndef make():\n"
        "    return nn.Linear(8, 2 if 'bs4' in sys.modules else 3)\n"
    )
    model.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    options = parse_options({"factory": "sees_soup:make", **X})
    request = {"factory": options.factory, "options": trace_options(options)}

    def modules(reply: dict[str, Any]) -> list[tuple[str, list[list[int]]]]:
        layers = reply["graph"]["layers"]
        return [(layer["name"], layer["outputs"]) for layer in layers if layer["kind"] == "module"]

    plain = Worker(jobs=1)
    try:
        assert modules(plain.run(request, timeout=120)) == [("Linear", [[2, 3]])]
    finally:
        plain.stop()
    worker = Worker(jobs=1, preload=("bs4", "sees_soup"))
    try:
        reply = worker.run(request, timeout=120)
        assert modules(reply) == [("Linear", [[2, 2]])]
        assert reply["dists"]["beautifulsoup4"] == version("beautifulsoup4")
        assert "bs4" not in reply["imported"]  # the child did not import it: no suggestion
        model.write_text(
            source.replace("nn.Linear(8, 2 if 'bs4' in sys.modules else 3)", "nn.ReLU()")
        )
        assert modules(worker.run(request, timeout=120)) == [("ReLU", [[2, 8]])]
        assert worker.parents == 1
    finally:
        worker.stop()


@pytest.mark.parametrize("preload", [[], ["bs4"]])
def test_slow_imports_suggest_preload(make_app: Any, tmp_path: Path, preload: list[str]) -> None:
    """Two diagrams whose module takes 0.6 s to import (it imports bs4 and sleeps):
    the build's summary suggests preloading the third-party packages both traces
    loaded, as an info line (``-W`` does not fail); what is preloaded already is not
    suggested."""
    src = tmp_path / "site"
    src.mkdir()
    (src / "slow_soup.py").write_text(
        "import time\n\nimport bs4  # noqa: F401\nfrom torch import nn\n\ntime.sleep(0.6)\n\n\n"
        "def make(width=4):\n    return nn.Linear(8, width)\n"
    )
    (src / "conf.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\n"
        f'extensions = ["model_diagram"]\nmodel_diagram_preload = {preload!r}\n'
    )
    (src / "index.rst").write_text(
        "Slow\n====\n\n"
        ".. model-diagram:: slow_soup:make\n   :input: float[2,8]\n\n"
        ".. model-diagram:: slow_soup:make\n   :input: float[2,8]\n   :factory-kwargs: {width: 3}\n"
    )
    app = make_app("html", srcdir=src, warningiserror=True)
    try:
        app.build()
        status = app.status.getvalue()
        assert app.statuscode == 0 and "WARNING" not in app.warning.getvalue()
    finally:
        app.cleanup()
    hint = re.search(
        r"model-diagram: each trace took ([\d.]+) s \(median\) and imported the same "
        r"packages itself; model_diagram_preload = (\[.*\]) imports them once",
        status,
    )
    if preload:
        assert hint is None or "'bs4'" not in hint[2], status
    else:
        assert hint is not None, status
        assert float(hint[1]) >= 0.5 and "'bs4'" in hint[2]


def test_the_suggested_preload_names_the_libraries_not_their_requirements() -> None:
    """Of what torch-rechub's models load, only ``torch_rechub`` is suggested: the
    packages it requires come with it, torch's own requirements are torch's, and a
    compiled module's internal name belongs to no distribution."""
    import sys

    from model_diagram import loader

    tops = ["torch_rechub", "sklearn", "pandas", "numpy", "sympy", "_cython_3_2_4"]
    assert loader.installed_packages(tops, tuple(sys.path)) == ["torch_rechub"]
    assert loader.installed_packages(["sklearn", "pandas"], tuple(sys.path)) == [
        "pandas",
        "sklearn",
    ]
