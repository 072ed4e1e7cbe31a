"""Deterministic failures are cached like successes; timeouts, crashes and missing
modules are not.

A warm build of a site with broken diagrams must cost what a warm build of a
working site costs: it repeats each warning (same text, same location) from the
cache, in a fresh process that never starts the worker (so never imports torch).
An edit to the file the failure depended on retries it, as an edit invalidates a
working diagram.
"""

from __future__ import annotations

import json
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config

from fresh_builds import run_mkdocs, run_sphinx
from model_diagram.errors import FactoryError, TraceError
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline, _code_digest, trace_key

BROKEN = textwrap.dedent("""\
    from torch import Tensor, nn


    class ForwardRaises(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x: Tensor) -> Tensor:
            raise ValueError("bad forward: shape mismatch")


    def make_raises() -> nn.Module:
        raise RuntimeError("factory exploded")


    def make_forward_raises() -> nn.Module:
        return ForwardRaises()
    """)
FIXED = BROKEN.replace('raise RuntimeError("factory exploded")', "return nn.Linear(8, 4)")
#: (factory, options) of the diagrams on the page: one that works, two that fail the
#: same way every time, and a missing model file, which a new file would fix
DIAGRAMS = [
    ("models:make_mlp", {"input": "float[2,8]"}),
    ("broken_models:make_raises", {"input": "float[2,8]"}),
    ("broken_models:make_forward_raises", {"input": "float[2,8]"}),
]
WARNING = re.compile(r"^(\S+?):(\d+): WARNING: (model-diagram: .*)$", re.MULTILINE)


def sphinx_site(src: Path) -> None:
    src.mkdir(parents=True)
    (src / "broken_models.py").write_text(BROKEN, "utf-8")
    tests = Path(__file__).resolve().parent
    (src / "conf.py").write_text(
        textwrap.dedent(f"""\
            import sys
            from pathlib import Path

            sys.path[:0] = [str(Path(__file__).resolve().parent), {str(tests)!r}]
            extensions = ["model_diagram"]
            exclude_patterns = ["_build"]
            """),
        "utf-8",
    )
    lines = ["Broken", "======", ""]
    for factory, options in DIAGRAMS:
        lines += [f".. model-diagram:: {factory}", *(f"   :{k}: {v}" for k, v in options.items())]
        lines.append("")
    (src / "index.rst").write_text("\n".join(lines), "utf-8")


def located(log: str) -> list[tuple[str, str, str]]:
    return [(Path(m[1]).name, m[2], m[3]) for m in WARNING.finditer(log)]


def test_sphinx_warm_build_repeats_cached_failures_without_the_worker(tmp_path: Path) -> None:
    src = tmp_path / "site"
    sphinx_site(src)
    cold = run_sphinx(src, tmp_path / "cold")
    assert cold["status"] == 0
    first = located(cold["log"])
    assert [line for _, line, _ in first] == ["7", "10"]  # the two broken directives
    assert "factory exploded" in first[0][2] and "[model_diagram.import]" in first[0][2]
    assert "bad forward: shape mismatch" in first[1][2] and "[model_diagram.trace]" in first[1][2]

    warm = run_sphinx(src, tmp_path / "warm")  # a fresh environment: every page is read
    if "0 traced" not in warm["log"]:
        # cache keys hash model_diagram's sources: a shared checkout edited in between
        warm = run_sphinx(src, tmp_path / "warm-again")
    assert located(warm["log"]) == first  # same text, same location
    assert "3 diagram(s) on 1 page(s): 0 traced, 1 from the cache, 2 failed" in warm["log"]
    assert warm["torch"] is False and warm["workers"] == 0

    # fixing the model file retries exactly the failure that imported it
    (src / "broken_models.py").write_text(FIXED, "utf-8")
    fixed = run_sphinx(src, tmp_path / "fixed")
    assert [line for _, line, _ in located(fixed["log"])] == ["10"]
    assert "1 traced" in fixed["log"]


