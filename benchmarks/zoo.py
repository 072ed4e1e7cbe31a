"""Coverage over real model libraries: which architectures draw, at which depth, and why not.

Every model type in the installed transformers' ``MODEL_MAPPING_NAMES`` (the AutoModel
registry, walked, not hand-picked), built from its default config with the sizes shrunk by
attribute name (``tests/models_zoo.py``), and every model class Torch-RecHub exports
(ranking, matching, multi-task, generative), at depths 1, 2, 3 and -1, two ways:

- **ours**: model-diagram's trace with the factory alone (inputs guessed, ``device: auto``);
- **torchview**: ``torchview.draw_graph`` by hand on CPU, on the same inputs (depth -1,
  which torchview rejects, is given to it as ``math.inf``).

A model whose tiny config cannot be built is listed as skipped with the reason and is not
counted. Each model runs in a forked child with a timeout (``--timeout``), ``--jobs`` at a
time; results are appended to ``--results`` (JSON lines), so a run can be stopped and
resumed. The summary goes to stdout and, with ``--write-docs``, to
``docs/_data/zoo-summary.csv`` and ``docs/_data/zoo-failures.csv`` (the "Model coverage"
page renders them).

    .venv/bin/python benchmarks/zoo.py --jobs 2 --write-docs
    .venv/bin/python benchmarks/zoo.py --only llama,t5,DIEN     # a few models
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import select
import signal
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

DEPTHS = (1, 2, 3, -1)
DATA = REPO / "docs" / "_data"


# -- which models


def transformers_types() -> dict[str, str]:
    """model_type -> family, for every entry of the AutoModel registry."""
    from transformers.models.auto import modeling_auto as auto

    causal = set(auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    return {t: ("decoder" if t in causal else "?") for t in auto.MODEL_MAPPING_NAMES}


def all_jobs() -> list[dict[str, str]]:
    import models_zoo

    jobs = [
        {"library": "transformers", "name": t, "family": f}
        for t, f in sorted(transformers_types().items())
    ]
    jobs += [
        {"library": "torch-rechub", "name": n, "family": family.replace("_", "-")}
        for n, (family, _) in models_zoo.rechub_models().items()
    ]
    return jobs


# -- one model, in a forked child


def reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:300]


def factory_of(job: dict[str, str]) -> tuple[str, dict[str, Any]]:
    if job["library"] == "transformers":
        return "models_zoo:transformers_model", {"model_type": job["name"]}
    return "models_zoo:rechub_model", {"name": job["name"]}


def family_of(model: Any, job: dict[str, str]) -> str:
    """decoder / encoder / encoder-decoder / multi-modal / vision / audio / other."""
    if job["library"] != "transformers":
        return job["family"]
    config = model.config
    main = getattr(model, "main_input_name", "input_ids")
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    if main == "input_ids" and getattr(config, "vision_config", None) is not None:
        return "multi-modal"
    if main == "input_ids":
        return job["family"] if job["family"] == "decoder" else "encoder"
    if main == "pixel_values":
        return "vision"
    if main in {"input_features", "input_values"}:
        return "audio"
    return "other"


def run_job(job: dict[str, str]) -> dict[str, Any]:
    """Both sides at every depth; never raises."""
    import torch
    import torchview

    from model_diagram.forward_inputs import build_inputs
    from model_diagram.loader import call_factory, import_object
    from model_diagram.options import TRACE, parse_options
    from model_diagram.trace import trace_diagram

    factory, kwargs = factory_of(job)
    result: dict[str, Any] = {**job, "ours": {}, "torchview": {}}
    try:
        model = call_factory(factory, import_object(factory), kwargs).eval()
    except BaseException as exc:
        return {**result, "skipped": reason(exc)}
    result["family"] = family_of(model, job)
    base = {"factory": factory, "factory-kwargs": kwargs}
    for depth in DEPTHS:
        try:
            traced = trace_diagram(parse_options({**base, "depth": depth}).stage_dict(TRACE))
            result["ours"][str(depth)] = {"ok": True, "device": traced["device"]}
        except BaseException as exc:
            result["ours"][str(depth)] = {"ok": False, "reason": reason(exc)}
    try:
        options = parse_options(base).stage_dict(TRACE)
        args, kw = build_inputs(options, "cpu", model)
    except BaseException as exc:
        for depth in DEPTHS:
            result["torchview"][str(depth)] = {"ok": False, "reason": f"inputs: {reason(exc)}"}
        return result
    for depth in DEPTHS:
        try:
            with torch.no_grad():
                torchview.draw_graph(
                    model,
                    input_data=list(args) if args else kw,
                    depth=math.inf if depth < 0 else depth,
                    device="cpu",
                    **(kw if args else {}),
                )
            result["torchview"][str(depth)] = {"ok": True}
        except BaseException as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            result["torchview"][str(depth)] = {"ok": False, "reason": reason(cause)}
    return result


def child(job: dict[str, str], fd: int) -> None:
    """Run in the forked child: write one JSON line to ``fd``, then exit without cleanup."""
    try:
        out = run_job(job)
    except BaseException:
        out = {**job, "skipped": "benchmark error: " + traceback.format_exc()[-300:]}
    os.write(fd, (json.dumps(out) + "\n").encode())
    os._exit(0)


def run_all(jobs: list[dict[str, str]], results: Path, parallel: int, timeout: float) -> None:
    """Fork ``parallel`` children at a time; a child past ``timeout`` is killed and recorded."""
    import torch
    import transformers  # noqa: F401  -- imported once, shared by every fork

    import models_zoo  # noqa: F401

    torch.set_num_threads(1)
    running: dict[int, tuple[int, dict[str, str], float, bytearray]] = {}
    pending = list(jobs)
    with results.open("a", encoding="utf-8") as sink:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read)
                    child(job, write)
                os.close(write)
                running[read] = (pid, job, time.monotonic(), bytearray())
            ready, _, _ = select.select(list(running), [], [], 1.0)
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                pid, job, started, buffer = running[fd]
                if chunk:
                    buffer.extend(chunk)
                    continue
                os.close(fd)
                os.waitpid(pid, 0)
                del running[fd]
                line = buffer.decode() or json.dumps({**job, "skipped": "child died"}) + "\n"
                sink.write(line)
                sink.flush()
                print(summary_line(json.loads(line)), flush=True)
            for fd, (pid, job, started, _) in list(running.items()):
                if time.monotonic() - started > timeout:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    os.close(fd)
                    del running[fd]
                    out = {**job, "ours": {}, "torchview": {}, "timeout": timeout}
                    sink.write(json.dumps(out) + "\n")
                    sink.flush()
                    print(f"{job['name']}: timed out after {timeout:.0f} s", flush=True)


def summary_line(out: dict[str, Any]) -> str:
    if "skipped" in out:
        return f"{out['name']}: skipped ({out['skipped'][:120]})"
    marks = [
        f"{d}:{'ok' if out[side].get(str(d), {}).get('ok') else 'FAIL'}"
        for side in ("ours", "torchview")
        for d in DEPTHS
    ]
    ours, torchview = " ".join(marks[:4]), " ".join(marks[4:])
    return f"{out['name']} [{out['family']}] ours {ours} | torchview {torchview}"


# -- the tables


def load(results: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The last record of each model (a resumed run may have re-run some)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for line in results.read_text("utf-8").splitlines():
        if line.strip():
            out = json.loads(line)
            latest[(out["library"], out["name"])] = out
    return latest


def tables(
    latest: dict[tuple[str, str], dict[str, Any]],
) -> tuple[list[list[str]], list[list[str]]]:
    """(summary rows per library/family, failure rows per model/side/depth)."""
    counts: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
        lambda: {f"{side}{d}": [0, 0] for side in ("ours", "torchview") for d in DEPTHS}
    )
    failures: list[list[str]] = []
    failed_at: dict[tuple[str, str, str, str, str], list[str]] = defaultdict(list)
    for (library, name), out in sorted(latest.items()):
        if "skipped" in out:
            failures.append([library, name, "-", "-", "skipped", out["skipped"]])
            continue
        family = "timed out" if "timeout" in out else out.get("family", "?")
        for side in ("ours", "torchview"):
            for d in DEPTHS:
                cell = out[side].get(str(d))
                if cell is None:
                    cell = {"ok": False, "reason": f"timed out after {out.get('timeout', '?')} s"}
                tally = counts[(library, family)][f"{side}{d}"]
                tally[1] += 1
                tally[0] += bool(cell["ok"])
                if not cell["ok"]:
                    failed_at[(library, name, family, side, cell["reason"])].append(str(d))
    for (library, name, family, side, why), depths in failed_at.items():
        failures.append([library, name, family, ", ".join(depths), side, why])
    summary = []
    for (library, family), tally in sorted(counts.items()):
        row = [library, family, str(tally["ours1"][1])]
        for d in DEPTHS:
            ours, torchview = tally[f"ours{d}"], tally[f"torchview{d}"]
            row.append(f"{ours[0]} / {torchview[0]}")
        summary.append(row)
    return summary, failures


SUMMARY_HEAD = ["library", "family", "models", "depth 1", "depth 2", "depth 3", "depth -1"]
FAILURE_HEAD = ["library", "model", "family", "depths", "side", "reason"]


def print_tables(summary: list[list[str]], failures: list[list[str]]) -> None:
    print("\ndrawn (ours / torchview by hand), per family and depth")
    widths = [max(len(r[i]) for r in [SUMMARY_HEAD, *summary]) for i in range(len(SUMMARY_HEAD))]
    for row in [SUMMARY_HEAD, *summary]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print("\nfailures and skipped models")
    for row in failures:
        if row[4] != "torchview":
            print(f"{row[0]} {row[1]} [{row[2]}] depths {row[3]} {row[4]}: {row[5]}")


def rst_text(text: str) -> str:
    """A table cell as plain text: csv-table reads cells as reStructuredText."""
    return re.sub(r"([\\`*_|<>\[\]:])", r"\\\1", " ".join(text.split()))


def write_docs(summary: list[list[str]], failures: list[list[str]]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    ours = [[rst_text(cell) for cell in row] for row in failures if row[4] != "torchview"]
    for path, head, rows in (
        (DATA / "zoo-summary.csv", SUMMARY_HEAD, summary),
        (DATA / "zoo-failures.csv", FAILURE_HEAD, ours),
    ):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(head)
            writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="models traced at once (forks)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per model")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--library", choices=["transformers", "torch-rechub"], default=None)
    parser.add_argument("--results", type=Path, default=HERE / "zoo-results.jsonl")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--report", action="store_true", help="only print the tables")
    parser.add_argument("--write-docs", action="store_true", help="write docs/_data/zoo-*.csv")
    args = parser.parse_args(argv)
    if args.fresh and args.results.exists():
        args.results.unlink()
    if not args.report:
        done = set(load(args.results)) if args.results.exists() else set()
        only = {n for n in args.only.split(",") if n}
        jobs = [
            job
            for job in all_jobs()
            if (not only or job["name"] in only)
            and (args.library in {None, job["library"]})
            and (only or (job["library"], job["name"]) not in done)
        ]
        print(f"{len(jobs)} models to trace ({len(done)} done earlier)", flush=True)
        run_all(jobs, args.results, args.jobs, args.timeout)
    summary, failures = tables(load(args.results))
    print_tables(summary, failures)
    if args.write_docs:
        write_docs(summary, failures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
