"""parallel: ``sphinx-build -j 2`` against ``-j 1`` on the cold 8-diagram site.

Both sides start from an empty cache and a fresh output directory. The site has
nine documents, so Sphinx reads in parallel (it does for more than five) in forked
chunks; every reader process that meets a cache miss starts its own worker. The
table shows the worker processes seen and the tree's peak memory next to time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import harness as h


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
        print(
            f"worker processes per build: -j 2 {workers['A']}, -j 1 {workers['B']}; "
            f"time ratio {a.seconds / b.seconds:.2f}, tree memory {a.tree / b.tree:.2f}x (reported)"
        )
    if record:
        h.record(
            [
                "parallel",
                "cold ``sphinx-build -j 2``",
                "cold ``sphinx-build -j 1``",
                h.cell(a),
                h.cell(b),
                f"{a.seconds / b.seconds:.2f}; memory {a.tree / b.tree:.2f}x; "
                f"{'/'.join(map(str, workers['A']))} workers vs {'/'.join(map(str, workers['B']))}",
                "(reported)",
                f"``{h.command_line('parallel.py')}``",
            ]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
