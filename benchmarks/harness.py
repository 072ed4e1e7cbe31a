"""Shared helpers of the benchmark scripts: timed runs, interleaving, tables, temp sites.

Every benchmark compares two ways of doing one job, A (model-diagram) and B (a
baseline), in one run: A and B alternate (A B A B ...), each side is summarised
by its median and the result is the ratio of medians. Absolute seconds are
printed for context only; they do not carry over between machines.

Memory: ``peak`` is the largest resident set of any single process of a run
(``ru_maxrss`` from ``os.wait4``, which covers reaped grandchildren such as the
worker; this process is made a child subreaper so that a grandchild orphaned by
its parent is reaped here and counted too). ``tree`` is the peak of the summed
resident sets of the whole process tree, sampled every 50 ms: it is what the
machine must hold at once when the docs process and the worker overlap.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
MIB = 1024 * 1024
CSV_PATH = REPO / "docs" / "_data" / "benchmarks.csv"
CSV_HEADER = ["Benchmark", "A", "B", "Median A", "Median B", "Ratio A/B", "Target", "Command"]

# -- running one command


@dataclass
class Sample:
    """One timed run of a command."""

    seconds: float
    peak: int  # bytes: largest single process (rusage), reaped descendants and orphans included
    tree: int  # bytes: sampled peak of the summed RSS of the process tree
    returncode: int
    stdout: str
    stderr: str
    orphans: int = 0  # descendants still alive when the command exited (reaped afterwards)
    extra: dict[str, int] = field(default_factory=dict)  # "workers": worker processes seen
    load: float = 0.0  # the machine's 1-minute load average when the run began
    cpu: float = 0.0  # seconds of CPU (user + system) of the command and every descendant


_SUBREAPER = False


def _become_subreaper() -> None:
    """Orphaned grandchildren (a worker its parent never waited for) get reaped here."""
    global _SUBREAPER  # noqa: PLW0603
    if _SUBREAPER or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    _SUBREAPER = True


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                text = (task / "children").read_text()
                found.extend(int(p) for p in text.split())
    return found


def _tree() -> tuple[int, list[int]]:
    """Summed RSS of every descendant of this process (itself excluded), and their pids."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    stack = _children(os.getpid())
    seen: list[int] = []
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        stack.extend(_children(pid))
    return total, seen


WORKER_MARK = b"model_diagram.worker"


def _is_worker_parent(pid: int) -> bool:
    """A worker's warm parent; its forked children share its command line, so a process
    whose own parent is a worker is one of its children, not another worker."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        if WORKER_MARK not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return WORKER_MARK not in Path(f"/proc/{ppid}/cmdline").read_bytes()
    return False


class _Sampler(threading.Thread):
    """Peak summed RSS of the tree, and the model-diagram worker processes seen in it."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self.workers: set[int] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total, pids = _tree()
            self.peak = max(self.peak, total)
            for pid in pids:
                if pid in self.workers:
                    continue
                # read again each time: between fork and exec a child shows its parent's
                if _is_worker_parent(pid):
                    self.workers.add(pid)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def _as_installed(env: dict[str, str] | None) -> dict[str, str]:
    """The environment with bytecode writing on, as a user's Python has it: pip compiles
    Sphinx and MkDocs when it installs them, and an editable model-diagram compiles on
    its first import. A shell with PYTHONDONTWRITEBYTECODE set would recompile only our
    sources on every run and charge that to model-diagram."""
    found = dict(os.environ if env is None else env)
    found.pop("PYTHONDONTWRITEBYTECODE", None)
    return found


def run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    orphan_timeout: float = 60.0,
) -> Sample:
    """Run ``command`` to completion; wall time to its exit, peak memory of its whole tree."""
    _become_subreaper()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sampler = _Sampler()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=_as_installed(env), stdout=out, stderr=err
        )
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024
        cpu = usage.ru_utime + usage.ru_stime
        orphans = 0
        deadline = time.monotonic() + orphan_timeout
        while True:  # grandchildren re-parented to us when their parent exited first
            try:
                pid, _, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if time.monotonic() > deadline:
                    print(f"harness: a descendant of {command[0]} outlived it", file=sys.stderr)
                    break
                time.sleep(0.01)
                continue
            orphans += 1
            peak = max(peak, usage.ru_maxrss * 1024)
            cpu += usage.ru_utime + usage.ru_stime
        tree = max(sampler.stop(), 0)
        out.seek(0)
        err.seek(0)
        return Sample(
            seconds,
            peak,
            max(tree, peak),  # a sub-50 ms process can slip between samples
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            orphans,
            {"workers": len(sampler.workers)},
            load,
            cpu,
        )


