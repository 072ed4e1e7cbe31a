"""visualtorch: the VisualTorch paper's three figures, drawn by us and by VisualTorch.

A: a script that imports ``model_diagram.visualtorch`` and draws the paper's three
models (``layered_view`` of the CNN, ``lenet_view`` of the LeNet, ``graph_view`` of
SimpleDense) into PIL images, with an empty cache. B: the same script with
VisualTorch 1.4 (``visualtorch.render`` with styles ``flow``, ``lenet``, ``graph``).
Both trace the live model in process. Reported, no target: the drop-in API should
not cost more than the library it replaces. Needs ``pip install visualtorch``
(not a dependency of model-diagram); skips without it.
"""

from __future__ import annotations

import importlib.util
import sys

import harness as h

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
import models_styles as m
if sys.argv[1] == "A":
    from model_diagram import visualtorch as vt
    images = [
        vt.layered_view(m.make_layered_cnn(), (1, 3, 224, 224), legend=True),
        vt.lenet_view(m.make_lenet(), (1, 3, 128, 128)),
        vt.graph_view(m.make_dense(), (1, 4)),
    ]
else:
    import visualtorch
    images = [
        visualtorch.render(m.make_layered_cnn(), (1, 3, 224, 224), style="flow", legend=True),
        visualtorch.render(m.make_lenet(), (1, 3, 128, 128), style="lenet"),
        visualtorch.render(m.make_dense(), (1, 4), style="graph"),
    ]
print("BENCH sizes=" + " ".join("%dx%d" % im.size for im in images))
"""


def main() -> int:
    if importlib.util.find_spec("visualtorch") is None:
        print("visualtorch is not installed: pip install visualtorch (skipped)")
        return 0
    rounds, _, keep = h.cli_args(5, __doc__.splitlines()[0])
    tests = str(h.REPO / "tests")
    with h.workdir(keep, "visualtorch") as root:

        def check(sample: h.Sample) -> None:
            h.expect(sample.stdout.count("x") >= 3, f"no images: {sample.stdout}{sample.stderr}")

        cases = [
            h.Case(
                "A",
                "model_diagram.visualtorch, empty cache",
                [h.PYTHON, "-c", SCRIPT, "A", tests],
                cwd=root,
                prepare=h.fresh(root / ".model-diagram-cache"),
                check=check,
            ),
            h.Case(
                "B",
                "visualtorch 1.4",
                [h.PYTHON, "-W", "ignore", "-c", SCRIPT, "B", tests],
                cwd=root,
                check=check,
            ),
        ]
        results = h.interleave(cases, rounds)
        h.print_table("the VisualTorch paper's three figures, cold", cases, results, rounds)
        for case in cases:
            print(
                f"{case.name} image sizes: {results[case.name][-1].stdout.split('=')[-1].strip()}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
