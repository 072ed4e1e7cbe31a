"""Reliability and security suite: whatever the input, the site builds and stays safe.

- A bad-input battery: dozens of broken directives (Sphinx) and blocks (MkDocs), each
  built once on one site next to working diagrams. Every broken one must give one
  typed warning at its page and line and a placeholder at its spot; every working
  one must still be drawn; the build exits 0, and fails with ``-W`` / ``--strict``.
- Cache faults: truncated and forged blobs, corrupt manifests and pointers, missing
  files, an unwritable cache, two builds at once on one cache. Nothing wrong is ever
  embedded and the entries are rebuilt.
- Security: option values never reach eval/exec/a shell; paths stay in the build and
  cache dirs; hostile module and class names are escaped; and every SVG the whole
  test session produced (inline in HTML, files, cache blobs) is checked at the end
  for scripts, event attributes and external references.
- Determinism: the example docs built twice from empty caches give the same bytes.

Slow parts (a worker killed by a timeout or a crash pays the torch import again)
are kept to one per kind, and the ``-W`` / ``--strict`` builds run as subprocesses
alongside the in-process builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup, Tag
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from sphinx.testing.util import SphinxTestApp

from conftest import shared_pipeline
from model_diagram.cache import MEMO_NAMES
from model_diagram.classlinks import resolve_class_links
from model_diagram.errors import KINDS
from model_diagram.options import parse_options
from model_diagram.pipeline import Pipeline
from svg_safety import assert_all_safe, our_svgs, svg_problems

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLE = REPO / "example_project"
BIN = Path(sys.executable).parent
MKDOCS_LOGGER = "mkdocs.plugins.model_diagram"

MakeApp = Callable[..., SphinxTestApp]


def subprocess_env() -> dict[str, str]:
    """The test process's sys.path (tests/, example_project/) for child builds."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        NO_MKDOCS_2_WARNING="1",
        NO_COLOR="1",
    )


# -- the bad-input battery

MARKER = "{marker}"  # replaced by a path per build: a file that must never be created


@dataclass(frozen=True)
class Case:
    """One directive/block: ``kind`` of its warning, or ``None`` for a working diagram."""

    id: str
    page: str
    kind: str | None
    fragment: str | tuple[str, str]  # in the warning; (Sphinx, MkDocs) when they differ
    rst: str | None = None
    block: str | None = None

    def fragment_for(self, front: str) -> str:
        if isinstance(self.fragment, tuple):
            return self.fragment[0 if front == "sphinx" else 1]
        return self.fragment


def case(  # noqa: PLR0917 -- a table row
    id_: str,
    page: str,
    kind: str | None,
    fragment: str | tuple[str, str],
    factory: str,
    options: dict[str, str] | None = None,
    *,
    sphinx: bool = True,
    mkdocs: bool = True,
) -> Case:
    """The same diagram as an rST directive and as a YAML block."""
    options = dict(options or {})
    if kind is None:
        options["alt"] = f"good-{id_}"
    rst = "\n".join(
        [f".. model-diagram:: {factory}", *(f"   :{k}: {v}" for k, v in options.items())]
    )
    block = "\n".join([f"factory: {factory}", *(f"{k}: {v}" for k, v in options.items())])
    return Case(id_, page, kind, fragment, rst if sphinx else None, block if mkdocs else None)


X = {"input": "float[2,8]"}
BOMB = (
    "{a: &a ['float[2]', 'float[2]', 'float[2]', 'float[2]', 'float[2]', 'float[2]', "
    "'float[2]', 'float[2]', 'float[2]', 'float[2]'], b: &b [*a, *a, *a, *a, *a, *a, *a, *a, "
    "*a, *a], c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], d: &d [*c, *c, *c, *c, *c, *c, "
    "*c, *c, *c, *c], e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}"
)
DEEP = "[" * 40 + "'float[2]'" + "]" * 40