# -- interleaving


@dataclass
class Case:
    """One side of a comparison: the command, untimed preparation, a result check."""

    name: str
    label: str
    command: Sequence[str]
    cwd: Path | None = None
    env: dict[str, str] | None = None
    prepare: Callable[[], object] | None = None
    check: Callable[[Sample], object] | None = None


class BenchError(RuntimeError):
    pass


def interleave(cases: Sequence[Case], rounds: int, warmup: int = 1) -> dict[str, list[Sample]]:
    """Run the cases A B A B ... ``rounds`` times after ``warmup`` untimed rounds."""
    results: dict[str, list[Sample]] = {case.name: [] for case in cases}
    for index in range(warmup + rounds):
        tag = "warm-up" if index < warmup else f"round {index - warmup + 1}/{rounds}"
        for case in cases:
            if case.prepare is not None:
                case.prepare()
            sample = run(case.command, cwd=case.cwd, env=case.env)
            if sample.returncode != 0:
                raise BenchError(
                    f"{case.name} exited with {sample.returncode}:\n{shlex.join(case.command)}\n"
                    f"{sample.stdout[-2000:]}\n{sample.stderr[-4000:]}"
                )
            if case.check is not None:
                case.check(sample)
            if index >= warmup:
                results[case.name].append(sample)
            print(
                f"  {tag:>13}  {case.name}: {sample.seconds:6.2f} s  {sample.peak / MIB:6.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
    return results


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Summary:
    seconds: float
    peak: float  # MiB
    tree: float  # MiB
    cpu: float = 0.0  # seconds of CPU, all processes of the run


def summarize(samples: Sequence[Sample]) -> Summary:
    return Summary(
        median([s.seconds for s in samples]),
        median([s.peak for s in samples]) / MIB,
        median([s.tree for s in samples]) / MIB,
        median([s.cpu for s in samples]),
    )


def cell(summary: Summary) -> str:
    """A median for the results table: time, and the peak memory of all the run's processes."""
    return f"{summary.seconds:.2f} s; {summary.tree:.0f} MiB"


def verdict(value: float, limit: float, *, strict: bool = False) -> str:
    ok = value < limit if strict else value <= limit
    return "met" if ok else "MISSED"


def print_table(
    title: str,
    cases: Sequence[Case],
    results: dict[str, list[Sample]],
    rounds: int,
    *,
    ratio: bool = True,
) -> dict[str, Summary]:
    """Medians per case, then the ratio line of the first two cases (A/B) if ``ratio``."""
    summaries = {case.name: summarize(results[case.name]) for case in cases}
    width = max(len(case.label) for case in cases) + 4
    loads = [s.load for case in cases for s in results[case.name]]
    print(f"\n{title}")
    print(
        f"{rounds} rounds, interleaved {' '.join(c.name for c in cases)} ...; medians; "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'case':<{width}} {'time s':>8} {'CPU s':>6} {'peak MiB':>9} {'tree MiB':>9}   runs (s)"
    )
    for case in cases:
        s = summaries[case.name]
        runs = " ".join(f"{x.seconds:.2f}" for x in results[case.name])
        label = f"{case.name}  {case.label}"
        print(
            f"{label:<{width}} {s.seconds:8.2f} {s.cpu:6.2f} {s.peak:9.0f} {s.tree:9.0f}   {runs}"
        )
    if ratio and len(cases) >= 2:
        a, b = summaries[cases[0].name], summaries[cases[1].name]
        name = f"{cases[0].name}/{cases[1].name}"
        pairs = sorted(
            x.seconds / y.seconds
            for x, y in zip(results[cases[0].name], results[cases[1].name], strict=True)
        )
        print(
            f"{name:<{width}} {a.seconds / b.seconds:8.2f} {a.cpu / b.cpu:5.2f}x "
            f"{a.peak / b.peak:8.2f}x "
            f"{a.tree / b.tree:8.2f}x   per round: {' '.join(f'{p:.2f}' for p in pairs)}"
        )
    return summaries


