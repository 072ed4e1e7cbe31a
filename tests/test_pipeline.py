"""The core pipeline end to end: real worker, real torchview, real Graphviz, real cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import model_diagram
from conftest import shared_pipeline
from model_diagram.errors import (
    CacheError,
    DiagramError,
    FactoryError,
    InputError,
    RenderError,
    TraceError,
)
from model_diagram.options import parse_options
from model_diagram.rendering import clean_svg, find_engine, run_engine

RECOMMENDER_INPUT = {"user_id": "long[2](0,1000)", "age": "float[2]", "hist": "long[2,10](0,1000)"}
ENGINES = [
    pytest.param(
        "dot",
        marks=pytest.mark.skipif(
            not shutil.which("dot"), reason="no system Graphviz ('dot') on PATH"
        ),
    ),
    "graphviz-pure",
]
SVG = "{http://www.w3.org/2000/svg}"


def diagram(tmp_path: Path, **values: Any) -> Any:
    return shared_pipeline(tmp_path / "cache").diagram(parse_options(values))


def svg_text(svg: str) -> str:
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))


def assert_inline_safe(svg: str) -> None:
    assert not svg.startswith("<?xml") and "<!DOCTYPE" not in svg and "<!--" not in svg
    root = ET.fromstring(svg)
    for el in root.iter():
        assert not el.tag.endswith("script")
        for key, value in el.attrib.items():
            assert not key.rsplit("}", 1)[-1].lower().startswith("on"), key
            if key.endswith("href"):
                assert value.startswith("#"), value


@pytest.mark.parametrize("engine", ENGINES)
def test_cnn_on_each_engine(tmp_path: Path, engine: str) -> None:
    result = diagram(
        tmp_path,
        factory="example_project.models:make_cnn",
        input="float[2,3,32,32]",
        depth=2,
        engine=engine,
    )
    text = svg_text(result.svg)
    assert text.count("Conv2d") == 2 and text.count("MaxPool2d") == 2 and "Linear" in text
    assert "(2, 3, 32, 32)" in text and "(2, 10)" in text
    assert "Helvetica" in result.svg and "libertine" not in result.svg.lower()
    assert_inline_safe(result.svg)
    root = ET.fromstring(result.svg)
    assert root.get("role") == "img" and root.get("aria-label") == "SmallCNN architecture"
    classes = {el.get("class") for el in root.iter(f"{SVG}g")}
    assert {"node md-module", "node md-input", "node md-output", "edge md-edge"} <= classes


def test_dict_input_reaches_forward_as_one_dict(tmp_path: Path) -> None:
    result = diagram(
        tmp_path,
        factory="example_project.models:make_recommender",
        input=RECOMMENDER_INPUT,
    )
    text = svg_text(result.svg)
    for name in ("x['user_id']", "x['age']", "x['hist']"):
        assert name in text
    assert text.count("Embedding") == 2 and "(2, 10, 16)" in text
    assert {p.name for p in result.files} == {"models.py", "__init__.py"}


def test_kwargs_and_meta_device_for_a_10b_model(tmp_path: Path) -> None:
    result = diagram(
        tmp_path,
        factory="example_project.models:make_huge_transformer",
        kwargs={"input_ids": "long[2,16](0,50000)"},
        depth=1,
    )
    text = svg_text(result.svg)
    assert "input_ids" in text and "EncoderBlock" in text and "(2, 16, 50000)" in text
    assert result.notes == []


def test_data_dependent_model_falls_back_to_cpu(tmp_path: Path) -> None:
    """A model too large to trace on CPU first (64 MiB of weights) tries meta, then CPU."""
    result = diagram(
        tmp_path,
        factory="models:make_data_dependent",
        input="float[2,8]",
        factory_kwargs={"classes": 2**21},
    )
    assert "one_hot" in svg_text(result.svg)
    assert result.notes and "traced on CPU because the meta device failed" in result.notes[0]


@pytest.mark.parametrize(
    ("values", "device"),
    [
        ({"factory": "models:make_mlp", "input": "float[2,8]"}, "cpu"),  # small, given
        (  # 96 MiB of weights: built on CPU only when it must be
            {
                "factory": "models:make_mlp",
                "input": "float[2,8]",
                "factory-kwargs": {"width": 2**21},
            },
            "meta",
        ),
        ({"factory": "models_providers:make_example_tuple"}, "meta"),  # inputs guessed
    ],
)
def test_auto_traces_small_models_with_given_inputs_on_cpu(
    values: dict[str, Any], device: str
) -> None:
    """``device: auto`` picks the CPU where that draws the same and spares the meta
    device's one-off imports (torch._dynamo); forcing the other device agrees."""
    from model_diagram.pipeline import trace_options
    from model_diagram.trace import trace_diagram

    options = trace_options(parse_options(values))
    done = trace_diagram(options)
    assert done["device"] == device and done["notes"] == []
    other = trace_diagram({**options, "device": "meta" if device == "cpu" else "cpu"})
    assert other["graph"] == done["graph"]


