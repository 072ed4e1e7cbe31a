"""Long-lived ``dot`` processes (model_diagram.layouts): the same bytes as a fresh
process for every graph, errors as a fresh process reports them, one process per
concurrent render, none left after close, none shared with a forked process."""

from __future__ import annotations

import gc
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import shared_pipeline
from model_diagram.errors import RenderError
from model_diagram.layouts import Layouts, _Server
from model_diagram.options import parse_options
from model_diagram.rendering import find_engine, run_engine
from model_diagram.styles.graph import to_dot

pytestmark = pytest.mark.skipif(
    not shutil.which("dot"), reason="no system Graphviz ('dot') on PATH"
)

MODELS = [
    {"factory": "example_project.models:make_cnn", "input": "float[2,3,32,32]", "depth": 2},
    {
        "factory": "example_project.models:make_transformer",
        "kwargs": {"input_ids": "long[1,16](0,1000)"},
        "depth": 3,
        "expand_nested": True,
    },
    {"factory": "models:make_branchy", "input": "float[2,8]"},
    {"factory": "models:make_hostile_names", "input": "float[2,8]"},
    {"factory": "models:make_unicode_names", "input": "float[2,8]"},
]


@pytest.fixture(scope="module")
def dots(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The DOT of real traced models, in both directions and at two depths."""
    pipeline = shared_pipeline(tmp_path_factory.mktemp("cache"))
    found = []
    for values in MODELS:
        options = parse_options(values)
        graph = pipeline.diagram(options).graph
        found.append(to_dot(graph, options))
        found.append(to_dot(graph, options.with_values(direction="LR", depth=1)))
    return found


def test_each_graph_is_drawn_as_a_fresh_process_draws_it(dots: list[str]) -> None:
    engine = find_engine("dot")
    plain = [dot for dot in dots if "subgraph" not in dot]
    clustered = [dot for dot in dots if "subgraph" in dot]
    assert plain and clustered
    # every order: what one graph looks like must not depend on the graphs before it
    order = plain + clustered + plain[::-1] + clustered[::-1] + plain
    layouts = Layouts()
    try:
        drawn = [layouts.run(engine, dot, "svg") for dot in order]
        # one process laid out the plain graphs in turn; a clustered one gets a fresh
        # process (Graphviz orders clusters by where their names sit in memory)
        assert layouts.started == 1
    finally:
        layouts.close()
    assert drawn == [run_engine(engine, dot, "svg") for dot in order]
    assert all(b"page" not in svg.split(b"<title>", 1)[0].split(b"<svg", 1)[1] for svg in drawn)


def test_errors_read_as_a_fresh_process_reports_them(dots: list[str]) -> None:
    engine = find_engine("dot")
    layouts = Layouts()
    try:
        for bad in ["digraph { a -> -> b }", "digraph { a [label=<<b>x</i>>] }"]:
            with pytest.raises(RenderError) as fresh:
                run_engine(engine, bad, "svg")
            with pytest.raises(RenderError) as served:
                layouts.run(engine, bad, "svg")
            assert str(served.value) == str(fresh.value)
            assert layouts.run(engine, dots[0], "svg") == run_engine(engine, dots[0], "svg")
        # a warning is judged by a fresh process too: the same drawing, not an error
        warned = "digraph { compound=true; a -> b [lhead=cluster_x] }"
        assert layouts.run(engine, warned, "svg") == run_engine(engine, warned, "svg")
    finally:
        layouts.close()


def test_a_layout_over_its_time_fails_and_its_process_is_ended() -> None:
    big = "digraph {" + " ".join(f"n{i} -> n{(i * 7 + 3) % 3000};" for i in range(3000)) + "}"
    server = _Server(find_engine("dot"))
    try:
        with pytest.raises(RenderError, match="took more than"):
            server.lay_out(big, timeout=0.001)
    finally:
        server.close()
    assert server.process.poll() is not None


def test_concurrent_renders_get_a_process_each_and_close_ends_them(dots: list[str]) -> None:
    engine = find_engine("dot")
    expected = {dot: run_engine(engine, dot, "svg") for dot in dots}
    layouts = Layouts()
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda dot: layouts.run(engine, dot, "svg"), dots * 4))
    assert drawn == [expected[dot] for dot in dots * 4]
    assert 1 <= layouts.started <= 4
    servers = [server for idle in layouts._idle.values() for server in idle]
    assert len(servers) == layouts.started
    layouts.close()
    assert all(server.process.poll() is not None for server in servers)
    # closed is not broken: the next render starts a new process
    assert layouts.run(engine, dots[0], "svg") == expected[dots[0]]
    layouts.close()


def test_a_forked_process_never_writes_to_its_parents_processes(dots: list[str]) -> None:
    engine = find_engine("dot")
    layouts = Layouts()
    try:
        first = layouts.run(engine, dots[0], "svg")
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # a -j reader: its own process, then its own close
            ok = layouts.run(engine, dots[1], "svg") == run_engine(engine, dots[1], "svg")
            ok = ok and layouts.started == 2
            layouts.close()
            os.write(writer, b"1" if ok else b"0")
            os._exit(0)
        os.close(writer)
        assert os.read(reader, 1) == b"1"
        os.waitpid(pid, 0)
        os.close(reader)
        # the parent's process was neither used nor ended by the child
        assert layouts.run(engine, dots[0], "svg") == first
        assert layouts.started == 1
    finally:
        layouts.close()


def test_a_dropped_pipeline_ends_its_processes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """What the benchmarks' harness met: a Pipeline used without close() kept a dot
    process, a child its caller's wait for all children then waited on."""
    pipeline = shared_pipeline(tmp_path_factory.mktemp("dropped"))
    pipeline.diagram(parse_options(MODELS[0]))
    servers = [server for idle in pipeline._layouts._idle.values() for server in idle]
    assert len(servers) == 1
    process = servers[0].process
    assert process.poll() is None
    del pipeline, servers
    gc.collect()
    assert process.poll() is not None