def record(row: Sequence[str], path: Path = CSV_PATH) -> None:
    """Replace (or append) the row whose first cell is ``row[0]`` in the results CSV."""
    rows: list[list[str]] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    if not rows:
        rows = [CSV_HEADER]
    for index, existing in enumerate(rows):
        if index and existing and existing[0] == row[0]:
            rows[index] = list(row)
            break
    else:
        rows.append(list(row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    print(f"recorded {row[0]!r} in {path.relative_to(REPO)}")


def cli_args(
    default_rounds: int, description: str, *, diagrams: str | None = None
) -> tuple[int, bool, bool]:
    """``--rounds N``, ``--record`` (write the CSV row), ``--keep`` (keep the temp dir);
    with ``diagrams`` (its default), also ``--diagrams 4,60``: see :data:`SIZES`."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=default_rounds)
    if diagrams is not None:
        parser.add_argument(
            "--diagrams", default=diagrams, help="site sizes to measure, comma-separated"
        )
    parser.add_argument(
        "--record", action="store_true", help="write the result into docs/_data/benchmarks.csv"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary sites")
    args = parser.parse_args()
    if diagrams is not None:
        SIZES[:] = [int(n) for n in args.diagrams.split(",")]
    return args.rounds, args.record, args.keep


@contextlib.contextmanager
def workdir(keep: bool, prefix: str) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"md-bench-{prefix}-"))
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def fresh(path: Path) -> Callable[[], None]:
    """A ``prepare`` step: delete ``path`` (an output dir or a cache)."""

    def prepare() -> None:
        shutil.rmtree(path, ignore_errors=True)

    return prepare


# -- builds run in-process by a small wrapper, the same for A and B

TORCH_MARK = "BENCH torch_imported="

_SPHINX_WRAPPER = f"""
import sys
from sphinx.cmd.build import build_main
code = build_main(sys.argv[1:])
print({TORCH_MARK!r} + str("torch" in sys.modules), flush=True)
sys.exit(code)
"""

_MKDOCS_WRAPPER = f"""
import sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
config = load_config(config_file=sys.argv[1], site_dir=sys.argv[2])
config.plugins.on_startup(command="build", dirty=False)
try:
    build(config)
finally:
    config.plugins.on_shutdown()
print({TORCH_MARK!r} + str("torch" in sys.modules), flush=True)
"""


def sphinx_command(src: Path, out: Path, *extra: str) -> list[str]:
    """``sphinx-build -b html src out`` in-process, then report whether torch was imported."""
    return [PYTHON, "-c", _SPHINX_WRAPPER, "-b", "html", *extra, str(src), str(out)]


def mkdocs_command(config: Path, site_dir: Path) -> list[str]:
    return [PYTHON, "-c", _MKDOCS_WRAPPER, str(config), str(site_dir)]


def torch_imported(sample: Sample) -> bool:
    found = re.findall(re.escape(TORCH_MARK) + r"(True|False)", sample.stdout)
    if not found:
        raise BenchError(f"no {TORCH_MARK!r} line in the build's output:\n{sample.stdout[-2000:]}")
    return str(found[-1]) == "True"


# -- the benchmark sites

#: factory, directive/YAML options, and the same inputs as torchview's ``input_data``
MODELS = [
    ("make_cnn", {"input": "float[2,3,32,32]"}, "torch.randn(2, 3, 32, 32)"),
    (
        "make_transformer",
        {"kwargs": '{input_ids: "long[2,16](0,1000)"}'},
        '{"input_ids": torch.randint(0, 1000, (2, 16))}',
    ),
    (
        "make_recommender",
        {"input": '{user_id: "long[2](0,1000)", age: "float[2]", hist: "long[2,10](0,1000)"}'},
        '({"user_id": torch.randint(0, 1000, (2,)), "age": torch.rand(2), '
        '"hist": torch.randint(0, 1000, (2, 10))},)',
    ),
    ("make_resnet", {"input": "float[2,3,32,32]"}, "torch.randn(2, 3, 32, 32)"),
]
#: diagrams on the benchmark site (one per page); see :func:`use_diagrams`
DIAGRAMS = 8
#: the site sizes a script measures (``--diagrams``)
SIZES: list[int] = [DIAGRAMS]
DEPTH = 2


def use_diagrams(count: int) -> None:
    """Build the sites, models and hand script with ``count`` diagrams from now on."""
    global DIAGRAMS  # noqa: PLW0603
    DIAGRAMS = count


def diagram(i: int) -> tuple[str, str, dict[str, str], str]:
    """Diagram ``i``: module name, ``module:factory``, options, torchview input expression."""
    factory, options, hand = MODELS[i % len(MODELS)]
    return f"m{i}", f"m{i}:{factory}", {**options, "depth": str(DEPTH)}, hand


def write_models(root: Path) -> Path:
    """``root/models/m0.py`` ... : copies of bench_models.py, one per diagram."""
    folder = root / "models"
    folder.mkdir(parents=True, exist_ok=True)
    template = (HERE / "bench_models.py").read_text("utf-8")
    for i in range(DIAGRAMS):
        (folder / f"m{i}.py").write_text(template, "utf-8")
    return folder


def edit_model(models: Path, i: int, width: int) -> None:
    """Change ``WIDTH`` in ``m<i>.py``, as a user editing that model would."""
    path = models / f"m{i}.py"
    text = path.read_text("utf-8")
    new = re.sub(r"^WIDTH = \d+$", f"WIDTH = {width}", text, count=1, flags=re.MULTILINE)
    if new == text:
        raise BenchError(f"no change made to {path}")
    path.write_text(new, "utf-8")


_PROSE = (
    "This page documents one model of the benchmark site. The text around the figure "
    "is ordinary prose, so that reading the page costs what reading a real page costs: "
    "paragraphs, a list, a code block and cross-references."
)


def _rst_page(i: int, figure: str) -> str:
    module, target, _, _ = diagram(i)
    return f"""Model {i}
{"=" * (6 + len(str(i)))}

{_PROSE}

- module ``{module}``, factory ``{target}``;
- depth {DEPTH}; see :doc:`index`.

{figure}
After the figure, more text, and an example::

    from {module} import {target.split(":")[1]}
    model = {target.split(":")[1]}()

{_PROSE}
"""


def write_sphinx_site(src: Path, models: Path, cache: Path | None, *, static: bool = False) -> Path:
    """One index and ``DIAGRAMS`` pages, one diagram each.

    ``cache``: the extension is enabled and caches there. ``static``: the figures are
    ``.. figure:: diagrams/m<i>.svg`` (the baseline) instead of directives.
    """
    src.mkdir(parents=True, exist_ok=True)
    conf = [
        "import sys",
        f"sys.path.insert(0, {str(models)!r})",
        'project = "bench"',
        f"extensions = {['model_diagram'] if cache else []!r}",
        'exclude_patterns = ["_build"]',
    ]
    if cache:
        conf.append(f"model_diagram_cache_dir = {str(cache)!r}")
    (src / "conf.py").write_text("\n".join(conf) + "\n", "utf-8")
    toc = "\n".join(f"   page{i}" for i in range(DIAGRAMS))
    (src / "index.rst").write_text(
        f"Benchmark site\n==============\n\n{_PROSE}\n\n.. toctree::\n\n{toc}\n", "utf-8"
    )
    for i in range(DIAGRAMS):
        module, target, options, _ = diagram(i)
        caption = f"Model {i}: ``{target}`` at depth {DEPTH}."
        if static:
            figure = f".. figure:: diagrams/{module}.svg\n   :alt: {module}\n\n   {caption}\n"
        else:
            lines = [f".. model-diagram:: {target}"]
            lines += [f"   :{key}: {value}" for key, value in options.items()]
            figure = "\n".join(lines) + f"\n\n   {caption}\n"
        (src / f"page{i}.rst").write_text(_rst_page(i, figure), "utf-8")
    return src


def write_mkdocs_site(
    root: Path, models: Path, cache: Path | None, *, static: bool = False
) -> Path:
    """The same site for MkDocs (material theme); returns its ``mkdocs.yml``.

    ``cache``: the plugin is enabled; ``static``: ``![](img/m<i>.svg)`` images.
    """
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    plugins = "  - search\n"
    if cache is not None:
        plugins += f"  - model-diagram:\n      cache_dir: {cache}\n      paths: [{models}]\n"
    nav = "\n".join(f"  - Model {i}: page{i}.md" for i in range(DIAGRAMS))
    config = root / "mkdocs.yml"
    config.write_text(
        f"site_name: bench\ndocs_dir: docs\ntheme:\n  name: material\n"
        f"nav:\n  - Home: index.md\n{nav}\nplugins:\n{plugins}",
        "utf-8",
    )
    (docs / "index.md").write_text(f"# Benchmark site\n\n{_PROSE}\n", "utf-8")
    for i in range(DIAGRAMS):
        module, target, options, _ = diagram(i)
        caption = f"Model {i}: {target} at depth {DEPTH}."
        if static:
            figure = f"![{caption}](img/{module}.svg)\n"
        else:
            body = "\n".join(
                [
                    f"factory: {target}",
                    *(f"{k}: {v}" for k, v in options.items()),
                    f"caption: {json.dumps(caption)}",
                ]
            )
            figure = f"```model-diagram\n{body}\n```\n"
        (docs / f"page{i}.md").write_text(
            f"# Model {i}\n\n{_PROSE}\n\n- module `{module}`, factory `{target}`;\n"
            f"- depth {DEPTH}; see [the index](index.md).\n\n{figure}\n"
            f"After the figure, more text, and an example:\n\n```python\n"
            f"from {module} import {target.split(':')[1]}\n```\n\n{_PROSE}\n",
            "utf-8",
        )
    return config


def svgs_from_cache(models: Path, cache: Path, dest: Path) -> None:
    """The cached diagrams as standalone SVG files (cache lookups only: no worker)."""
    from model_diagram.options import parse_options
    from model_diagram.pipeline import Pipeline
    from model_diagram.rendering import standalone_svg

    dest.mkdir(parents=True, exist_ok=True)
    with Pipeline(cache) as pipeline:
        for i in range(DIAGRAMS):
            module, target, options, _ = diagram(i)
            values = {"factory": target, **options}
            found = pipeline.lookup(parse_options(values, strings=True))
            if found is None:
                raise BenchError(f"{target} was not in the cache")
            (dest / f"{module}.svg").write_text(standalone_svg(found.result().svg), "utf-8")


HAND_SCRIPT = '''"""The site's diagrams by hand: torchview's draw_graph on CPU, then Graphviz."""
import importlib
import sys
from pathlib import Path

import torch
from torchview import draw_graph

sys.path.insert(0, {models!r})
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
for module, factory, make_inputs in {jobs}:
    model = getattr(importlib.import_module(module), factory)()
    graph = draw_graph(model, input_data=make_inputs(), depth={depth}, device="cpu")
    (out / f"{{module}}.svg").write_bytes(graph.visual_graph.pipe(format="svg"))
'''


def write_hand_script(path: Path, models: Path) -> Path:
    jobs = ", ".join(
        f'("{diagram(i)[0]}", "{diagram(i)[1].split(":")[1]}", lambda: {diagram(i)[3]})'
        for i in range(DIAGRAMS)
    )
    path.write_text(HAND_SCRIPT.format(models=str(models), jobs=f"[{jobs}]", depth=DEPTH), "utf-8")
    return path


# -- checking what a build produced


def count_inline_diagrams(out: Path) -> int:
    """Inline model-diagram SVGs in a Sphinx or MkDocs output; an error placeholder raises."""
    found = 0
    for page in out.rglob("*.html"):
        text = page.read_text("utf-8", "replace")
        if "model-diagram-error" in text:
            raise BenchError(f"{page} has a model-diagram error placeholder")
        found += len(re.findall(r'<div class="model-diagram-canvas"[^>]*>\s*<svg', text))
    return found


def count_static_figures(out: Path) -> int:
    return sum(
        len(re.findall(r'<img[^>]+src="[^"]*m\d+\.svg"', page.read_text("utf-8", "replace")))
        for page in out.rglob("*.html")
    )


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def command_line(script: str) -> str:
    """The command that ran this benchmark, as typed from the repository root."""
    return shlex.join([".venv/bin/python", f"benchmarks/{script}", *sys.argv[1:]])
