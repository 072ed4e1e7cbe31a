"""parallel: ``sphinx-build -j 2`` against ``-j 1`` on the cold 8-diagram site.

Both sides start from an empty cache and a fresh output directory. The site has
nine documents, so Sphinx reads in parallel (it does for more than five) in forked
chunks. The main process submits the misses its pre-scan finds before the readers
fork and joins every diagram after they merge, so one warm parent serves the build.
Targets: -j 2 never slower than -j 1 (ratio <= 1.00), one worker parent per build.
Then the same two on the site with static figures: Sphinx's own cost of ``-j 2``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import harness as h

TARGET = 1.00


def manifests(cache: Path) -> int:
    return len(list((cache / "manifests").glob("*.json")))


def main() -> int:
    rounds, record, keep = h.cli_args(5, __doc__.splitlines()[0])
    with h.workdir(keep, "parallel") as root:
        models = h.write_models(root)
        caches = {"A": root / "cache-a", "B": root / "cache-b"}
        outs = {"A": root / "out-a", "B": root / "out-b"}
        sites = {
            name: h.write_sphinx_site(root / f"sphinx-{name}", models, caches[name])
            for name in ("A", "B")
        }

        def prepare(name: str) -> Callable[[], None]:
            def clean() -> None:
                h.fresh(outs[name])()
                h.fresh(caches[name])()

            return clean

        def check(name: str) -> Callable[[h.Sample], None]:
            def run_check(sample: h.Sample) -> None:
                h.expect(not h.torch_imported(sample), "the docs process imported torch")
                h.expect(h.count_inline_diagrams(outs[name]) == h.DIAGRAMS, "missing diagram")
                traced = manifests(caches[name])
                h.expect(traced == h.DIAGRAMS, f"{traced} traces, not {h.DIAGRAMS}")
                parents = sample.extra["workers"]
                h.expect(parents == 1, f"{parents} worker parents in one build, not 1")

            return run_check

        cases = [
            h.Case(
                name,
                label,
                h.sphinx_command(sites[name], outs[name], "-q", "-j", jobs),
                prepare=prepare(name),
                check=check(name),
            )
            for name, label, jobs in (
                ("A", "sphinx-build -j 2", "2"),
                ("B", "sphinx-build -j 1", "1"),
            )
        ]
        results = h.interleave(cases, rounds)
        summaries = h.print_table("parallel, Sphinx, cold", cases, results, rounds)
        a, b = summaries["A"], summaries["B"]
        workers = {name: sorted({s.extra["workers"] for s in results[name]}) for name in "AB"}
        ratio = a.seconds / b.seconds
        print(
            f"worker parents per build: -j 2 {workers['A']}, -j 1 {workers['B']}; "
            f"time ratio {ratio:.2f} <= {TARGET:.2f} ({h.verdict(ratio, TARGET)}), "
            f"tree memory {a.tree / b.tree:.2f}x (reported)"
        )
        sphinx_own = static_ratio(root, models, caches["A"], rounds)
    if record:
        h.record(
            [
                "parallel",
                "cold ``sphinx-build -j 2``",
                "cold ``sphinx-build -j 1``",
                h.cell(a),
                h.cell(b),
                f"{ratio:.2f} ({h.verdict(ratio, TARGET)}); memory {a.tree / b.tree:.2f}x; "
                f"{'/'.join(map(str, workers['A']))} worker parent(s) vs "
                f"{'/'.join(map(str, workers['B']))}; Sphinx's own -j 2 / -j 1 on the "
                f"static site: {sphinx_own:.2f}",
                f"<= {TARGET:.2f}; one worker parent per build",
                f"``{h.command_line('parallel.py')}``",
            ]
        )
    return 0


def static_ratio(root: Path, models: Path, cache: Path, rounds: int) -> float:
    """Sphinx's own ``-j 2`` / ``-j 1`` on the same site with static figures: what
    parallel reading costs or gains before any diagram is involved."""
    site = h.write_sphinx_site(root / "sphinx-static", models, None, static=True)
    h.svgs_from_cache(models, cache, site / "diagrams")
    outs = {"C": root / "out-c", "D": root / "out-d"}

    def check(name: str) -> Callable[[h.Sample], None]:
        def run_check(sample: h.Sample) -> None:
            found = h.count_static_figures(outs[name])
            h.expect(found == h.DIAGRAMS, f"{found} static figures, not {h.DIAGRAMS}")

        return run_check

    cases = [
        h.Case(
            name,
            label,
            h.sphinx_command(site, outs[name], "-q", "-j", jobs),
            prepare=h.fresh(outs[name]),
            check=check(name),
        )
        for name, label, jobs in (
            ("C", "static site, sphinx-build -j 2", "2"),
            ("D", "static site, sphinx-build -j 1", "1"),
        )
    ]
    summaries = h.print_table(
        "parallel, Sphinx alone (static figures)", cases, h.interleave(cases, rounds), rounds
    )
    own = summaries["C"].seconds / summaries["D"].seconds
    print(f"Sphinx's own -j 2 / -j 1 on the static site: {own:.2f} (reported)")
    return own


if __name__ == "__main__":
    sys.exit(main())