def mkdocs_site(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    (root / "broken_models.py").write_text(BROKEN, "utf-8")
    blocks = []
    for factory, options in DIAGRAMS:
        body = "\n".join([f"factory: {factory}", *(f"{k}: {v}" for k, v in options.items())])
        blocks.append(f"```model-diagram\n{body}\n```\n")
    (docs / "index.md").write_text("# Broken\n\n" + "\n".join(blocks), "utf-8")
    tests = str(Path(__file__).resolve().parent)
    config = {
        "site_name": "Broken",
        "plugins": [{"model-diagram": {"cache_dir": "cache", "paths": [".", tests]}}],
    }
    path = root / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def test_mkdocs_warm_build_repeats_cached_failures_without_the_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_file = mkdocs_site(tmp_path / "site")
    _code_digest.cache_clear()  # hash our sources as they are now, as the fresh process will
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.model_diagram"):
        mkdocs_build(load_config(config_file=str(config_file)))
    first = [r.getMessage() for r in caplog.records if "index.md" in r.getMessage()]
    assert len(first) == 2
    assert "factory exploded" in first[0] and "bad forward: shape mismatch" in first[1]

    report = run_mkdocs(config_file)
    assert report == {"traced": 0, "torch": False, "worker": False, "warnings": first}


@pytest.mark.parametrize(
    ("values", "error", "fragment"),
    [
        ({"factory": "models:make_exit"}, TraceError, "worker process died"),
        ({"factory": "models:make_slow", "timeout": 3}, TraceError, "timed out after 3 s"),
        ({"factory": "no_such_module:make"}, FactoryError, "No module named"),
    ],
    ids=["crash", "timeout", "missing-module"],
)
def test_crashes_timeouts_and_missing_modules_are_not_cached(
    tmp_path: Path, values: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    options = parse_options({**values, "input": "float[2,8]"})
    pipeline = Pipeline(tmp_path / "cache")
    with pytest.raises(error, match=fragment):
        pipeline.diagram(options)
    assert not pipeline.cache.has_trace(trace_key(options, pipeline.cache))


def test_a_cached_failure_is_the_same_error(tmp_path: Path) -> None:
    options = parse_options({"factory": "models:make_forward_raises", "input": "float[2,8]"})
    first = Pipeline(tmp_path / "cache")
    with pytest.raises(TraceError) as cold:
        first.diagram(options)
    assert first.cache.has_trace(trace_key(options, first.cache))
    jobs = first.worker.submitted
    again = Pipeline(tmp_path / "cache", worker=first.worker)
    with pytest.raises(TraceError) as warm:
        again.diagram(options)
    assert first.worker.submitted == jobs  # nothing was sent to the worker
    assert (warm.value.message, warm.value.detail) == (cold.value.message, cold.value.detail)


def test_a_forged_failure_message_cannot_forge_log_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The cache is untrusted: a failure's message is printed, so a forged one could
    write a log record of its own (a newline, then ``INFO -``) or colour the terminal."""
    config_file = mkdocs_site(tmp_path / "site")
    mkdocs_build(load_config(config_file=str(config_file)))
    forged = 0
    for path in (tmp_path / "site" / "cache" / "manifests").glob("*.json"):
        manifest = json.loads(path.read_text("utf-8"))
        if manifest.get("error"):
            manifest["error"]["message"] = "broken\nINFO    -  all good\x1b[32m green\r\x07"
            path.write_text(json.dumps(manifest), "utf-8")
            forged += 1
    assert forged == 2
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.model_diagram"):
        mkdocs_build(load_config(config_file=str(config_file)))
    messages = [r.getMessage() for r in caplog.records if "index.md" in r.getMessage()]
    assert len(messages) == 2, messages
    for message in messages:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", message), repr(message)
        assert all(line.startswith((" ", "model-diagram:")) for line in message.splitlines())
    page = (tmp_path / "site" / "site" / "index.html").read_text("utf-8")
    assert "\x1b" not in page and "\x07" not in page and "all good" in page