# fmt: off
CASES: list[Case] = [
    # -- options: unknown, wrong types, out of range, malformed YAML, conflicts
    case("unknown-option", "options", "option", "unknown option 'dpeth'", "models:make_mlp",
         {**X, "dpeth": "2"}),
    case("depth-not-int", "options", "option", "option 'depth'", "models:make_mlp",
         {**X, "depth": "two"}),
    case("good-mlp", "options", None, "", "models:make_mlp", X),
    case("batch-size-zero", "options", "option", "option 'batch-size'", "models:make_mlp",
         {"batch-size": "0"}),
    case("timeout-negative", "options", "option", "option 'timeout'", "models:make_mlp",
         {**X, "timeout": "-1"}),
    case("malformed-yaml", "options", "option", ("cannot parse", "not valid YAML"),
         "models:make_mlp", {"input": "[float[2,8]"}),
    case("kwargs-not-mapping", "options", "option", "option 'factory-kwargs'",
         "models:make_mlp", {**X, "factory-kwargs": "[1, 2]"}),
    case("good-branchy", "options", None, "", "models:make_branchy", X),
    case("factory-no-colon", "options", "option", "must look like", "models.make_mlp", X),
    case("unknown-style", "options", "option", "option 'style'", "models:make_mlp",
         {**X, "style": "cubist"}),
    case("input-conflict", "options", "option", "cannot be combined", "models:make_mlp",
         {**X, "input-size": "[2, 8]"}),
    case("inputs-not-list", "options", "option", "option 'inputs'", "models:make_mlp",
         {"inputs": "float[2,8]"}),
    case("good-two-inputs", "options", None, "", "models:make_two_inputs",
         {"inputs": "['float[2,8]', 'float[2,6]']"}),
    case("name-traversal", "options", "option", "option 'name'", "models:make_mlp",
         {**X, "name": "../../etc/passwd"}),
    case("width-css-injection", "options", "option", "option 'width'", "models:make_mlp",
         {**X, "width": "100px;background:url(https://evil.example)"}),
    case("class-quote", "options", "option", "option 'class'", "models:make_mlp",
         {**X, "class": 'a"onclick=alert(1)'}),
    case("unknown-device", "options", "option", "option 'device'", "models:make_mlp",
         {**X, "device": "tpu"}),
    case("not-a-bool", "options", "option", "option 'show-shapes'", "models:make_mlp",
         {**X, "show-shapes": "maybe"}),
    case("engine-shell", "options", "option", "option 'engine'", "models:make_mlp",
         {**X, "engine": f"dot -Tsvg -o {MARKER}"}),
    case("good-timeout-huge", "options", None, "", "models:make_mlp",
         {"input": "float[3,8]", "timeout": "1e308"}),
    case("kwargs-date", "options", "option", "cannot pass datetime.date", "models:ClassFactory",
         {**X, "factory-kwargs": "{width: 2020-01-01}"}),
    case("kwargs-binary", "options", "option", "(bytes)", "models:ClassFactory",
         {**X, "factory-kwargs": "{width: !!binary aGVsbG8=}"}),
    case("kwargs-cycle", "options", "option", "nested more than", "models:ClassFactory",
         {**X, "factory-kwargs": "&k {width: *k}"}),
    case("yaml-python-tag", "options", "option", ("cannot parse", "not valid YAML"),
         "models:make_mlp", {"input": f"!!python/object/apply:os.system ['touch {MARKER}']"}),
    case("input-size-negative", "options", "option", "dims must be positive",
         "models:make_mlp", {"input-size": "[2, -8]"}),
    case("factory-python-code", "options", "option", "must look like",
         f"__import__('os').system('touch {MARKER}')", X),
    # -- inputs: malformed specs, dtypes, dims, sizes, structures
    case("spec-letters", "inputs", "input", "must be integers", "models:make_mlp",
         {"input": "float[2,x]"}),
    case("unknown-dtype", "inputs", "input", "unknown dtype 'complex'", "models:make_mlp",
         {"input": "complex[2,8]"}),
    case("zero-dim", "inputs", "input", "must be positive", "models:make_mlp",
         {"input": "float[2,0]"}),
    case("negative-dim", "inputs", "input", "must be positive", "models:make_mlp",
         {"input": "float[-2,8]"}),
    case("good-huge-dims-on-meta", "inputs", None, "", "models:make_mlp",
         {"input": "float[100000000,8]", "device": "meta"}),
    case("range-on-float", "inputs", "input", "only allowed for integer", "models:make_mlp",
         {"input": "float[2,8](0,5)"}),
    case("empty-range", "inputs", "input", "is empty", "models:make_mlp",
         {"input": "long[2,8](5,1)"}),
    case("huge-dims-cpu", "inputs", "input", "GiB on cpu", "models:make_mlp",
         {"input": "float[100000,100000,100000]", "device": "cpu"}),
    case("huge-input-size-cpu", "inputs", "input", "GiB on cpu", "models:make_mlp",
         {"input-size": "[100000, 100000, 100000]", "device": "cpu"}),
    case("dims-overflow", "inputs", "input", "more elements than any tensor",
         "models:make_mlp", {"input": "float[9223372036854775807,8]"}),
    case("int-dict-keys", "inputs", "input", "keys must be strings", "models:make_mlp",
         {"input": "{1: 'float[2,8]'}"}),
    case("good-input-factory", "inputs", None, "", "models:make_mlp",
         {"input-factory": "models_broken:inputs_ok"}),
    case("self-referencing-input", "inputs", "input", "does a YAML alias refer to itself",
         "models:make_mlp", {"input": "&a [*a]"}),
    case("alias-bomb", "inputs", "input", "more than 10000 items", "models:make_mlp",
         {"input": BOMB}),
    case("deep-nesting", "inputs", "input", "nested more than 32 levels", "models:make_mlp",
         {"input": DEEP}),
    case("spec-shell", "inputs", "input", "malformed tensor spec", "models:make_mlp",
         {"input": f"float[2,8]; touch {MARKER}"}),
    case("spec-python-code", "inputs", "input", "malformed tensor spec", "models:make_mlp",
         {"input": f"__import__('os').system('touch {MARKER}')"}),
    case("input-factory-raises", "inputs", "input", "no example inputs here",
         "models:make_mlp", {"input-factory": "models_broken:inputs_raise"}),
    case("input-factory-wrong", "inputs", "input", "must return (args, kwargs)",
         "models:make_mlp", {"input-factory": "models_broken:inputs_wrong_shape"}),
    case("input-factory-os-system", "inputs", "import", "refusing to call 'os:system'",
         "models:make_mlp", {"input-factory": "os:system"}),  # was called (issue 14 D4)
    case("good-noisy", "inputs", None, "", "models_broken:make_noisy", X),
    # -- imports: modules, attributes, factories that raise or return the wrong thing
    case("no-module", "imports", "import", "cannot import 'nomodule:make'", "nomodule:make", X),
    case("no-attr", "imports", "import", "has no attribute 'no_such_factory'",
         "models:no_such_factory", X),
    case("factory-raises", "imports", "import", "factory exploded", "models:make_raises", X),
    case("returns-int", "imports", "import", "returned int", "models:make_not_module", X),
    case("good-class-factory", "imports", None, "", "models:ClassFactory",
         {**X, "factory-kwargs": "{width: 5}"}),
    case("returns-class", "imports", "import", "returned type",
         "models_broken:make_returns_class", X),
    case("not-callable", "imports", "import", "is a str, not a callable",
         "models_broken:NOT_CALLABLE", X),
    case("syntax-error", "imports", "import", "SyntaxError", "battery_syntax:make", X),
    case("import-raises", "imports", "import", "ZeroDivisionError", "battery_raises:make", X),
    case("instance-with-kwargs", "imports", "import", "takes no factory-kwargs",
         "models:INSTANCE", {**X, "factory-kwargs": "{width: 3}"}),
    case("bogus-kwargs", "imports", "import", "raised TypeError", "models:make_mlp",
         {**X, "factory-kwargs": "{bogus: 1}"}),
    case("good-hostile-names", "imports", None, "", "models:make_hostile_names", X),
    case("kwargs-shell", "imports", "import", "raised TypeError", "models:ClassFactory",
         {**X, "factory-kwargs": f"{{width: '$(touch {MARKER})'}}"}),
    case("input-factory-no-module", "imports", "import", "cannot import 'nomodule:inputs'",
         "models:make_mlp", {"input-factory": "nomodule:inputs"}),
    case("input-factory-not-callable", "imports", "import", "not a callable",
         "models:make_mlp", {"input-factory": "models_broken:NOT_CALLABLE"}),
    case("huge-weights-cpu", "imports", "import", "can't allocate memory",
         "models_broken:make_huge_linear", {**X, "device": "cpu"}),
    case("good-huge-weights-on-meta", "imports", None, "", "models_broken:make_huge_linear", X),
    case("good-evil-class-names", "imports", None, "", "models_broken:make_evil_names", X),
    # -- traces: forward raises, recursion, crashes, hangs, wrong inputs
    case("forward-raises", "traces", "trace", "bad forward: shape mismatch",
         "models:make_forward_raises", X),
    case("recursion", "traces", "trace", "RecursionError", "models:make_recursive", X),
    case("os-exit", "traces", "trace", "exit code 3", "models:make_exit", X),
    case("good-after-a-crash", "traces", None, "", "models:make_branchy",
         {"input": "float[3,8]"}),
    case("killed", "traces", "trace", "exit code -9", "models_broken:make_killed", X,
         mkdocs=False),  # each crash costs a new worker: these two are shared code
    case("sleeps-past-timeout", "traces", "trace", "timed out after 3 s", "models:make_slow",
         {**X, "timeout": "3"}),
    case("good-after-a-timeout", "traces", None, "", "models:make_mlp", {"input": "float[4,8]"}),
    case("wrong-shape", "traces", "trace", "mat1 and mat2", "models:make_mlp",
         {"input": "float[2,7]"}),
    case("dict-for-tensor", "traces", "trace", "received a dict",
         "models:make_wants_tensor", {"input": "{x: 'float[2,8]'}"}),
    case("sys-exit", "traces", "trace", "SystemExit", "models_broken:make_sys_exit", X),
    case("unprintable-exception", "traces", "trace", "str() of this exception fails",
         "models_broken:make_unprintable", X),
    case("forward-allocates-huge", "traces", "trace", "can't allocate memory",
         "models_broken:make_allocates_huge", X),
    case("good-leaves-a-trap", "traces", None, "", "models_broken:make_dies_on_next_job", X,
         mkdocs=False),
    case("good-after-the-trap", "traces", None, "", "models:make_two_inputs",
         {"inputs": "['float[3,8]', 'float[3,6]']"}, mkdocs=False),
    # 64 MiB of weights: tried on meta first (a small model with given inputs is not)
    case("good-cpu-fallback", "traces", None, "", "models:make_data_dependent",
         {**X, "factory-kwargs": "{classes: 2097152}"}),
    # -- render: styles that cannot draw the model
    case("nothing-left-to-draw", "traces", "render", "nothing to draw", "models:make_mlp",
         {**X, "style": "layered", "type-ignore": "[Input, Linear, ReLU, Output]"}),
    case("tangled-layered", "traces", "render", "use style: graph",
         "models_styles:make_tangled", {**X, "style": "layered"}),
    # -- Sphinx only: the directive's own syntax
    Case("no-factory", "sphinx", "option", "option 'factory' needs a value",
         rst=".. model-diagram::\n   :input: float[2,8]"),
    Case("factory-with-spaces", "sphinx", "option", "must look like",
         rst=".. model-diagram:: models:make_mlp and more\n   :input: float[2,8]"),
    Case("two-captions", "sphinx", "option", "not both",
         rst=".. model-diagram:: models:make_mlp\n   :input: float[2,8]\n   :caption: One.\n\n"
         "   Two."),
    Case("content-not-caption", "sphinx", "option", "must start with the caption",
         rst=".. model-diagram:: models:make_mlp\n   :input: float[2,8]\n\n   - a list"),
    Case("option-without-value", "sphinx", "option", "needs a value",
         rst=".. model-diagram:: models:make_mlp\n   :input:"),
    case("good-pdf-on-graphviz-pure", "sphinx", None, "", "models:make_mlp",
         {"input": "float[2,8]", "engine": "graphviz-pure", "format": "pdf"}, mkdocs=False),
    # the system Graphviz only where it is installed (a fresh machine has none)
    *([case("good-pdf-on-dot", "sphinx", None, "", "models:make_mlp",
            {"input": "float[5,8]", "engine": "dot", "format": "pdf"}, mkdocs=False)]
      if shutil.which("dot") else []),
    # -- MkDocs only: the block's YAML
    Case("block-is-a-list", "mkdocs", "option", "must be a YAML mapping",
         block="- factory: models:make_mlp"),
    Case("block-is-empty", "mkdocs", "option", "the block is empty", block=""),
    Case("block-is-a-scalar", "mkdocs", "option", "not a str", block="models:make_mlp"),
    Case("block-without-factory", "mkdocs", "option", "option 'factory' is required",
         block="input: float[2,8]"),
    Case("factory-not-text", "mkdocs", "option", "option 'factory'",
         block="factory: [models, make_mlp]"),
    Case("block-python-tag", "mkdocs", "option", "not valid YAML",
         block=f"!!python/object/apply:os.system ['touch {MARKER}']"),
    Case("bad-indentation", "mkdocs", "option", "not valid YAML at line",
         block="factory: models:make_mlp\ninput: float[2,8]\n  depth: 2"),
    Case("key-not-text", "mkdocs", "option", "option names are text",
         block="factory: models:make_mlp\ninput: float[2,8]\n3: 4"),
    Case("yaml-too-deep", "mkdocs", "option", "not valid YAML",
         block="factory: models:make_mlp\ninput: " + "[" * 3000 + "]" * 3000),
]
# fmt: on