_DEFERRED_COMPILER = """
import gc, json, sys, types
from model_diagram.options import parse_options
from model_diagram.pipeline import trace_options
from model_diagram.trace import trace_diagram

def marks():
    return sum(
        isinstance(f, types.FunctionType) and "__dynamo_disable" in vars(f)
        for f in gc.get_objects()
    )

options = trace_options(parse_options({
    "factory": "example_project.models:make_huge_transformer",
    "kwargs": {"input_ids": "long[2,16](0,50000)"}, "depth": 2, "device": "meta",
}))
deferred = trace_diagram(options)
report = {"loaded": "torch._dynamo" in sys.modules, "marks_left": marks()}
import torch._dynamo
compiled = trace_diagram(options)
report.update(same=deferred == compiled, marks_with_compiler=marks())
print(json.dumps(report))
"""


def test_a_meta_trace_defers_the_compiler_and_draws_the_same() -> None:
    """A meta-device trace never imports ``torch._dynamo`` (1.3 s of a cold render),
    leaves no mark on torch's kernels, and records what a trace with it loaded does."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root / "src"), str(root / "example_project"), env.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-c", _DEFERRED_COMPILER]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"loaded": False, "marks_left": 0, "same": True, **report}
    assert report["marks_with_compiler"] > 0  # the count sees marks when there are some


def test_class_factory_instance_and_expand_nested(tmp_path: Path) -> None:
    result = diagram(
        tmp_path,
        factory="models:ClassFactory",
        factory_kwargs={"width": 7},
        input="float[2,8]",
    )
    assert "(2, 7)" in svg_text(result.svg)
    instance = diagram(tmp_path, factory="models:INSTANCE", input="float[2,8]")
    assert "(2, 16)" in svg_text(instance.svg)
    nested = diagram(
        tmp_path,
        factory="example_project.models:make_transformer",
        kwargs={"input_ids": "long[2,16](0,1000)"},
        depth=3,
        expand_nested=True,
        collapse_repeats=False,
    )
    root = ET.fromstring(nested.svg)
    clusters = [g for g in root.iter(f"{SVG}g") if "md-cluster" in (g.get("class") or "")]
    assert len(clusters) >= 4


@pytest.mark.parametrize(
    ("inputs", "labels", "ops"),
    [
        ({"kwargs": {"x": "float[2,8]", "mode": "float[2,6]"}}, ["x", "mode"], ["add"]),
        (
            {"input": "float[2,8]", "kwargs": {"mode": "float[2,6]", "device": "float[2,4]"}},
            ["x", "mode", "device"],
            ["add", "mul"],
        ),
    ],
    ids=["keywords-only", "positional-and-keywords"],
)
def test_keyword_inputs_named_like_torchviews_parameters(
    tmp_path: Path, inputs: dict[str, Any], labels: list[str], ops: list[str]
) -> None:
    """``x``, ``mode`` and ``device`` collided with ``forward_prop``'s own parameters
    ("got multiple values for argument 'x'")."""
    result = diagram(tmp_path, factory="models:make_torchview_names", **inputs)
    layers = result.graph.layers
    assert [layer.label for layer in layers if layer.kind == "input"] == labels
    assert sorted(layer.name for layer in layers if layer.kind == "function") == ops
    assert [layer.name for layer in layers if layer.kind == "module"] == ["Linear", "Linear"]


TRANSFORMER = {
    "factory": "example_project.models:make_transformer",
    "kwargs": {"input_ids": "long[2,16](0,1000)"},
}


def groups(svg: str, css: str) -> list[ET.Element]:
    return [g for g in ET.fromstring(svg).iter(f"{SVG}g") if css in (g.get("class") or "").split()]


def test_identical_consecutive_blocks_collapse(tmp_path: Path) -> None:
    full = diagram(tmp_path, **TRANSFORMER, depth=2, collapse_repeats=False)
    collapsed = diagram(tmp_path, **TRANSFORMER, depth=2)  # default: on for depth > 1
    assert svg_text(full.svg).count("MultiheadAttention") == 4
    assert svg_text(collapsed.svg).count("MultiheadAttention") == 1
    (repeat,) = groups(collapsed.svg, "md-repeat")
    assert "blocks.0-3 x4" in svg_text(ET.tostring(repeat, encoding="unicode"))
    nested = diagram(tmp_path, **TRANSFORMER, depth=3, expand_nested=True)
    assert any(
        "EncoderBlock x4" in svg_text(ET.tostring(g, encoding="unicode"))
        for g in groups(nested.svg, "md-repeat")
    )
    shallow = diagram(tmp_path, **TRANSFORMER, depth=1, collapse_repeats=True)
    assert svg_text(shallow.svg).count("EncoderBlock") == 1 and "x4" in svg_text(shallow.svg)
    branchy = diagram(tmp_path, factory="models:make_branchy", input="float[2,8]", depth=2)
    assert not groups(branchy.svg, "md-repeat")  # parallel branches are not a chain


def test_annotations_tooltips_legend_and_description(tmp_path: Path) -> None:
    result = diagram(
        tmp_path,
        factory="example_project.models:make_recommender",
        input=RECOMMENDER_INPUT,
        depth=2,
        show_params=True,
        show_dtypes=True,
        legend=True,
    )
    text = svg_text(result.svg)
    assert "16K params" in text and "(2, 10) int64" in text and "(2, 1) float32" in text
    titles = [t.text or "" for g in groups(result.svg, "md-module") for t in g.iter(f"{SVG}title")]
    assert any(
        "user_embedding (torch.nn.modules.sparse.Embedding)" in t
        and "parameters: 16,000" in t
        and "input: (2) int64" in t
        and "output: (2, 16) float32" in t
        for t in titles
    ), titles
    assert len(groups(result.svg, "md-legend")) == 1
    items = [
        svg_text(ET.tostring(g, encoding="unicode")) for g in groups(result.svg, "md-legend-item")
    ]
    assert items == ["input tensor", "module", "function", "output tensor"]
    root = ET.fromstring(result.svg)
    desc = root.find(f"{SVG}desc")
    assert desc is not None and root.get("aria-describedby") == desc.get("id")
    assert desc.text.startswith("Recommender: input x['user_id'] (2); ")
    assert "module Embedding item_embedding (2, 10, 16)" in desc.text
    links = [a.get("{http://www.w3.org/1999/xlink}href") for a in root.iter(f"{SVG}a")]
    assert "#md-class:example_project.models.Recommender" not in links
    assert "#md-class:torch.nn.modules.linear.Linear" in links


def test_output_is_deterministic(tmp_path: Path) -> None:
    values = {"factory": "example_project.models:make_recommender", "input": RECOMMENDER_INPUT}
    first = diagram(tmp_path / "a", **values).svg
    second = diagram(tmp_path / "b", **values).svg
    assert first == second


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    result = diagram(tmp_path, factory="models:make_hostile_names", input="float[2,8]")
    assert_inline_safe(result.svg)
    assert "<script" not in result.svg
    assert '<script>alert("x")</script>&' in svg_text(result.svg)


def test_clean_svg_strips_scripts_events_and_external_refs() -> None:
    hostile = textwrap.dedent("""\
        <?xml version="1.0"?>
        <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">
        <!-- comment -->
        <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
             onload="alert(1)"><g id="graph0"><title>model</title>
        <script>alert(2)</script><a xlink:href="javascript:alert(3)"><text onclick="x">t</text></a>
        <use xlink:href="#graph0"/><path fill="url(#graph0)" stroke="url(http://evil/x)"/>
        <foreignObject><div>x</div></foreignObject></g></svg>""")
    cleaned = clean_svg(hostile, "mdabc", "A title")
    assert_inline_safe(cleaned)
    assert 'id="mdabc-graph0"' in cleaned and 'href="#mdabc-graph0"' in cleaned
    assert (
        "url(#mdabc-graph0)" in cleaned and "evil" not in cleaned and "foreignObject" not in cleaned
    )
    assert 'aria-labelledby="mdabc-title"' in cleaned


# -- cache


def write_model(folder: Path, width: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "editable_model.py"
    path.write_text(
        textwrap.dedent(f"""\
        from torch import nn

        def make():
            return nn.Sequential(nn.Linear(8, {width}), nn.ReLU())
        """)
    )
    return path


def test_cache_hit_miss_and_invalidation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    source = write_model(project, 5)
    monkeypatch.syspath_prepend(str(project))
    options = parse_options({"factory": "editable_model:make", "input": "float[2,8]"})
    pipeline = shared_pipeline(project / ".model-diagram-cache")

    cold = pipeline.diagram(options)
    assert not cold.cached and pipeline.traced == 1 and cold.files == (source.resolve(),)
    warm = pipeline.diagram(options)
    assert warm.cached and pipeline.traced == 1 and warm.svg == cold.svg
    manifest = next((project / ".model-diagram-cache" / "manifests").glob("*.json"))
    assert json.loads(manifest.read_text())["files"] == {
        "editable_model.py": json.loads(manifest.read_text())["files"]["editable_model.py"]
    }  # stored relative to the cache's parent, portable between CI checkouts

    write_model(project, 6)
    edited = pipeline.diagram(options)
    assert not edited.cached and pipeline.traced == 2
    assert "(2, 6)" in svg_text(edited.svg) and "(2, 5)" not in svg_text(edited.svg)

    changed_render = pipeline.diagram(options.with_values(direction="LR"))
    assert pipeline.traced == 2 and changed_render.svg != edited.svg  # no re-trace for layout


def test_warm_lookup_never_imports_torch(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    values = {"factory": "example_project.models:make_cnn", "input": "float[2,3,32,32]"}
    shared_pipeline(cache).diagram(parse_options(values))
    script = textwrap.dedent(f"""\
        import sys
        from model_diagram.options import parse_options
        from model_diagram.pipeline import Pipeline
        pipeline = Pipeline({str(cache)!r})
        result = pipeline.diagram(parse_options({values!r}))
        assert result.cached and pipeline.traced == 0
        assert "torch" not in sys.modules and "example_project" not in sys.modules
        print("warm-ok")
        """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        # the same PATH (the same engine) and the same model_diagram as this process
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(
                [
                    str(Path(__file__).parents[1] / "example_project"),
                    str(Path(model_diagram.__file__).parents[1]),
                ]
            ),
        },
    )
    assert done.stdout.strip() == "warm-ok", done.stderr


def test_corrupt_entries_are_rebuilt(tmp_path: Path) -> None:
    options = parse_options({"factory": "models:make_mlp", "input": "float[2,8]"})
    pipeline = shared_pipeline(tmp_path / "cache")
    good = pipeline.diagram(options).svg
    blobs = tmp_path / "cache" / "blobs"
    for blob in blobs.glob("*.svg"):
        blob.write_bytes(blob.read_bytes()[:100])  # truncated SVG
    assert pipeline.diagram(options).svg == good and pipeline.traced == 1
    for manifest in (tmp_path / "cache" / "manifests").glob("*.json"):
        manifest.write_text("{not json")
    assert pipeline.diagram(options).svg == good and pipeline.traced == 2
    shutil.rmtree(blobs)  # missing files
    assert pipeline.diagram(options).svg == good and pipeline.traced == 3


def test_unwritable_cache_still_gives_the_diagram(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    result = shared_pipeline(blocker).diagram(
        parse_options({"factory": "models:make_mlp", "input": "float[2,8]"})
    )
    assert "Linear" in svg_text(result.svg)
    assert result.warnings and isinstance(result.warnings[0], CacheError)
    assert "cannot write to the cache directory" in result.warnings[0].message


# -- every failure is an error of the right kind naming the cause


@pytest.mark.parametrize(
    ("values", "kind", "fragments"),
    [
        (
            {"factory": "no_such_pkg.models:make"},
            FactoryError,
            ["cannot import 'no_such_pkg.models:make'", "No module named 'no_such_pkg'"],
        ),
        ({"factory": "models:make_nothing"}, FactoryError, ["has no attribute 'make_nothing'"]),
        (
            {"factory": "models:make_not_module"},
            FactoryError,
            ["returned int, expected a torch.nn.Module"],
        ),
        (
            {"factory": "models:make_raises"},
            FactoryError,
            ["raised RuntimeError: factory exploded", "models.py:"],
        ),
        (
            {"factory": "models:make_forward_raises"},
            TraceError,
            ["ValueError: bad forward: shape mismatch", "models.py:", "in forward"],
        ),
        (
            {"factory": "models:make_wants_tensor", "input": {"a": "float[2,8]"}},
            TraceError,
            ["must be Tensor, not dict", "give them with 'kwargs' or 'inputs'"],
        ),
        ({"factory": "models:make_recursive"}, TraceError, ["RecursionError"]),
        ({"factory": "models:make_exit"}, TraceError, ["worker process died (exit code 3)"]),
        ({"factory": "models:make_slow", "timeout": 4}, TraceError, ["timed out after 4 s"]),
        ({"factory": "models:make_mlp", "input": None}, InputError, ["no inputs given"]),
        (
            {"factory": "models:make_mlp", "input": "float[100000,100000]", "device": "cpu"},
            InputError,
            ["GiB on cpu"],
        ),
    ],
)
def test_errors(tmp_path: Path, values: dict[str, Any], kind: type, fragments: list[str]) -> None:
    values = {"input": "float[2,8]", **values}
    with pytest.raises(kind) as info:
        diagram(tmp_path, **values)
    for fragment in fragments:
        assert fragment in info.value.message
    assert "Failed to run torchgraph" not in info.value.message


def test_worker_recovers_after_a_crash(tmp_path: Path) -> None:
    with pytest.raises(TraceError):
        diagram(tmp_path, factory="models:make_exit", input="float[2,8]")
    assert "Linear" in svg_text(
        diagram(tmp_path, factory="models:make_mlp", input="float[2,8]").svg
    )


def test_graphviz_failures_are_render_errors() -> None:
    with pytest.raises(RenderError, match=r"Graphviz .* failed"):
        run_engine(find_engine("graphviz-pure"), "digraph { a -> ", "svg")
    with pytest.raises(RenderError, match="cannot write PDF"):
        run_engine(find_engine("graphviz-pure"), "digraph { a }", "pdf")
    assert issubclass(RenderError, DiagramError)


@pytest.mark.parametrize("engine", ENGINES)
def test_png_and_pdf(tmp_path: Path, engine: str) -> None:
    options = parse_options({"factory": "models:make_mlp", "input": "float[2,8]", "engine": engine})
    png = shared_pipeline(tmp_path / "c").diagram(options, fmt="png")
    assert png.data.startswith(b"\x89PNG")
    # PDF on every engine: the SVG converted with pip packages
    assert shared_pipeline(tmp_path / "c").diagram(options, fmt="pdf").data.startswith(b"%PDF")


def test_t5_draws_where_torchview_alone_broke(tmp_path: Path) -> None:
    """T5 at depth 3 used to break inside torchview's own graph walk (a bare KeyError there,
    from its key/value cache): the recorder no longer walks into cache objects."""
    result = diagram(tmp_path, factory="models_providers:make_t5", depth=3)
    text = svg_text(result.svg)
    assert "encoder.embed_tokens" in text
    assert "decoder.dropout" in text


def test_same_second_same_size_edit_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .pyc matching the old file's mtime and size must not hide an edit."""
    import importlib.util
    import os
    import py_compile

    project = tmp_path / "project"
    source = write_model(project, 5)
    monkeypatch.syspath_prepend(str(project))
    options = parse_options({"factory": "editable_model:make", "input": "float[2,8]"})
    pipeline = shared_pipeline(project / ".cache")
    stat = source.stat()
    assert "(2, 5)" in svg_text(pipeline.diagram(options).svg)
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)))
    write_model(project, 7)  # same size as before
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size
    assert "(2, 7)" in svg_text(pipeline.diagram(options).svg)


