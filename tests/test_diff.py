"""Architecture snapshots and diffs: snapshot files, ``model-diagram diff``, the drawing,
``compare-to`` in Sphinx and MkDocs, and ``model_diagram.testing``.

The model versions live in ``tests/models_diff.py``. Snapshots are traced once per
module (one cache, one warm worker) and compared as files, as a CI job would.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

import model_diagram
from model_diagram import snapshot
from model_diagram.cli import main
from model_diagram.diff import compare
from model_diagram.errors import OptionError
from model_diagram.options import parse_options
from model_diagram.testing import UPDATE_ENV, ArchitectureError, assert_architecture

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SVG = "{http://www.w3.org/2000/svg}"
X = "float[2,8]"
DICT = {"user": "float[2,8]", "item": "float[2,6]"}
DICT_WIDE = {"user": "float[2,8]", "item": "float[2,10]"}
KW = {"ids": "long[2,5](0,100)", "mask": "float[2,5]"}

Snap = Callable[..., Path]


def env_with_paths() -> dict[str, str]:
    paths = [str(REPO / "src"), str(TESTS), str(REPO / "example_project")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diff-cache")


@pytest.fixture(scope="module")
def snap(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Snap:
    """``snap("base", input=X)`` -> a snapshot file of ``models_diff:base``, traced once."""
    folder = tmp_path_factory.mktemp("snapshots")
    made: dict[str, Path] = {}

    def make(factory: str, **options: object) -> Path:
        key = json.dumps([factory, options], sort_keys=True)
        if key not in made:
            path = folder / f"{len(made)}.json"
            diagram = model_diagram.render(f"models_diff:{factory}", cache_dir=cache, **options)
            path.write_text(diagram.to_json(), "utf-8")
            made[key] = path
        return made[key]

    return make


# -- snapshots


def test_snapshot_schema_and_round_trip(snap: Snap) -> None:
    path = snap("deepened", input=X)
    text = path.read_text("utf-8")
    data = json.loads(text)
    assert data["schema"] == snapshot.SCHEMA
    assert data["model"] == "Net" and data["params"] == 144 + 272 + 68
    layers = {layer["id"]: layer for layer in data["layers"]}
    assert list(layers) == [
        "input:x",
        "module:encoder",
        "module:act",
        "module:drop",
        "module:extra",
        "function:relu",
        "module:head",
        "output",
    ]
    encoder = layers["module:encoder"]
    assert encoder["cls"] == "torch.nn.modules.linear.Linear"
    assert encoder["qualname"] == "encoder" and encoder["params"] == 144
    assert encoder["inputs"] == [[2, 8]] and encoder["outputs"] == [[2, 16]]
    assert encoder["in_dtypes"] == ["float32"] == encoder["out_dtypes"]
    assert {"tail": "module:extra", "head": "function:relu", "count": 1} in data["edges"]
    # reading it back and writing it again gives the same bytes; one layer per line
    assert snapshot.to_json(snapshot.from_json(text)) == text
    assert '  {"cls": "torch.nn.modules.linear.Linear", "depth": 1, "id": "module:encoder"' in text


def test_snapshot_is_byte_identical_across_fresh_processes(tmp_path: Path) -> None:
    """Two traces in fresh processes, with separate caches and devices, give the same bytes."""
    outputs = []
    for run, device in enumerate(("meta", "cpu")):
        out = tmp_path / f"run{run}.json"
        command = [sys.executable, "-m", "model_diagram.cli", "render", "models_diff:deepened"]
        command += ["--input", X, "--device", device, "-o", str(out)]
        command += ["--cache-dir", str(tmp_path / f"cache{run}")]
        done = subprocess.run(
            command, env=env_with_paths(), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "wrote" in done.stdout and "traced" in done.stdout
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert b'"id": "module:extra"' in outputs[0]


def test_damaged_or_foreign_snapshots_are_refused(tmp_path: Path) -> None:
    cases = {
        "not.json": ("{", "is not JSON"),
        "deep.json": ("[" * 100_000, "is not JSON"),
        "foreign.json": ('{"schema": "other/3"}', "is not a model-diagram snapshot"),
        "damaged.json": (
            json.dumps({"schema": snapshot.SCHEMA, "layers": [{"id": "a", "kind": "x"}]}),
            "damaged snapshot",
        ),
        "dangling.json": (
            json.dumps(
                {
                    "schema": snapshot.SCHEMA,
                    "layers": [{"id": "a", "kind": "module", "inputs": [], "outputs": []}],
                    "edges": [{"tail": "a", "head": "b", "count": 1}],
                }
            ),
            "unknown layer",
        ),
        "dtypes.json": (
            json.dumps(
                {
                    "schema": snapshot.SCHEMA,
                    "layers": [{"id": "a", "kind": "input", "name": "x", "in_dtypes": [3]}],
                    "edges": [],
                }
            ),
            "'in_dtypes' must be a list of text",
        ),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, "utf-8")
        with pytest.raises(OptionError, match=message):
            snapshot.load(tmp_path / name)
    with pytest.raises(OptionError, match="cannot read the snapshot"):
        snapshot.load(tmp_path / "missing.json")


# -- diff: exit codes and the summary

CASES = {
    "equal": ("base", {"input": X}, "base", {"input": X}, 0, ["same architecture"]),
    "widened": (
        "base",
        {"input": X},
        "widened",
        {"input": X},
        1,
        [
            "parameters: 212 -> 420 (+208)",
            "~ changed  encoder (Linear): output (2, 16) -> (2, 32); params 144 -> 288",
            "4 changed",
        ],
    ),
    "deepened": (
        "base",
        {"input": X},
        "deepened",
        {"input": X},
        1,
        ["2 added, 0 removed, 0 changed", "+ added    extra (Linear) (2, 16) -> (2, 16)"],
    ),
    "shallower": (
        "deepened",
        {"input": X},
        "base",
        {"input": X},
        1,
        ["0 added, 2 removed, 0 changed", "- removed  relu (function)"],
    ),
    "renamed": (
        "base",
        {"input": X},
        "renamed",
        {"input": X},
        1,
        [
            "0 added, 0 removed, 2 changed",
            "embed (Linear): renamed from encoder",
            "classifier (Linear): renamed from head",
        ],
    ),
    "defined in another order": (
        "base",
        {"input": X},
        "defined_in_another_order",
        {"input": X},
        0,
        ["same architecture"],
    ),
    "reordered calls": (
        "base",
        {"input": X},
        "swapped",
        {"input": X},
        1,
        ["drop (Dropout): inputs come from other layers", "act (ReLU): inputs come from"],
    ),
    "dict input, same": ("dict_input", {"input": DICT}, "dict_input", {"input": DICT}, 0, []),
    "dict input, wider": (
        "dict_input",
        {"input": DICT},
        "dict_input",
        {"input": DICT_WIDE, "factory_kwargs": {"width": 10}},
        1,
        ["x['item'] (input): shape (2, 6) -> (2, 10)", "item (Linear): input (2, 6)"],
    ),
    "keyword input, same": (
        "keyword_input",
        {"kwargs": KW},
        "keyword_input",
        {"kwargs": KW},
        0,
        ["same architecture"],
    ),
    "keyword input, wider": (
        "keyword_input",
        {"kwargs": KW},
        "keyword_input",
        {"kwargs": KW, "factory_kwargs": {"dim": 16}},
        1,
        ["embed (Embedding): output (2, 5, 8) -> (2, 5, 16); params 800 -> 1,600"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_diff_exit_code_and_summary(
    case: str, snap: Snap, capsys: pytest.CaptureFixture[str]
) -> None:
    old, old_opts, new, new_opts, code, expected = CASES[case]
    args = ["diff", str(snap(old, **old_opts)), str(snap(new, **new_opts))]
    assert main(args) == code
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, (text, out)


def test_insertion_into_a_sequential_is_two_additions(tmp_path: Path) -> None:
    """Inserting layers shifts every later index; the later layers are renamed, not lost."""
    import torch
    from torch import nn

    def mlp(widths: list[int]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers)

    x = torch.randn(2, 8)
    old = model_diagram.render(mlp([8, 8, 8, 8, 8]), input_data=x, cache_dir=tmp_path).graph
    new = model_diagram.render(mlp([8, 8, 8, 8, 8, 8]), input_data=x, cache_dir=tmp_path).graph
    diff = compare(old, new)
    assert diff.count("added") == 2 and diff.count("removed") == 0
    changed = [c for c in diff.layers if c.status == "changed"]
    assert all(c.changes == (f"renamed from {c.old['qualname']}",) for c in changed if c.old)
    assert compare(new, new).same


def test_cli_diff_of_factories_and_its_drawings(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--input", X, "--cache-dir", str(cache)]
    out = tmp_path / "diff.svg"
    args = ["diff", "models_diff:deepened", "models_diff:widened", *common, "--legend"]
    assert main([*args, "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "- removed  extra (Linear)" in printed and f"wrote {out}" in printed
    text = out.read_text("utf-8")
    assert text.startswith("<?xml") and "prefers-color-scheme: dark" in text
    root = ET.fromstring(text.split("\n", 1)[1])
    marks: dict[str, list[str]] = {}
    for group in root.iter(f"{SVG}g"):
        classes = (group.get("class") or "").split()
        status = next((c[len("md-diff-") :] for c in classes if c.startswith("md-diff-")), None)
        if "node" in classes and status and not any("legend" in c for c in classes):
            texts = (t.text.strip() for t in group.iter(f"{SVG}text") if t.text)
            words = " ".join(t for t in texts if t)
            marks.setdefault(status, []).append(words)
    assert sorted(marks) == ["changed", "removed", "same"]
    assert any(w.startswith("- Linear") for w in marks["removed"])
    assert any(w.startswith("- relu") for w in marks["removed"])
    assert all(w.startswith("~ ") for w in marks["changed"]) and len(marks["changed"]) == 4
    assert not any(w[:2] in {"+ ", "- ", "~ "} for w in marks["same"])  # input, output
    removed_edges = [
        g for g in root.iter(f"{SVG}g") if "md-diff-removed" in (g.get("class") or "").split()
    ]
    dashed = [p for g in removed_edges for p in g.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert dashed  # removed connections are dashed, not only red
    # colours are theme variables (the page switches them), with light fallbacks
    style = " ".join(el.text or "" for el in root.iter(f"{SVG}style"))
    assert "var(--model-diagram-removed-fill,#ffdcd9)" in style
    titles = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    assert "changed: output (2, 16) -> (2, 32); params 144 -> 288" in titles

    page = tmp_path / "diff.html"
    assert main([*args, "-o", str(page)]) == 1
    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    assert soup.select_one("figure.model-diagram svg .md-diff-removed") is not None
    assert "architecture changed" in soup.select_one("pre.model-diagram-diff").get_text()
    assert soup.find("script") is None
    capsys.readouterr()

    pdf = tmp_path / "diff.pdf"
    assert main([*args, "-o", str(pdf)]) == 1
    assert pdf.read_bytes().startswith(b"%PDF")
    png = tmp_path / "diff.png"
    assert main([*args, "-o", str(png), "--dpi", "40"]) == 1
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_diff_errors_exit_2(
    tmp_path: Path, snap: Snap, capsys: pytest.CaptureFixture[str]
) -> None:
    base = str(snap("base", input=X))
    assert main(["diff", base, str(tmp_path / "missing.json")]) == 2
    assert "cannot read the snapshot" in capsys.readouterr().err
    assert main(["diff", base, base, "-o", str(tmp_path / "d.gif")]) == 2
    assert "use a .svg, .png, .pdf or .html" in capsys.readouterr().err
    assert main(["diff", base, "models_diff:missing", "--input", X]) == 2
    assert "cannot import 'models_diff:missing'" in capsys.readouterr().err
    assert not (tmp_path / "d.gif").exists()


# -- compare-to in the docs


def test_compare_to_option_is_parsed() -> None:
    assert parse_options({"compare-to": "v1.json"}, require_factory=False).compare_to == "v1.json"
    assert parse_options({"compare_to": "pkg.mod:old"}, require_factory=False).compare_to
    for bad in ("v1.yaml", "not a factory", "a\\b.json"):
        with pytest.raises(OptionError, match="compare-to"):
            parse_options({"compare-to": bad}, require_factory=False)


def _diff_classes(svg: BeautifulSoup) -> set[str]:
    return {c for el in svg.select("g.node") for c in el.get("class", []) if "md-diff-" in c}


def test_sphinx_compare_to_snapshot_and_factory(
    make_app: Callable[..., object], tmp_path: Path, snap: Snap, cache: Path
) -> None:
    src = tmp_path / "site"
    (src / "guide").mkdir(parents=True)
    (src / "_snapshots").mkdir()
    shutil.copy(snap("base", input=X), src / "_snapshots" / "v1.json")
    (tmp_path / "outside.json").write_text("{}", "utf-8")
    (src / "conf.py").write_text(
        f'extensions = ["model_diagram"]\nmodel_diagram_cache_dir = {str(cache)!r}\n', "utf-8"
    )
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   guide/migrate\n", "utf-8")
    (src / "guide" / "migrate.rst").write_text(
        textwrap.dedent(f"""\
        Migrating to v2
        ===============

        .. model-diagram:: models_diff:deepened
           :input: {X}
           :compare-to: ../_snapshots/v1.json
           :name: fig-relative

        .. model-diagram:: models_diff:deepened
           :input: {X}
           :compare-to: /_snapshots/v1.json

        .. model-diagram:: models_diff:widened
           :input: {X}
           :compare-to: models_diff:base
           :table:

        .. model-diagram:: models_diff:base
           :input: {X}
           :compare-to: ../../outside.json
        """),
        "utf-8",
    )
    app = make_app("html", srcdir=src)
    app.build()  # type: ignore[attr-defined]
    warnings = app._warning.getvalue()  # type: ignore[attr-defined]
    assert warnings.count("WARNING") == 1, warnings
    assert "migrate.rst:18" in warnings and "[model_diagram.option]" in warnings
    assert "points outside the documentation source directory" in warnings
    html = (Path(app.outdir) / "guide" / "migrate.html").read_text("utf-8")  # type: ignore[attr-defined]
    soup = BeautifulSoup(html, "html.parser")
    svgs = soup.select("svg.model-diagram-svg")
    assert len(svgs) == 3
    assert _diff_classes(svgs[0]) == {"md-diff-added", "md-diff-same"}
    assert _diff_classes(svgs[1]) == {"md-diff-added", "md-diff-same"}
    assert _diff_classes(svgs[2]) == {"md-diff-changed", "md-diff-same"}
    assert soup.select_one("div.model-diagram-error") is not None
    assert soup.select_one("details.model-diagram-table") is not None
    # editing the snapshot re-reads the page
    deps = app.env.dependencies["guide/migrate"]  # type: ignore[attr-defined]
    assert any(str(d).endswith("v1.json") for d in deps)
    # LaTeX gets the diff too, as a PDF whose text carries the +/~ marks
    latex = make_app("latex", srcdir=src)
    latex.build()  # type: ignore[attr-defined]
    tex = next(Path(latex.outdir).glob("*.tex")).read_text("utf-8")  # type: ignore[attr-defined]
    names = re.findall(r"\\sphinxincludegraphics(?:\[[^]]*\])?\{([^}]+\.pdf)\}", tex)
    assert len(names) == 3
    import pypdf

    text = pypdf.PdfReader(Path(latex.outdir) / names[2]).pages[0].extract_text()  # type: ignore[attr-defined]
    assert "~" in text and "encoder" in text


def test_sphinx_prescan_finds_the_earlier_factory(
    make_app: Callable[..., object], tmp_path: Path
) -> None:
    """``-j`` pre-traces what the scan finds: the compare-to factory is one more trace."""
    from model_diagram.sphinx_ext import build_state, scanned_misses

    src = tmp_path / "prescan"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["model_diagram"]\n', "utf-8")
    (src / "index.rst").write_text(
        f"Scan\n====\n\n.. model-diagram:: models_diff:widened\n   :input: {X}\n"
        "   :compare-to: models_diff:base\n\n"
        f".. model-diagram:: models_diff:deepened\n   :input: {X}\n"
        "   :compare-to: v1.json\n",
        "utf-8",
    )
    app = make_app("html", srcdir=src)
    env = app.env  # type: ignore[attr-defined]
    page = [Path(env.doc2path("index"))]
    found = list(scanned_misses(build_state(env).pipeline.cache, env.config, page))
    assert [o.factory for o in found] == [
        "models_diff:widened",
        "models_diff:base",
        "models_diff:deepened",
    ]
    assert found[1].compare_to is None and found[1].input == X


def test_mkdocs_compare_to_snapshot(
    tmp_path: Path, snap: Snap, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    docs = tmp_path / "docs"
    (docs / "guide").mkdir(parents=True)
    shutil.copy(snap("base", input=X), docs / "guide" / "v1.json")
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nplugins:\n  - model-diagram:\n      cache_dir: {cache}\n", "utf-8"
    )
    (docs / "index.md").write_text("# Home\n", "utf-8")
    (docs / "guide" / "migrate.md").write_text(
        textwrap.dedent(f"""\
        # Migrating

        ```model-diagram
        factory: models_diff:deepened
        input: {X}
        compare-to: v1.json
        ```

        ```model-diagram
        factory: models_diff:deepened
        input: {X}
        compare-to: /guide/v1.json
        ```

        ```model-diagram
        factory: models_diff:base
        input: {X}
        compare-to: ../../secret.json
        ```
        """),
        "utf-8",
    )
    with caplog.at_level(logging.WARNING):
        build(load_config(config_file=str(tmp_path / "mkdocs.yml")))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "guide/migrate.md:15" in warnings[0]
    assert "points outside the documentation source directory" in warnings[0]
    html = (tmp_path / "site" / "guide" / "migrate" / "index.html").read_text("utf-8")
    soup = BeautifulSoup(html, "html.parser")
    svgs = soup.select("svg.model-diagram-svg")
    assert len(svgs) == 2
    assert all(_diff_classes(svg) == {"md-diff-added", "md-diff-same"} for svg in svgs)


# -- model_diagram.testing


def test_assert_architecture_fails_with_the_diff_and_updates(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    path = tmp_path / "arch" / "net.json"
    with pytest.raises(ArchitectureError, match=r"no architecture snapshot .* wrote one now"):
        assert_architecture("models_diff:base", path, input=X, cache_dir=cache)
    written = path.read_bytes()
    assert_architecture("models_diff:base", path, input=X, cache_dir=cache)  # now it passes
    with pytest.raises(ArchitectureError) as failure:
        assert_architecture("models_diff:widened", path, input=X, cache_dir=cache)
    message = str(failure.value)
    assert "~ changed  encoder (Linear): output (2, 16) -> (2, 32)" in message
    assert f"{UPDATE_ENV}=1" in message and "--model-diagram-update" in message
    assert path.read_bytes() == written  # a failure never rewrites the snapshot
    monkeypatch.setenv(UPDATE_ENV, "1")
    assert_architecture("models_diff:widened", path, input=X, cache_dir=cache)
    monkeypatch.delenv(UPDATE_ENV)
    assert path.read_bytes() != written
    assert_architecture("models_diff:widened", path, input=X, cache_dir=cache)


def test_assert_architecture_takes_a_live_model(tmp_path: Path) -> None:
    import torch

    from models_diff import base, deepened

    path = tmp_path / "live.json"
    assert_architecture(base(), path, input_data=torch.randn(2, 8), cache_dir=tmp_path, update=True)
    with pytest.raises(ArchitectureError, match=r"\+ added    extra \(Linear\)"):
        assert_architecture(deepened(), path, input_data=torch.randn(2, 8), cache_dir=tmp_path)


def test_pytest_option_rewrites_snapshots(tmp_path: Path, snap: Snap) -> None:
    """The plugin's ``--model-diagram-update``, in a pytest run of its own."""
    arch = tmp_path / "arch.json"
    shutil.copy(snap("base", input=X), arch)
    (tmp_path / "test_arch.py").write_text(
        textwrap.dedent(f"""\
        from model_diagram.testing import assert_architecture

        def test_net():
            assert_architecture("models_diff:deepened", {str(arch)!r}, input={X!r},
                                cache_dir={str(tmp_path / "cache")!r})
        """),
        "utf-8",
    )
    env = env_with_paths()
    env.pop(UPDATE_ENV, None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "model_diagram.pytest_plugin"]
    command += ["-p", "no:cacheprovider", str(tmp_path / "test_arch.py")]
    failed = run(command, tmp_path, env)
    assert failed.returncode == 1 and "+ added    extra (Linear)" in failed.stdout
    updated = run([*command, "--model-diagram-update"], tmp_path, env)
    assert updated.returncode == 0, updated.stdout
    assert '"id": "module:extra"' in arch.read_text("utf-8")
    again = run(command, tmp_path, env)
    assert again.returncode == 0, again.stdout


def test_example_project_architecture_tests_pass() -> None:
    """The example project checks its own models against committed snapshots."""
    tests = REPO / "example_project" / "tests"
    assert sorted(p.name for p in (tests / "arch").glob("*.json"))
    env = env_with_paths()
    env.pop(UPDATE_ENV, None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "model_diagram.pytest_plugin"]
    command += ["-p", "no:cacheprovider", str(tests)]
    done = run(command, REPO, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