FRONTS = ("sphinx", "mkdocs")
MODULES = {  # written next to each site's sources: modules that fail to import
    "battery_syntax.py": "def make(:\n    pass\n",
    "battery_raises.py": "RATIO = 1 / 0\n",
}


def cases_for(front: str) -> list[Case]:
    return [c for c in CASES if (c.rst if front == "sphinx" else c.block) is not None]


def test_battery_covers_every_error_kind() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    for front in FRONTS:
        broken = [c for c in cases_for(front) if c.kind]
        assert len(broken) >= 30, front
        # cache errors never stop a diagram: they are the cache-fault tests' business
        assert {c.kind for c in broken} == set(KINDS) - {"cache"}, front


@dataclass
class Expected:
    """Where each case of a generated site is (page, line) and what the page shows."""

    front: str
    cases: list[Case]
    where: dict[str, tuple[str, int]] = field(default_factory=dict)


def write_pages(front: str, root: Path, marker: Path) -> Expected:
    """One page per group of cases, each case after a "Case <id>." paragraph."""
    expected = Expected(front, cases_for(front))
    pages: dict[str, list[str]] = {}
    for c in expected.cases:
        lines = pages.setdefault(c.page, [c.page.title(), "=" * len(c.page), ""])
        if front == "mkdocs" and len(lines) == 3:
            lines[:] = [f"# {c.page.title()}", ""]
        lines += [f"Case {c.id}.", ""]
        expected.where[c.id] = (c.page, len(lines) + 1)
        text = (c.rst if front == "sphinx" else c.block) or ""
        text = text.replace(MARKER, str(marker))
        if front == "sphinx":
            lines += [*text.splitlines(), ""]
        else:
            lines += ["```model-diagram", *text.splitlines(), "```", ""]
    suffix = ".rst" if front == "sphinx" else ".md"
    for name, lines in pages.items():
        (root / f"{name}{suffix}").write_text("\n".join(lines) + "\n", "utf-8")
    for name, text in MODULES.items():
        (root / name).write_text(text, "utf-8")
    if front == "sphinx":
        toctree = "\n".join(f"   {name}" for name in pages)
        (root / "index.rst").write_text(f"Battery\n=======\n\n.. toctree::\n\n{toctree}\n")
    else:
        (root / "index.md").write_text("# Battery\n")
    return expected