def test_project_files_are_hashed_once_until_they_change(tmp_path: Path) -> None:
    """The many diagrams of one package share its files: each is read once, and an edit
    that keeps the size and puts the modification time back is still seen."""
    import hashlib

    from model_diagram.cache import Cache

    cache = Cache(tmp_path / "cache")
    source = tmp_path / "models.py"
    source.write_text("A = 1\n")
    before = source.stat()
    assert cache.file_digest(source) == hashlib.sha256(b"A = 1\n").hexdigest()
    assert list(cache._digests) == [source]
    source.write_text("A = 2\n")
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache.file_digest(source) == hashlib.sha256(b"A = 2\n").hexdigest()
    os.mkfifo(tmp_path / "fifo")  # never opened for reading: it would block
    assert cache.file_digest(tmp_path / "fifo") is None
    assert cache.file_digest(tmp_path / "missing.py") is None
    assert cache.file_digest(tmp_path) is None


def test_the_engine_version_is_asked_once_per_binary_and_remembered(tmp_path: Path) -> None:
    """A warm build starts no Graphviz process: the version is remembered by the binary's
    path, size and mtime; a new binary (or an unreadable memo) is asked again."""
    from model_diagram.cache import ENGINES_NAME, Cache
    from model_diagram.rendering import engine_version, locate_engine

    _, binary = locate_engine("graphviz-pure")
    engine = tmp_path / "bin" / "dot"
    engine.parent.mkdir()
    shutil.copy2(binary, engine)
    asked: list[str] = []

    def probe(path: str) -> str:
        asked.append(path)
        return engine_version(path)

    cache_dir = tmp_path / "cache"
    first = Cache(cache_dir).engine_version(str(engine), probe)
    assert "graphviz" in first and asked == [str(engine)]
    assert Cache(cache_dir).engine_version(str(engine), probe) == first
    assert len(asked) == 1, "a second build asked the engine again"
    os.utime(engine, ns=(0, 10**9))  # another binary at the same path
    Cache(cache_dir).engine_version(str(engine), probe)
    assert len(asked) == 2
    (cache_dir / ENGINES_NAME).write_text("[not json")
    assert Cache(cache_dir).engine_version(str(engine), probe) == first
    assert len(asked) == 3
    Cache(tmp_path / "ro", mode="read-only").engine_version(str(engine), probe)
    assert not (tmp_path / "ro").exists(), "read-only mode wrote the memo"


