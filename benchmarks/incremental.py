"""incremental: edit one model file and rebuild, against a warm rebuild with no change.

Both sides are incremental ``sphinx-build`` runs on the same output directory and
cache. A changes ``WIDTH`` in ``m3.py`` (one diagram's model) before building; B
changes nothing. Target: each A rebuild traces exactly one diagram, counted twice:
manifests rewritten in the cache directory, and the extension's own summary line
(``model-diagram: N diagram(s) ... T traced``). The time ratio is reported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import harness as h

EDITED = 3


def manifest_times(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (cache / "manifests").glob("*.json")}


def traced_in_log(sample: h.Sample) -> int:
    """Diagrams traced according to the summary line (none printed: nothing was read)."""
    found = re.findall(
        r"model-diagram: \d+ diagram\(s\) on \d+ page\(s\): (\d+) traced", sample.stdout
    )
    return int(found[-1]) if found else 0


def main() -> int:
    rounds, record, keep = h.cli_args(5, __doc__.splitlines()[0])
    with h.workdir(keep, "incremental") as root:
        models = h.write_models(root)
        cache = root / "cache"
        site = h.write_sphinx_site(root / "sphinx", models, cache)
        out = root / "out"
        command = h.sphinx_command(site, out)  # not -q: the summary line counts traces
        first = h.run(command)
        h.expect(first.returncode == 0, f"the first build failed:\n{first.stderr}")

        edits = [0]
        before: dict[str, int] = {}
        counts: dict[str, list[tuple[int, int]]] = {"A": [], "B": []}

        def snapshot() -> None:
            before.clear()
            before.update(manifest_times(cache))

        def edit() -> None:
            edits[0] += 1
            h.edit_model(models, EDITED, 16 + 4 * edits[0])
            snapshot()

        def check(name: str, expected: int) -> Callable[[h.Sample], None]:
            def run_check(sample: h.Sample) -> None:
                after = manifest_times(cache)
                rewritten = sum(after[k] != before.get(k) for k in after)
                logged = traced_in_log(sample)
                counts[name].append((rewritten, logged))
                h.expect(not h.torch_imported(sample), "the docs process imported torch")
                h.expect("WARNING" not in sample.stderr, sample.stderr[-3000:])
                h.expect(h.count_inline_diagrams(out) == h.DIAGRAMS, "a diagram is missing")
                h.expect(
                    rewritten == expected and logged == expected,
                    f"{name}: {rewritten} manifests rewritten, {logged} traced in the log; "
                    f"expected {expected}",
                )

            return run_check

        cases = [
            h.Case("A", f"edit m{EDITED}.py, rebuild", command, prepare=edit, check=check("A", 1)),
            h.Case("B", "no change, rebuild", command, prepare=snapshot, check=check("B", 0)),
        ]
        results = h.interleave(cases, rounds)
        summaries = h.print_table("incremental, Sphinx (same output dir)", cases, results, rounds)
        a, b = summaries["A"], summaries["B"]
        rewritten = [c[0] for c in counts["A"][-rounds:]]
        logged = [c[1] for c in counts["A"][-rounds:]]
        workers = [s.extra["workers"] for s in results["A"]]
        exact = all(x == 1 for x in rewritten + logged)
        print(
            f"diagrams traced per A rebuild: manifests rewritten {rewritten}, summary line "
            f"{logged}, worker processes {workers}: exactly one ({'met' if exact else 'MISSED'}); "
            f"B traced {sum(c[0] for c in counts['B'])} in {len(counts['B'])} rebuilds"
        )
        print(f"time ratio A/B {a.seconds / b.seconds:.2f} (reported; A pays the worker's start)")
    if record:
        h.record(
            [
                "incremental",
                "edit one model file, rebuild",
                "warm rebuild, no change",
                h.cell(a),
                h.cell(b),
                f"{a.seconds / b.seconds:.2f}; {'1' if exact else 'NOT 1'} diagram traced "
                f"per edit in {rounds} of {rounds} rebuilds",
                "exactly one diagram traced",
                f"``{h.command_line('incremental.py')}``",
            ]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