def placed(body: Tag) -> list[tuple[str, str]]:
    """("case", id), ("error", kind) and ("svg", label) in document order."""
    found = []
    for el in body.find_all(["p", "div", "svg"]):
        classes = el.get("class") or []
        if el.name == "p" and el.get_text().startswith("Case "):
            found.append(("case", el.get_text().strip()[5:-1]))
        elif el.name == "div" and "model-diagram-error" in classes:
            found.append(("error", el.p.get_text().rsplit("(", 1)[1].split()[0]))
        elif el.name == "svg" and "model-diagram-svg" in classes:
            found.append(("svg", el["aria-label"]))
    return found


def check_battery(
    expected: Expected,
    warnings: dict[tuple[str, int], list[tuple[str, str]]],
    bodies: dict[str, Tag],
) -> None:
    """One typed warning at each broken case's line; each case's output at its spot."""
    front = expected.front
    broken = [c for c in expected.cases if c.kind]
    located = {expected.where[c.id]: c for c in broken}
    assert set(warnings) == set(located), sorted(set(warnings) ^ set(located))
    for where, found in warnings.items():
        c = located[where]
        assert len(found) == 1, (c.id, found)
        kind, message = found[0]
        assert kind == c.kind, (c.id, kind, message)
        assert c.fragment_for(front) in message, (c.id, message)
        assert "Traceback" not in message, (c.id, message)
    for page in {c.page for c in expected.cases}:
        want = []
        for c in expected.cases:
            if c.page == page:
                want += [("case", c.id), ("error", c.kind) if c.kind else ("svg", f"good-{c.id}")]
        assert placed(bodies[page]) == want, page


def labelled(body: Tag, label: str) -> Tag:
    found = [svg for svg in our_svgs(body) if svg["aria-label"] == label]
    assert len(found) == 1, label
    return found[0]


def svg_texts(svg: Tag) -> str:
    return " ".join(t.get_text() for t in svg.find_all("text"))


def check_hostile_labels(body: Tag, raw_html: str) -> None:
    """Labels from hostile module and class names are text, never markup."""
    evil = labelled(body, "good-good-evil-class-names")
    assert 'Evil<script>alert("x")</script>' in svg_texts(evil)
    hostile = labelled(body, "good-good-hostile-names")
    titles = " ".join(t.get_text() for t in hostile.find_all("title"))
    assert '<script>alert("x")</script>&' in titles
    assert "<script>alert" not in raw_html and "<img src=x" not in raw_html


def sphinx_warnings(log: str, src: Path) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """``page.rst:LINE: WARNING: ... [model_diagram.KIND]`` (messages may span lines)."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # sphinx.testing colours its warnings
    found: dict[tuple[str, int], list[tuple[str, str]]] = {}
    pattern = rf"^{re.escape(str(src))}/(\w+)\.rst:(\d+): WARNING: (.*?) \[model_diagram\.(\w+)\]$"
    for m in re.finditer(pattern, log, re.MULTILINE | re.DOTALL):
        found.setdefault((m[1], int(m[2])), []).append((m[4], m[3]))
    return found


def write_sphinx_site(src: Path, cache: Path, marker: Path) -> Expected:
    src.mkdir(parents=True)
    expected = write_pages("sphinx", src, marker)
    (src / "conf.py").write_text(
        textwrap.dedent(f"""\
            import sys
            from pathlib import Path

            sys.path[:0] = [str(Path(__file__).resolve().parent), {str(TESTS)!r}]
            extensions = ["model_diagram"]
            exclude_patterns = ["_build"]
            model_diagram_cache_dir = {str(cache)!r}
            """),
        "utf-8",
    )
    return expected


def test_sphinx_battery(make_app: MakeApp, tmp_path: Path) -> None:
    src, marker = tmp_path / "src", tmp_path / "PWNED"
    expected = write_sphinx_site(src, tmp_path / "cache", marker)
    # -W, in a process of its own (own cache, own worker) while this one builds
    strict = subprocess.Popen(
        [
            str(BIN / "sphinx-build"),
            "-W",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "w-doctrees"),
            "-D",
            f"model_diagram_cache_dir={tmp_path / 'w-cache'}",
            str(src),
            str(tmp_path / "w"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=subprocess_env(),
    )
    app = make_app("html", srcdir=src)
    try:
        app.build()
        log = app.warning.getvalue()
        bodies = {
            p: BeautifulSoup((app.outdir / f"{p}.html").read_text("utf-8"), "lxml").select_one(
                "div.body"
            )
            for p in {c.page for c in expected.cases}
        }
        assert app.statuscode == 0
        warnings = sphinx_warnings(log, src)
        # nothing but our typed warnings (one per broken case), no tracebacks
        assert log.count("WARNING") == sum(1 for c in expected.cases if c.kind), log
        check_battery(expected, warnings, bodies)
        raw = (app.outdir / "imports.html").read_text("utf-8")
        check_hostile_labels(bodies["imports"], raw)
        assert "traced on CPU" in app.status.getvalue()  # the fallback is a note, not a warning
    finally:
        app.cleanup()
    out, _ = strict.communicate(timeout=300)
    assert strict.returncode == 1, out
    assert sphinx_warnings(out, src).keys() == warnings.keys()
    assert not marker.exists()
    checked = assert_all_safe(tmp_path)
    broken = sum(1 for c in expected.cases if c.kind)
    print(
        f"\nSphinx battery: {broken} broken directives, {len(expected.cases) - broken} "
        f"working ones, {checked} SVGs checked"
    )


def mkdocs_site(root: Path, cache: Path) -> Path:
    config = {
        "site_name": "Battery",
        "docs_dir": "docs",
        "markdown_extensions": ["pymdownx.superfences"],
        "plugins": [{"model-diagram": {"cache_dir": str(cache), "paths": [".", str(TESTS)]}}],
    }
    root.mkdir(parents=True, exist_ok=True)
    path = root / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return path


def test_mkdocs_battery(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs, marker = tmp_path / "docs", tmp_path / "PWNED"
    docs.mkdir()
    expected = write_pages("mkdocs", docs, marker)
    for name, text in MODULES.items():  # importable through the plugin's paths: ["."]
        (tmp_path / name).write_text(text, "utf-8")
    config_file = mkdocs_site(tmp_path, tmp_path / "cache")
    strict_config = mkdocs_site(tmp_path / "strict", tmp_path / "strict-cache")
    shutil.copytree(docs, tmp_path / "strict" / "docs")
    for name, text in MODULES.items():
        (tmp_path / "strict" / name).write_text(text, "utf-8")
    strict = subprocess.Popen(
        [str(BIN / "mkdocs"), "build", "--strict", "-f", str(strict_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path / "strict",
    )
    caplog.set_level("INFO")
    config = load_config(config_file=str(config_file))
    mkdocs_build(config)  # no exception: the build succeeds
    records = [r for r in caplog.records if r.levelno >= 30]
    assert all(r.name == MKDOCS_LOGGER for r in records), [r.getMessage() for r in records]
    warnings: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for r in records:
        m = re.fullmatch(
            r"model-diagram: (\w+)\.md:(\d+): (.*) \[model_diagram\.(\w+)\]",
            r.getMessage(),
            re.DOTALL,
        )
        assert m, r.getMessage()
        warnings.setdefault((m[1], int(m[2])), []).append((m[4], m[3]))
    broken = sum(1 for c in expected.cases if c.kind)
    summary = next(r.getMessage() for r in caplog.records if "diagram(s)," in r.getMessage())
    counts = re.search(
        r"(\d+) diagram\(s\), (\d+) traced, (-?\d+) from cache, (\d+) failed", summary
    )
    assert counts and int(counts[1]) == len(expected.cases) and int(counts[4]) == broken, summary
    assert int(counts[2]) + int(counts[3]) == len(expected.cases) - broken, summary
    assert int(counts[3]) >= 0, summary  # was -1: traced-then-unrenderable counted twice
    site = tmp_path / "site"
    pages = {c.page for c in expected.cases}
    raw = {p: (site / p / "index.html").read_text("utf-8") for p in pages}
    bodies = {p: BeautifulSoup(raw[p], "lxml").select_one("div[role=main]") for p in pages}
    check_battery(expected, warnings, bodies)
    check_hostile_labels(bodies["imports"], raw["imports"])
    out, _ = strict.communicate(timeout=300)
    assert strict.returncode == 1, out
    assert f"Aborted with {broken} warnings in strict mode" in out, out
    assert len(re.findall(r"\[model_diagram\.\w+\]", out)) == broken
    assert not marker.exists()
    checked = assert_all_safe(tmp_path)
    print(
        f"\nMkDocs battery: {broken} broken blocks, {len(expected.cases) - broken} "
        f"working ones, {checked} SVGs checked"
    )


def test_every_reply_answers_its_own_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job abandoned halfway (once: a timeout too large for the platform) let its late
    reply answer the next job, so the next page embedded the wrong model."""
    from model_diagram.worker import Worker

    worker = Worker(jobs=1)
    pipeline = Pipeline(tmp_path / "cache", worker=worker)
    mlp = parse_options({"factory": "models:make_mlp", "input": "float[2,8]"})
    branchy = parse_options({"factory": "models:make_branchy", "input": "float[2,8]"})
    two = parse_options(
        {"factory": "models:make_two_inputs", "inputs": ["float[2,8]", "float[2,6]"]}
    )
    try:
        assert pipeline.diagram(mlp).graph.model == "Sequential"
        # a reply to no job of ours arrives from the parent: it is skipped
        forged = {"ok": True, "id": -1, "graph": {"model": "Forged"}, "notes": [], "files": {}}
        assert worker._proc is not None
        worker._dispatch(json.dumps(forged), worker._proc, worker._ready)
        assert pipeline.diagram(branchy).graph.model == "Branchy"
        # the caller gives up on a job while the child works on it: the worker is stopped

        def interrupted() -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(worker, "_watch", interrupted)
        slow = parse_options({"factory": "models:make_slow", "input": "float[2,8]"})
        with pytest.raises(KeyboardInterrupt):
            pipeline.diagram(slow)
        monkeypatch.undo()
        assert worker._proc is None
        assert pipeline.diagram(two).graph.model == "TwoInputs"
        # a timeout larger than the platform's wait is a long wait, not an OverflowError
        huge = parse_options(
            {"factory": "models:make_mlp", "input": "float[3,8]", "timeout": 1e308}
        )
        assert pipeline.diagram(huge).graph.model == "Sequential"
    finally:
        worker.stop()


