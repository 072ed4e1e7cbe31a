"""warm: 4 and 60 cached diagrams against the same sites with static SVG figures.

Sphinx: ``.. model-diagram::`` directives, all in the cache, against ``.. figure::``
with the same SVGs. MkDocs: ```` ```model-diagram ```` blocks against ``![](img.svg)``.
Each build gets a fresh output directory (a full read and write); the cache is kept.
Targets: time ratio <= 1.05, peak memory <= 1.2x, torch never imported by the docs
process (the build runs in-process in a wrapper that reports ``"torch" in sys.modules``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import harness as h

TIME_TARGET = 1.05
MEMORY_TARGET = 1.2


def manifest_times(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (cache / "manifests").glob("*.json")}


def checks(
    out: Path, cache: Path, *, diagrams: bool, torch_seen: list[bool]
) -> Callable[[h.Sample], None]:
    before = manifest_times(cache)

    def check(sample: h.Sample) -> None:
        torch_seen.append(h.torch_imported(sample))
        warned = "WARNING" in sample.stderr or "model-diagram:" in sample.stderr
        h.expect(not warned, f"the build warned:\n{sample.stderr[-3000:]}")
        if diagrams:
            found = h.count_inline_diagrams(out)
            h.expect(found == h.DIAGRAMS, f"{found} inline diagrams in {out}, not {h.DIAGRAMS}")
            h.expect(manifest_times(cache) == before, "a warm build traced a diagram")
            h.expect(sample.extra["workers"] == 0, "a warm build started the worker")
        else:
            found = h.count_static_figures(out)
            h.expect(found == h.DIAGRAMS, f"{found} static figures in {out}, not {h.DIAGRAMS}")

    return check


def compare(
    title: str, cases: list[h.Case], rounds: int, torch_seen: dict[str, list[bool]]
) -> tuple[h.Summary, h.Summary, str]:
    results = h.interleave(cases, rounds)
    summaries = h.print_table(title, cases, results, rounds)
    a, b = summaries["A"], summaries["B"]
    time_ratio, memory_ratio = a.seconds / b.seconds, a.peak / b.peak
    never = not any(any(seen) for seen in torch_seen.values())
    if "C" in summaries:
        c = summaries["C"]
        print(
            f"where A's extra time goes: loading the extension (C - B) "
            f"{c.seconds - b.seconds:+.2f} s, the {h.DIAGRAMS} diagrams (A - C) "
            f"{a.seconds - c.seconds:+.2f} s"
        )
    print(
        f"targets: time {time_ratio:.2f} <= {TIME_TARGET} "
        f"({h.verdict(time_ratio, TIME_TARGET)}); peak memory {memory_ratio:.2f}x <= "
        f"{MEMORY_TARGET}x ({h.verdict(memory_ratio, MEMORY_TARGET)}); torch imported by the "
        f"docs process: {'never (met)' if never else 'YES (MISSED)'}"
    )
    ratio = (
        f"{time_ratio:.2f} ({h.verdict(time_ratio, TIME_TARGET)}); memory {memory_ratio:.2f}x "
        f"({h.verdict(memory_ratio, MEMORY_TARGET)}); torch imported: "
        f"{'never' if never else 'YES'}"
    )
    return a, b, ratio


def side(
    name: str,
    label: str,
    command: list[str],
    out: Path,
    *,
    cache: Path,
    seen: list[bool],
    diagrams: bool,
) -> h.Case:
    check = checks(out, cache, diagrams=diagrams, torch_seen=seen)
    return h.Case(name, label, command, prepare=h.fresh(out), check=check)


def measure(root: Path, rounds: int) -> dict[str, tuple[h.Summary, h.Summary, str]]:
    """Both front ends on a site of ``h.DIAGRAMS`` diagrams."""
    n = h.DIAGRAMS
    models = h.write_models(root)
    cache = root / "cache"
    sphinx_a = h.write_sphinx_site(root / "sphinx-a", models, cache)
    sphinx_b = h.write_sphinx_site(root / "sphinx-b", models, None, static=True)
    sphinx_c = h.write_sphinx_site(root / "sphinx-c", models, cache, static=True)
    primed = h.run(h.sphinx_command(sphinx_a, root / "prime", "-q"))  # fills the cache
    h.expect(primed.returncode == 0, f"priming build failed:\n{primed.stderr}")
    for site in (sphinx_b, sphinx_c):
        h.svgs_from_cache(models, cache, site / "diagrams")

    sites = {
        "A": (f"model-diagram, {n} cached diagrams", sphinx_a, True),
        "B": ("static .. figure:: SVGs", sphinx_b, False),
        "C": ("B + extension loaded, no directive", sphinx_c, False),
    }
    seen: dict[str, list[bool]] = {name: [] for name in sites}
    cases = [
        side(
            name,
            label,
            h.sphinx_command(site, root / f"out-{name}", "-q"),
            root / f"out-{name}",
            cache=cache,
            seen=seen[name],
            diagrams=diagrams,
        )
        for name, (label, site, diagrams) in sites.items()
    ]
    results = {"Sphinx": compare(f"warm, Sphinx, {n} diagrams", cases, rounds, seen)}

    mkdocs_a = h.write_mkdocs_site(root / "mkdocs-a", models, cache)
    mkdocs_b = h.write_mkdocs_site(root / "mkdocs-b", models, None, static=True)
    mkdocs_c = h.write_mkdocs_site(root / "mkdocs-c", models, cache, static=True)
    for site in (mkdocs_b, mkdocs_c):
        h.svgs_from_cache(models, cache, site.parent / "docs" / "img")
    sites = {
        "A": (f"model-diagram, {n} cached blocks", mkdocs_a, True),
        "B": ("static ![](svg) images", mkdocs_b, False),
        "C": ("B + plugin enabled, no block", mkdocs_c, False),
    }
    seen = {name: [] for name in sites}
    cases = [
        side(
            name,
            label,
            h.mkdocs_command(site, root / f"site-{name}"),
            root / f"site-{name}",
            cache=cache,
            seen=seen[name],
            diagrams=diagrams,
        )
        for name, (label, site, diagrams) in sites.items()
    ]
    results["MkDocs"] = compare(f"warm, MkDocs (material), {n} diagrams", cases, rounds, seen)
    return results


def main() -> int:
    rounds, record, keep = h.cli_args(21, __doc__.splitlines()[0], diagrams="4,60")
    measured = {}
    for count in h.SIZES:
        h.use_diagrams(count)
        with h.workdir(keep, f"warm{count}") as root:
            measured[count] = measure(root, rounds)
    if record:
        command = f"``{h.command_line('warm.py')}``"
        target = f"<= {TIME_TARGET:.2f}; peak memory <= {MEMORY_TARGET}x; torch never imported"
        for count, results in measured.items():
            for front, what_b in (
                ("Sphinx", "same site, static ``.. figure::`` SVGs"),
                ("MkDocs", "same site, static SVGs"),
            ):
                a, b, ratio = results[front]
                h.record(
                    [
                        f"warm, {front}, {count} diagrams",
                        f"{count} cached diagrams",
                        what_b,
                        h.cell(a),
                        h.cell(b),
                        ratio,
                        target,
                        command,
                    ]
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
