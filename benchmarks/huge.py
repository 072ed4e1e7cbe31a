"""huge: a 10B-parameter transformer, cold, against torchview on the meta device by hand.

A: ``model-diagram render example_project.models:make_huge_transformer --kwargs
'{input_ids: "long[2,16](0,50000)"}' --depth 2`` with an empty cache (the CLI and
its worker). B: a script that imports torch and torchview, builds the model under
``with torch.device("meta")``, calls ``draw_graph(..., device="meta", depth=2)`` and
renders it with Graphviz. Targets: A/B <= 0.90 and peak memory < 1.5 GiB (the whole
process tree). On the CPU the weights alone would not fit; B prints the parameter
count, from which the script computes what they would need.
"""

from __future__ import annotations

import re
import sys

import harness as h

TARGET = 0.90
MEMORY_LIMIT_GIB = 1.5
FACTORY = "example_project.models:make_huge_transformer"
KWARGS = '{input_ids: "long[2,16](0,50000)"}'
DEPTH = "2"
PROJECT = h.REPO / "example_project"

BY_HAND = """
import sys
import torch
from torchview import draw_graph
sys.path.insert(0, sys.argv[1])
from example_project.models import make_huge_transformer
with torch.device("meta"):
    model = make_huge_transformer()
ids = torch.randint(0, 50000, (2, 16), device="meta")
graph = draw_graph(model, input_data={"input_ids": ids}, depth=2, device="meta")
with open(sys.argv[2], "wb") as out:
    out.write(graph.visual_graph.pipe(format="svg"))
print("BENCH params=%d" % sum(p.numel() for p in model.parameters()))
"""


def main() -> int:
    rounds, record, keep = h.cli_args(9, __doc__.splitlines()[0])
    with h.workdir(keep, "huge") as root:
        cache, svg_a, svg_b = root / "cache", root / "a.svg", root / "b.svg"
        params: list[int] = []

        def prepare_a() -> None:
            h.fresh(cache)()
            svg_a.unlink(missing_ok=True)

        def check_a(sample: h.Sample) -> None:
            h.expect("(traced)" in sample.stdout, f"not traced: {sample.stdout}{sample.stderr}")
            h.expect(svg_a.read_text("utf-8").count("<g ") > 10, "an empty drawing")

        def check_b(sample: h.Sample) -> None:
            params.append(int(re.findall(r"BENCH params=(\d+)", sample.stdout)[-1]))
            h.expect(svg_b.read_text("utf-8").count("<g ") > 10, "an empty drawing")

        model_diagram = str(h.REPO / ".venv" / "bin" / "model-diagram")
        cases = [
            h.Case(
                "A",
                "model-diagram render, empty cache",
                [
                    model_diagram,
                    "render",
                    FACTORY,
                    "--kwargs",
                    KWARGS,
                    "--depth",
                    DEPTH,
                    "--cache-dir",
                    str(cache),
                    "-o",
                    str(svg_a),
                ],
                cwd=PROJECT,
                prepare=prepare_a,
                check=check_a,
            ),
            h.Case(
                "B",
                "torchview on meta + dot, by hand",
                [h.PYTHON, "-c", BY_HAND, str(PROJECT), str(svg_b)],
                prepare=lambda: svg_b.unlink(missing_ok=True),
                check=check_b,
            ),
        ]
        results = h.interleave(cases, rounds)
        summaries = h.print_table("huge, 10B parameters, cold", cases, results, rounds)
    a, b = summaries["A"], summaries["B"]
    ratio = a.seconds / b.seconds
    worst = max(s.tree for s in results["A"]) / 1024**3
    count = params[-1]
    print(
        f"targets: time {ratio:.2f} <= {TARGET} ({h.verdict(ratio, TARGET)}); peak memory of "
        f"A's process tree, worst run {worst:.2f} GiB < {MEMORY_LIMIT_GIB} GiB "
        f"({h.verdict(worst, MEMORY_LIMIT_GIB, strict=True)})"
    )
    print(
        f"on the CPU: {count / 1e9:.2f}e9 parameters x 4 bytes (float32) = "
        f"{count * 4 / 1e9:.1f} GB ({count * 4 / 1024**3:.1f} GiB) of weights before any "
        "activation; this machine has 24 GiB"
    )
    if record:
        h.record(
            [
                "huge (10B parameters)",
                "cold, one diagram (``model-diagram render``)",
                "torchview on the meta device by hand",
                h.cell(a),
                h.cell(b),
                f"{ratio:.2f} ({h.verdict(ratio, TARGET)}); peak {worst:.2f} GiB "
                f"({h.verdict(worst, MEMORY_LIMIT_GIB, strict=True)}); CPU route: "
                f"{count * 4 / 1e9:.0f} GB of float32 weights",
                f"<= {TARGET:.2f}; peak memory < {MEMORY_LIMIT_GIB} GiB",
                f"``{h.command_line('huge.py')}``",
            ]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