# -- cache faults: nothing wrong is ever embedded, entries are rebuilt

FAULT_PAGE = """\
Cache faults
============

.. model-diagram:: models:make_mlp
   :input: float[2,8]
   :alt: cf-mlp

.. model-diagram:: models:make_branchy
   :input: float[2,8]
   :alt: cf-branchy

.. model-diagram:: example_project.models:make_cnn
   :input: float[2,3,32,32]
   :depth: 1
   :alt: cf-cnn

.. model-diagram:: models:make_two_inputs
   :inputs: ['float[2,8]', 'float[2,6]']
   :alt: cf-two

.. model-diagram:: example_project.models:make_cnn
   :input: float[1,3,32,32]
   :style: layered
   :alt: cf-layered
"""
FAULT_LINES = [4, 8, 12, 17, 21]


def fault_site(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(TESTS)!r}, {str(EXAMPLE)!r}]\n"
        'extensions = ["model_diagram"]\nexclude_patterns = ["_build"]\n',
        "utf-8",
    )
    (root / "index.rst").write_text(FAULT_PAGE, "utf-8")
    return root


@dataclass
class Built:
    svgs: dict[str, str]
    traced: int
    warnings: str


def build_with_cache(make_app: MakeApp, src: Path, cache: Path | str, out: Path) -> Built:
    """A fresh build (every directive runs again) of ``src`` with this cache dir."""
    app = make_app(
        "html",
        srcdir=src,
        builddir=out,
        freshenv=True,
        confoverrides={"model_diagram_cache_dir": str(cache)},
    )
    try:
        app.build()
        assert app.statuscode == 0
        soup = BeautifulSoup((app.outdir / "index.html").read_text("utf-8"), "lxml")
        status = app.status.getvalue()
        warnings = re.sub(r"\x1b\[[0-9;]*m", "", app.warning.getvalue())
    finally:
        app.cleanup()
    traced = re.search(r"(\d+) diagram\(s\) on 1 page\(s\): (\d+) traced", status)
    assert traced and traced[1] == "5", status
    assert_all_safe(out)
    return Built({svg["aria-label"]: str(svg) for svg in our_svgs(soup)}, int(traced[2]), warnings)


def cache_is_sound(cache: Path) -> int:
    """Every blob is named by its hash, every manifest and pointer is whole; no temp files;
    the directory is tagged as a cache (CACHEDIR.TAG, what ``cache clear`` checks)."""
    tag = (cache / "CACHEDIR.TAG").read_bytes()
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55\n")
    files = [p for p in cache.rglob("*") if p.is_file() and p != cache / "CACHEDIR.TAG"]
    assert not [p for p in files if p.name.startswith(".tmp-")]
    for path in files:
        data = path.read_bytes()
        if path.parent.name == "blobs":
            assert hashlib.sha256(data).hexdigest() == path.name.split(".")[0], path
        elif path.parent == cache and path.name in MEMO_NAMES:  # local memos: text only
            assert all(isinstance(v, str) for v in json.loads(data).values()), path
        else:
            entry = json.loads(data)
            assert ("blob" in entry) if path.parent.name == "renders" else entry["schema"] == 1
    return len(files)


def corrupt(paths: list[Path], damage: list[Callable[[Path], None]]) -> int:
    for i, path in enumerate(sorted(paths)):
        damage[i % len(damage)](path)
    return len(paths)


