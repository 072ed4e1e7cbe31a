"""One cache for a fleet: a real S3-compatible server (moto's, as s3fs's own suite uses)
on 127.0.0.1 plays the bucket, and real Sphinx and MkDocs sites play the runners.

Runner 1 builds cold and writes; runner 2, a checkout at another path with no
local cache, builds warm from the bucket in a fresh process and never starts the
worker (so never imports torch); a read-only runner on an empty prefix builds its
diagrams and writes nothing; a server stopped mid-build gives one located
``model_diagram.cache`` warning and a complete site. Also ``memory://``, the CLI's
``cache info``/``cache prune``, and the message naming a missing extra.
Skipped, with the reason, without the ``s3`` extra or moto's server.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup

from fresh_builds import environment, run_mkdocs, run_sphinx
from model_diagram import cli
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline, _code_digest

TESTS = Path(__file__).resolve().parent


needs_s3 = pytest.mark.skipif(
    importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("moto") is None,
    reason="needs the s3 extra and moto's server: pip install 'model-diagram[s3]' 'moto[server]'",
)
PAGES = {
    "index": ["models:make_mlp", "models:make_branchy"],
    "second": ["models:make_two_inputs"],
}
INPUTS = {
    "models:make_mlp": {"input": "float[2,8]"},
    "models:make_branchy": {"input": "float[2,8]"},
    "models:make_two_inputs": {"inputs": "['float[3,8]', 'float[3,6]']"},
}


@dataclass
class Bucket:
    """A bucket on a moto server: its URL prefix maker, storage options and the server."""

    endpoint: str
    server: Any
    name: str = "fleet"

    def url(self, prefix: str) -> str:
        return f"s3://{self.name}/{prefix}"

    @property
    def options(self) -> dict[str, Any]:
        return {"client_kwargs": {"endpoint_url": self.endpoint}, "skip_instance_cache": True}

    def objects(self, prefix: str) -> list[str]:
        import s3fs

        fs = s3fs.S3FileSystem(**self.options)
        try:
            return sorted(fs.find(f"{self.name}/{prefix}"))
        except FileNotFoundError:
            return []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    from moto.server import ThreadedMotoServer

    # credentials of the test server, through the environment like a CI runner's
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its buckets per process, across servers: one bucket per test
    found = Bucket(f"http://127.0.0.1:{port}", server, name=f"fleet-{port}")
    import s3fs

    s3fs.S3FileSystem(**found.options).mkdir(found.name)
    running = [True]
    original = server.stop

    def stop() -> None:
        if running[0]:
            running[0] = False
            original()

    server.stop = stop  # type: ignore[method-assign]
    try:
        yield found
    finally:
        stop()


# -- Sphinx


def sphinx_site(src: Path, cache_dir: str, options: dict[str, Any], mode: str | None) -> None:
    src.mkdir(parents=True)
    (src / "conf.py").write_text(
        textwrap.dedent(f"""\
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            extensions = ["model_diagram"]
            exclude_patterns = ["_build"]
            model_diagram_cache_dir = {cache_dir!r}
            model_diagram_cache_storage_options = {options!r}
            model_diagram_cache_mode = {mode!r}
            """),
        "utf-8",
    )
    for page, factories in PAGES.items():
        lines = [page.title(), "=" * len(page), ""]
        if page == "index":
            lines += [".. toctree::", "", *(f"   {p}" for p in PAGES if p != "index"), ""]
        for factory in factories:
            lines.append(f".. model-diagram:: {factory}")
            lines += [f"   :{k}: {v}" for k, v in INPUTS[factory].items()]
            lines.append("")
        (src / f"{page}.rst").write_text("\n".join(lines), "utf-8")


def svgs(out: Path) -> dict[str, list[str]]:
    pages = {}
    for page in PAGES:
        soup = BeautifulSoup((out / f"{page}.html").read_text("utf-8"), "lxml")
        pages[page] = [svg["aria-label"] for svg in soup.select("svg.model-diagram-svg")]
    return pages


@needs_s3
def test_sphinx_fleet(bucket: Bucket, tmp_path: Path, make_app: Callable[..., Any]) -> None:
    store = bucket.url("docs")
    runner1 = tmp_path / "runner1" / "docs"
    sphinx_site(runner1, store, bucket.options, None)
    _code_digest.cache_clear()
    cold = run_sphinx(runner1, tmp_path / "out1")
    assert cold["status"] == 0 and "WARNING" not in cold["log"], cold["log"]
    assert "3 traced" in cold["log"]
    written = bucket.objects("docs")
    assert any("/manifests/" in o for o in written) and any("/blobs/" in o for o in written)

    # runner 2: another checkout path, no local cache: everything from the bucket
    runner2 = tmp_path / "elsewhere" / "checkout" / "docs"
    sphinx_site(runner2, store, bucket.options, None)
    warm = run_sphinx(runner2, tmp_path / "out2")
    assert warm["status"] == 0 and "WARNING" not in warm["log"], warm["log"]
    assert "3 diagram(s) on 2 page(s): 0 traced, 3 from the cache" in warm["log"]
    assert warm["torch"] is False and warm["workers"] == 0
    assert svgs(tmp_path / "out2") == svgs(tmp_path / "out1")
    assert (runner2 / ".model-diagram-cache" / "manifests").is_dir()  # the local copy
    assert bucket.objects("docs") == written  # a warm build writes nothing new

    # a read-only runner (a pull request from a fork) on an empty prefix: traces, writes
    # nothing to the bucket; the environment variable beats the configuration
    runner3 = tmp_path / "fork" / "docs"
    sphinx_site(runner3, bucket.url("empty"), bucket.options, "read-write")
    ro = run_sphinx(runner3, tmp_path / "out3", environment(MODEL_DIAGRAM_CACHE_MODE="read-only"))
    assert ro["status"] == 0 and "WARNING" not in ro["log"], ro["log"]
    assert "3 traced" in ro["log"]
    assert bucket.objects("empty") == []
    assert len(svgs(tmp_path / "out3")["index"]) == 2

    # the server goes away after the first page: one located cache warning, whole site
    runner4 = tmp_path / "late" / "docs"
    sphinx_site(runner4, bucket.url("late"), bucket.options, None)
    app = make_app("html", srcdir=runner4)
    app.connect("doctree-read", lambda app, doctree: bucket.server.stop())
    app.build()
    log = app.warning.getvalue()
    cache_warnings = [line for line in log.splitlines() if "[model_diagram.cache]" in line]
    assert len(cache_warnings) == 1, log
    assert "unreachable" in cache_warnings[0] and ".rst:" in cache_warnings[0]
    assert app.statuscode == 0
    assert sum(len(v) for v in svgs(app.outdir).values()) == 3


# -- MkDocs


def mkdocs_site(root: Path, cache: dict[str, Any]) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    for page, factories in PAGES.items():
        blocks = []
        for factory in factories:
            body = "\n".join(
                [f"factory: {factory}", *(f"{k}: {v}" for k, v in INPUTS[factory].items())]
            )
            blocks.append(f"```model-diagram\n{body}\n```\n")
        (docs / f"{page}.md").write_text(f"# {page}\n\n" + "\n".join(blocks), "utf-8")
    config = {
        "site_name": "Fleet",
        "plugins": [{"model-diagram": {"paths": [str(TESTS)], **cache}}],
    }
    path = root / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def site_svgs(config: Path) -> list[str]:
    site = config.parent / "site"
    found = []
    for page in ("index.html", "second/index.html"):
        soup = BeautifulSoup((site / page).read_text("utf-8"), "lxml")
        found += [svg["aria-label"] for svg in soup.select("svg.model-diagram-svg")]
    return found


@needs_s3
def test_mkdocs_fleet(bucket: Bucket, tmp_path: Path) -> None:
    cache = {"cache_dir": bucket.url("site"), "cache_storage_options": bucket.options}
    first = mkdocs_site(tmp_path / "runner1", cache)
    _code_digest.cache_clear()
    cold = run_mkdocs(first)
    assert cold["traced"] == 3 and cold["warnings"] == []
    written = bucket.objects("site")
    assert written

    second = mkdocs_site(tmp_path / "other" / "path" / "runner2", cache)
    warm = run_mkdocs(second)
    assert warm == {"traced": 0, "torch": False, "worker": False, "warnings": []}
    assert site_svgs(second) == site_svgs(first)
    assert bucket.objects("site") == written

    fork = mkdocs_site(
        tmp_path / "fork",
        {**cache, "cache_dir": bucket.url("pr"), "cache_mode": "read-only"},
    )
    ro = run_mkdocs(fork)
    assert ro["traced"] == 3 and ro["warnings"] == []
    assert bucket.objects("pr") == []

    bucket.server.stop()
    late = mkdocs_site(tmp_path / "late", {**cache, "cache_dir": bucket.url("late")})
    down = run_mkdocs(late)
    assert down["traced"] == 3
    assert len(down["warnings"]) == 1 and "unreachable" in down["warnings"][0]
    assert "[model_diagram.cache]" in down["warnings"][0] and ".md" in down["warnings"][0]
    assert len(site_svgs(late)) == 3


# -- memory://, the CLI, a missing extra


def test_memory_store_shares_entries_between_local_copies(tmp_path: Path) -> None:
    options = parse_options({"factory": "models:make_mlp", "input": "float[2,8]"})
    store = f"memory://model-diagram-tests/{tmp_path.name}"
    first = Pipeline(store, local_dir=tmp_path / "a")
    cold = first.diagram(options)
    assert first.traced == 1 and not cold.cached
    jobs = first.worker.submitted
    second = Pipeline(store, worker=first.worker, local_dir=tmp_path / "b")
    warm = second.diagram(options)
    assert warm.cached and second.traced == 0 and first.worker.submitted == jobs
    assert warm.svg == cold.svg
    assert (tmp_path / "b" / "manifests").is_dir()
    # a forged entry in the store is refused, not embedded: the blob no longer matches
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in fs.find(f"/model-diagram-tests/{tmp_path.name}/blobs"):
        if path.endswith(".svg"):
            fs.pipe_file(path, b"<svg><script>alert(1)</script></svg>")
    third = Pipeline(store, worker=first.worker, local_dir=tmp_path / "c")
    redrawn = third.diagram(options)
    assert "<script" not in redrawn.svg and redrawn.svg == cold.svg


@needs_s3
def test_cli_cache_info_and_prune(bucket: Bucket, tmp_path: Path, capsys: Any) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**bucket.options)
    fs.pipe_file(f"{bucket.name}/cli/README.txt", b"not ours")
    fs.pipe_file(f"{bucket.name}/cli/manifests/notes.json", b"{}")
    store = bucket.url("cli")
    flags = ["--cache-dir", store, "--cache-storage-options", json.dumps(bucket.options)]
    out = tmp_path / "mlp.svg"
    assert (
        cli.main(["render", "models:make_mlp", "--input", "float[2,8]", "-o", str(out), *flags])
        == 0
    )
    capsys.readouterr()
    assert cli.main(["cache", "info", *flags]) == 0
    info = json.loads(capsys.readouterr().out)
    # the trace, the drawing and its explorer views (none: too small to fold), and blobs
    assert info["remote"]["manifests"] == 1 and info["remote"]["renders"] == 2
    assert info["remote"]["blobs"] == 3 and info["remote"]["bytes"] > 0
    assert cli.main(["cache", "prune", "--older-than", "30d", *flags]) == 0
    assert json.loads(capsys.readouterr().out)["remote"] == 0  # all used just now
    assert cli.main(["cache", "prune", "--older-than", "0s", *flags]) == 0
    assert json.loads(capsys.readouterr().out)["remote"] == 6
    left = sorted(p.rsplit("/cli/", 1)[1] for p in bucket.objects("cli"))
    assert left == ["README.txt", "manifests/notes.json"]  # nothing the cache did not write


def test_missing_extra_is_named_and_the_build_goes_on(tmp_path: Path) -> None:
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed: the missing-extra message cannot be seen")
    pipeline = Pipeline("gs://bucket/prefix", local_dir=tmp_path / "local")
    (problem,) = pipeline.cache.take_problems()
    assert problem.kind == "cache" and "pip install 'model-diagram[gcs]'" in problem.message
    assert pipeline.cache.remote is None
    result = pipeline.diagram(parse_options({"factory": "models:make_mlp", "input": "float[2,8]"}))
    assert "Linear" in result.svg and (tmp_path / "local" / "manifests").is_dir()


def test_file_store_hits_from_a_checkout_at_another_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``file://`` like any store; the manifest names the model file beside ``docs/`` as
    ``../src/...``, so a checkout at another path (another runner) hits it."""
    model = "from torch import nn\n\n\ndef make():\n    return nn.Sequential(nn.Linear(8, 3))\n"
    checkouts = [tmp_path / "a" / "repo", tmp_path / "b" / "deeper" / "repo"]
    for root in checkouts:
        (root / "src").mkdir(parents=True)
        (root / "src" / "fleet_models.py").write_text(model, "utf-8")
        (root / "docs").mkdir()
    store = (tmp_path / "store").as_uri()
    options = parse_options({"factory": "fleet_models:make", "input": "float[2,8]"})
    results = []
    worker = None
    for root in checkouts:
        with monkeypatch.context() as patch:
            patch.syspath_prepend(str(root / "src"))
            pipeline = Pipeline(
                store, worker=worker, local_dir=root / "docs" / ".model-diagram-cache"
            )
            results.append((pipeline.diagram(options), pipeline.traced))
            worker = pipeline.worker
    (cold, cold_traced), (warm, warm_traced) = results
    assert (cold_traced, warm_traced) == (1, 0) and warm.cached and warm.svg == cold.svg
    (manifest,) = (tmp_path / "store" / "manifests").glob("*.json")
    assert list(json.loads(manifest.read_text("utf-8"))["files"]) == ["../src/fleet_models.py"]