def test_installed_versions_are_remembered_by_the_import_path(tmp_path: Path) -> None:
    """A warm build asks importlib.metadata nothing (it does not even load it); a change
    to a directory on the import path (an install) makes it ask again."""
    import importlib.metadata

    extra = tmp_path / "site"
    extra.mkdir()
    script = (
        "import sys\n"
        "from model_diagram.cache import Cache\n"
        "cache = Cache(sys.argv[1])\n"
        "print(cache.installed('torch'), cache.installed('no-such-dist-md'),"
        " 'importlib.metadata' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(extra), *sys.path])}

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "cache")],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return done.stdout.split()

    torch_version = importlib.metadata.version("torch")
    assert run() == [torch_version, "missing", "True"]
    assert run() == [torch_version, "missing", "False"], "a second build asked again"
    (extra / "new_dist-1.0.dist-info").mkdir()  # what pip does to a directory on the path
    assert run() == [torch_version, "missing", "True"]
    assert run()[2] == "False"


def test_module_files_resolve_as_pathlib_resolves_them(tmp_path: Path) -> None:
    """The worker resolves module files a directory at a time: the same answer as
    ``Path.resolve`` through linked directories, linked files, ``..`` and relative names."""
    from model_diagram.loader import _resolved

    real = tmp_path / "real" / "pkg"
    real.mkdir(parents=True)
    (real / "mod.py").write_text("")
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    (real / "alias.py").symlink_to(real / "mod.py")
    (tmp_path / "real" / "up").symlink_to(real, target_is_directory=True)
    names = [
        tmp_path / "linked" / "pkg" / "mod.py",
        tmp_path / "linked" / "pkg" / "alias.py",
        tmp_path / "real" / "up" / ".." / "pkg" / "mod.py",  # '..' after a link
        tmp_path / "linked" / "pkg" / "missing.py",
    ]
    for name in names:
        assert _resolved(str(name)) == name.resolve(), name
    assert _resolved("_ops.py") == Path("_ops.py").resolve()
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            assert _resolved(filename) == Path(filename).resolve(), filename