def test_cache_faults_are_never_embedded_and_get_rebuilt(make_app: MakeApp, tmp_path: Path) -> None:
    src = fault_site(tmp_path / "src")
    cache = tmp_path / "cache"
    reference = build_with_cache(make_app, src, cache, tmp_path / "ref")
    assert sorted(reference.svgs) == ["cf-branchy", "cf-cnn", "cf-layered", "cf-mlp", "cf-two"]
    assert reference.warnings == ""
    cache_is_sound(cache)
    victim = tmp_path / "victim"  # blobs/../../victim: outside the cache
    for ext in (".svg", ".json"):
        victim.with_suffix(ext).write_text("must survive", "utf-8")
    faults = 0
    step = 0

    def rebuild(expect_traced: int | None) -> None:
        nonlocal step
        step += 1
        again = build_with_cache(make_app, src, cache, tmp_path / f"b{step}")
        assert again.svgs == reference.svgs, step  # nothing wrong embedded
        assert again.warnings == "", (step, again.warnings)
        if expect_traced is not None:
            assert again.traced == expect_traced, step
        cache_is_sound(cache)  # ... and the entries were rebuilt
        for ext in (".svg", ".json"):
            assert victim.with_suffix(ext).read_text("utf-8") == "must survive", step

    svgs = lambda: list((cache / "blobs").glob("*.svg"))  # noqa: E731
    graphs = lambda: list((cache / "blobs").glob("*.json"))  # noqa: E731

    # truncated and forged SVG blobs: detected by their hash, rendered again
    faults += corrupt(svgs(), [lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])])
    rebuild(0)
    forged = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    faults += corrupt(svgs(), [lambda p: p.write_bytes(forged), lambda p: p.write_bytes(b"")])
    rebuild(0)
    # truncated layer graphs: traced again
    faults += corrupt(graphs(), [lambda p: p.write_bytes(p.read_bytes()[:10])])
    rebuild(5)

    # corrupt manifests of every shape, including ones that point out of the cache
    some_blob = graphs()[0].stem
    bad_manifests = [
        b'{"schema": 1, "fil',
        b"[]",
        b'{"schema": 1, "files": [], "dists": {}, "graph": "x"}',
        json.dumps(
            {
                "schema": 1,
                "files": {"/dev/zero": "0" * 64},
                "dists": {},
                "graph": some_blob,
                "notes": [],
            }
        ).encode(),
        json.dumps(
            {"schema": 1, "files": {}, "dists": {}, "graph": "../../victim", "notes": []}
        ).encode(),
        json.dumps({"schema": 99}).encode(),
        json.dumps(
            {"schema": 1, "files": {}, "dists": {"torch": 3}, "graph": some_blob, "notes": []}
        ).encode(),
        b"\xff\xfe not even text",
    ]
    manifests = sorted((cache / "manifests").glob("*.json"))
    for first in range(0, len(bad_manifests), len(manifests)):  # every shape, in rounds
        for path, bad in zip(manifests, bad_manifests[first:], strict=False):
            path.write_bytes(bad)
            faults += 1
        rebuild(min(len(manifests), len(bad_manifests) - first))

    # corrupt render pointers, one of them aimed at a file outside the cache
    faults += corrupt(
        list((cache / "renders").glob("*.json")),
        [
            lambda p: p.write_text('{"blob": "../../victim"}'),
            lambda p: p.write_text('{"blob": 3}'),
            lambda p: p.write_text("{}"),
            lambda p: p.write_text('{"blob": "/etc/passwd"}'),
            lambda p: p.write_text("not json"),
        ],
    )
    rebuild(0)

    # missing files: every blob, then every pointer, then every manifest
    faults += len(list((cache / "blobs").iterdir()))
    shutil.rmtree(cache / "blobs")
    rebuild(5)
    faults += len(list((cache / "renders").iterdir()))
    shutil.rmtree(cache / "renders")
    rebuild(0)
    faults += len(list((cache / "manifests").iterdir()))
    shutil.rmtree(cache / "manifests")
    rebuild(5)
    entries = cache_is_sound(cache)

    # an unusable cache dir: a regular file in the way, and a path under /proc;
    # every diagram is still drawn, each directive warns once, nothing is written
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache directory should be", "utf-8")
    for unusable in (blocker / "cache", Path("/proc/self/model-diagram-cache")):
        before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "ro")}
        step += 1
        ro = build_with_cache(make_app, src, unusable, tmp_path / "ro" / str(step))
        assert ro.svgs == reference.svgs
        assert ro.traced == 5
        for line in FAULT_LINES:
            found = re.findall(
                rf"index\.rst:{line}: WARNING: model-diagram: .*cannot write to the cache "
                rf"directory .*\[model_diagram\.cache\]",
                ro.warnings,
            )
            assert len(found) == 1, (unusable, line, ro.warnings)
        after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "ro")}
        assert after == before
        assert not unusable.exists()
        faults += 1

    # two builds at once on one (empty) cache dir, in two processes, vs. the serial build
    shared = tmp_path / "shared-cache"
    builds = [
        subprocess.Popen(
            [
                str(BIN / "sphinx-build"),
                "-q",
                "-E",
                "-b",
                "html",
                "-d",
                str(tmp_path / f"cd{i}"),
                "-D",
                f"model_diagram_cache_dir={shared}",
                str(src),
                str(tmp_path / f"c{i}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=subprocess_env(),
        )
        for i in range(2)
    ]
    for i, proc in enumerate(builds):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "WARNING" not in out, out
        soup = BeautifulSoup((tmp_path / f"c{i}" / "index.html").read_text("utf-8"), "lxml")
        assert {s["aria-label"]: str(s) for s in our_svgs(soup)} == reference.svgs
    assert cache_is_sound(shared) == entries
    assert sorted(p.name for p in shared.rglob("*")) == sorted(p.name for p in cache.rglob("*"))
    faults += 1
    assert_all_safe(tmp_path)
    print(f"\ncache faults: {faults} injected over {step} builds, 0 wrong diagrams embedded")


def test_mkdocs_cache_faults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The same cache under the other front end: forged blobs and pointers are rebuilt."""
    (tmp_path / "docs").mkdir()
    blocks = "\n".join(
        f"```model-diagram\nfactory: models:make_mlp\ninput: float[{n},8]\nalt: mk-{n}\n```\n"
        for n in (2, 3)
    )
    (tmp_path / "docs" / "index.md").write_text("# Faults\n\n" + blocks, "utf-8")
    config_file = mkdocs_site(tmp_path, tmp_path / "cache")

    def page() -> dict[str, str]:
        mkdocs_build(load_config(config_file=str(config_file)))
        soup = BeautifulSoup((tmp_path / "site" / "index.html").read_text("utf-8"), "lxml")
        return {s["aria-label"]: str(s) for s in our_svgs(soup)}

    reference = page()
    assert sorted(reference) == ["mk-2", "mk-3"]
    cache = tmp_path / "cache"
    for blob in (cache / "blobs").glob("*.svg"):
        blob.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>')
    for manifest in (cache / "manifests").glob("*.json"):
        manifest.write_text('{"schema": 1, "files": [], "dists": {}, "graph": "x"}')
    assert page() == reference
    for pointer in (cache / "renders").glob("*.json"):
        pointer.write_text('{"blob": "../../docs/index"}')  # would unlink nothing, not index.md
    assert page() == reference
    assert (tmp_path / "docs" / "index.md").is_file()
    cache_is_sound(cache)
    assert [r for r in caplog.records if r.levelno >= 30] == []
    assert_all_safe(tmp_path)


# -- security: option values are data, paths stay put, names are escaped

_WATCHED_EVENTS = {
    "exec",
    "compile",
    "os.system",
    "subprocess.Popen",
    "os.posix_spawn",
    "os.exec",
    "os.spawn",
    "pty.spawn",
    "ctypes.dlopen",
}
_AUDITED: list[tuple[str, tuple[Any, ...]]] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _AUDITED is not None and event in _WATCHED_EVENTS:
        _AUDITED.append((event, args))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only while asked to


def _mentions(args: tuple[Any, ...], needle: str) -> bool:
    for arg in args:
        code = getattr(arg, "co_consts", None)
        texts = [c for c in code if isinstance(c, str)] if code is not None else [repr(arg)]
        if any(needle in text for text in texts):
            return True
    return False


def test_option_values_never_reach_eval_exec_or_a_shell(tmp_path: Path) -> None:
    global _AUDITED  # noqa: PLW0603 -- the audit hook's switch
    marker = tmp_path / "PWNED-by-an-option"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"$(touch {marker})",
        f"`touch {marker}`; touch {marker} && touch {marker} | touch {marker}",
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"{{a: !!python/object/apply:os.system ['touch {marker}']}}",
        f"float[2,8]); __import__('os').system('touch {marker}'",
    ]
    texts = ("caption", "alt")  # free text: drawn, escaped, never run
    accepted = 0
    _AUDITED = []
    try:
        options_tried = (
            *("input", "inputs", "kwargs", "input-size", "factory-kwargs", "input-factory"),
            *("engine", "style", "depth", "name", "width", "class", "color-map", "palette"),
            *("input-provider", *texts),
        )
        for name in options_tried:
            for payload in payloads:
                for strings in (True, False):
                    values = {"factory": "models:make_mlp", "input": "float[2,8]", name: payload}
                    if name in {"inputs", "kwargs", "input-size", "input-factory"}:
                        values.pop("input")
                    try:
                        options = parse_options(values, strings=strings)
                    except ValueError as exc:  # OptionError and InputError
                        assert payload[:20] in str(exc) or name in str(exc), (name, exc)
                        continue
                    assert name in texts, (name, payload)
                    accepted += 1
        for payload in payloads:  # the factory path too
            with pytest.raises(ValueError, match="must look like"):
                parse_options({"factory": payload})
        # free text goes through the whole pipeline: worker, Graphviz, clean-up
        options = parse_options(
            {
                "factory": "models:make_branchy",
                "input": "float[2,8]",
                "caption": payloads[0],
                "alt": payloads[2],
            }
        )
        result = shared_pipeline(tmp_path / "cache").diagram(options)
    finally:
        audited, _AUDITED = _AUDITED, None
    assert accepted == 2 * len(texts) * len(payloads)
    assert not marker.exists()
    assert [e for e, args in audited if _mentions(args, str(marker))] == []
    engines = {
        shutil.which("dot"),
        shutil.which("graphviz-pure"),
        str(BIN / "graphviz-pure"),
        sys.executable,
    }
    spawned = [args[0] for e, args in audited if e == "subprocess.Popen"]
    assert spawned and set(map(str, spawned)) <= {str(e) for e in engines if e}, spawned
    svg = BeautifulSoup(result.svg, "xml").svg
    assert svg["aria-label"] == payloads[2]
    assert svg_problems(svg, page_links=False) == []


def files_under(root: Path) -> set[Path]:
    return {Path(d) / f for d, _, fs in os.walk(root) for f in fs}


ODD = "odd dir $(touch PWNED) ;&|`'\"<>\n€"
HOSTILE_TEXT = "<script>alert(1)</script> & \"q\" 'x' $(touch PWNED)"


def test_paths_and_names_cannot_write_outside_build_and_cache(
    make_app: MakeApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo_before = {p.name for p in REPO.iterdir()}
    cwd_before = {p.name for p in Path.cwd().iterdir()}
    src = tmp_path / "site" / "docs"
    src.mkdir(parents=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path[:0] = [{str(TESTS)!r}]\n"
        'extensions = ["model_diagram"]\nexclude_patterns = ["_build"]\n'
        'model_diagram_embed = "img"\n',
        "utf-8",
    )
    names = ["../../escape", "/etc/passwd", "a/b", "x\ny", "..", "fig-ok"]
    (src / "index.rst").write_text(
        "Paths\n=====\n\n"
        + "\n".join(
            f".. model-diagram:: models:make_mlp\n   :input: float[2,8]\n   :name: {n}\n"
            f"   :caption: {HOSTILE_TEXT}\n   :alt: {HOSTILE_TEXT}\n"
            for n in names
            if "\n" not in n
        ),
        "utf-8",
    )
    for i, cache_dir in enumerate([f"../{ODD}/../{ODD}", str(tmp_path / f"abs {ODD}")]):
        before = files_under(tmp_path)
        out = tmp_path / "site" / f"_build{i}"
        app = make_app(
            "html",
            srcdir=src,
            builddir=out,
            freshenv=True,
            confoverrides={"model_diagram_cache_dir": cache_dir},
        )
        try:
            app.build()
            html = (app.outdir / "index.html").read_text("utf-8")
            warnings = app.warning.getvalue()
        finally:
            app.cleanup()
        allowed = [out, (src / cache_dir).resolve()]
        new = files_under(tmp_path) - before
        assert new and all(any(p.is_relative_to(a) for a in allowed) for p in new), sorted(new)
        assert any(p.is_relative_to(allowed[1]) for p in new)  # the cache was written
        assert warnings.count("[model_diagram.option]") == 4  # every name but fig-ok
        soup = BeautifulSoup(html, "lxml")
        ids = [f.get("id") for f in soup.select("figure")]
        assert "fig-ok" in ids and not [i for i in ids if i and ("/" in i or ".." in i)]
        assert "<script>alert(1)" not in html
        images = soup.select("img.model-diagram-img")
        assert images and all(img["alt"] == HOSTILE_TEXT for img in images)
        for img in images:
            assert (app.outdir / img["src"]).resolve().is_relative_to(app.outdir / "_images")
        caption = soup.select_one("figure#fig-ok figcaption").get_text()
        assert "<script>alert(1)</script> & " in caption  # text (Sphinx curls the quotes)

    # MkDocs: cache_dir with .. and odd characters, names and captions from blocks
    root = tmp_path / "mk"
    (root / "docs").mkdir(parents=True)
    blocks = "\n".join(
        f"```model-diagram\nfactory: models:make_mlp\ninput: float[2,8]\nname: {json.dumps(n)}\n"
        f"caption: {json.dumps(HOSTILE_TEXT)}\nalt: {json.dumps(HOSTILE_TEXT)}\n```\n"
        for n in names
    )
    (root / "docs" / "index.md").write_text("# Paths\n\n" + blocks, "utf-8")
    config = {"site_name": "Paths", "plugins": [{"model-diagram": {"cache_dir": f"../{ODD}"}}]}
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config), "utf-8")
    before = files_under(tmp_path)
    mkdocs_build(load_config(config_file=str(root / "mkdocs.yml")))
    allowed = [root / "site", (root / ".." / ODD).resolve()]
    new = files_under(tmp_path) - before
    assert new and all(any(p.is_relative_to(a) for a in allowed) for p in new), sorted(new)
    assert any(p.is_relative_to(allowed[1]) for p in new)
    html = (root / "site" / "index.html").read_text("utf-8")
    soup = BeautifulSoup(html, "lxml")
    assert [f.get("id") for f in soup.select("figure.model-diagram")] == ["fig-ok"]
    assert len(soup.select(".model-diagram-error")) == len(names) - 1
    assert "<script>alert(1)" not in html
    assert soup.select_one("figure#fig-ok figcaption").get_text() == HOSTILE_TEXT
    assert soup.select_one("figure#fig-ok svg")["aria-label"] == HOSTILE_TEXT

    assert not [p for p in files_under(tmp_path) if "PWNED" in p.name]
    # nothing in the checkout or the working directory either (others may work there:
    # look for what these builds could have made)
    for where, before in ((REPO, repo_before), (Path.cwd(), cwd_before)):
        made = {p.name for p in where.iterdir()} - before
        assert not [n for n in made if "model-diagram" in n or "odd" in n or "PWNED" in n]
    assert_all_safe(tmp_path)


def test_hostile_class_and_module_names_in_every_style_and_engine(tmp_path: Path) -> None:
    from models_broken import EVIL_MODULE, EVIL_NAME

    pipeline = shared_pipeline(tmp_path / "cache")
    variants = [
        {"style": "graph", "engine": "graphviz-pure"},
        {"style": "layered"},
        {"style": "lenet"},
    ]
    if shutil.which("dot"):
        variants.append({"style": "graph", "engine": "dot"})  # dot writes URLs unescaped
    for variant in variants:
        for factory in ("models_broken:make_evil_names", "models:make_hostile_names"):
            result = pipeline.diagram(
                parse_options(
                    {"factory": factory, "input": "float[2,8]", "legend": True, **variant}
                )
            )
            svg = BeautifulSoup(result.svg, "xml").svg
            assert svg_problems(svg, page_links=False) == [], (variant, factory)
            text = " ".join(t.get_text() for t in svg.find_all(["text", "title", "desc"]))
            if factory.startswith("models_broken"):
                assert "Evil<script>" in text, variant
            else:
                assert '<script>alert("x")</script>&' in text, variant
            assert "<script>" not in result.svg.replace("&lt;script&gt;", "")
    # the class link carries the exact class path to the page resolver, and back escaped
    seen: list[str] = []
    result = pipeline.diagram(
        parse_options({"factory": "models_broken:make_evil_names", "input": "float[2,8]"})
    )
    linked = resolve_class_links(result.svg, lambda cls: seen.append(cls) or 'api.html#x"y')
    assert f"{EVIL_MODULE}.{EVIL_NAME}" in seen
    svg = BeautifulSoup(linked, "xml").svg
    assert svg_problems(svg, page_links=True) == []
    hrefs = {a.get("xlink:href") or a.get("href") for a in svg.find_all("a")} - {None}
    assert hrefs == {'api.html#x"y'}


# -- determinism: the example docs, twice from empty caches, give the same bytes


def _copy_example(dest: Path) -> Path:
    skip = shutil.ignore_patterns("_build", "site", ".model-diagram-cache", "__pycache__", "*.pyc")
    shutil.copytree(EXAMPLE, dest, ignore=skip)
    return dest


def test_example_docs_are_byte_identical_from_two_empty_caches(tmp_path: Path) -> None:
    project = _copy_example(tmp_path / "example_project")
    config = yaml.safe_load((project / "mkdocs.yml").read_text("utf-8"))
    runs = []
    for name in ("a", "b"):
        runs.append(
            subprocess.Popen(
                [
                    str(BIN / "sphinx-build"),
                    "-q",
                    "-b",
                    "html",
                    "-d",
                    str(tmp_path / f"d-{name}"),
                    "-D",
                    f"model_diagram_cache_dir={tmp_path / f'sphinx-cache-{name}'}",
                    str(project / "docs"),
                    str(tmp_path / f"sphinx-{name}"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=subprocess_env(),
            )
        )
        mk = dict(config, site_dir=str(tmp_path / f"mkdocs-{name}"))
        mk["plugins"] = [
            {
                "model-diagram": {
                    **p["model-diagram"],
                    "cache_dir": str(tmp_path / f"mkdocs-cache-{name}"),
                }
            }
            if isinstance(p, dict) and "model-diagram" in p
            else p
            for p in config["plugins"]
        ]
        mk_file = project / f"mkdocs-{name}.yml"
        mk_file.write_text(yaml.safe_dump(mk, sort_keys=False), "utf-8")
        runs.append(
            subprocess.Popen(
                [str(BIN / "mkdocs"), "build", "-q", "-f", str(mk_file)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=subprocess_env(),
            )
        )
    for run in runs:
        out, _ = run.communicate(timeout=600)
        assert run.returncode == 0, out

    def svgs(site: Path) -> dict[str, list[str]]:
        return {
            str(page.relative_to(site)): [
                str(s) for s in our_svgs(BeautifulSoup(page.read_text("utf-8"), "lxml"))
            ]
            for page in sorted(site.rglob("*.html"))
        }

    for front in ("sphinx", "mkdocs"):
        first, second = svgs(tmp_path / f"{front}-a"), svgs(tmp_path / f"{front}-b")
        assert sum(map(len, first.values())) >= 10, front
        assert first == second, front
        blobs = [
            {p.name: p.read_bytes() for p in (tmp_path / f"{front}-cache-{n}" / "blobs").iterdir()}
            for n in ("a", "b")
        ]
        assert blobs[0] == blobs[1], front
        assert_all_safe(tmp_path / f"{front}-a")
