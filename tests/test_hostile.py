"""Hostile input (issue 14): whatever a page, a cache or a model does, the build stays
up, says where the problem is, and runs nothing it should not.

Each test names the defect it is the regression test of (D1 ... D16). Sites are built
as real ``sphinx-build`` / ``mkdocs build`` processes, so a crash is an exit code,
and each build is checked for the located, typed warnings it must give.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from model_diagram.errors import DiagramError, OptionError
from model_diagram.options import OPTIONS, parse_options
from model_diagram.yamlread import read_yaml

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
GOOD = ("models:make_mlp", {"input": "float[2,8]"})

#: aliases of aliases: 408 characters that expand to 9**10 (3.5 billion) items
BOMB = "[&a0 [1,1,1,1,1,1,1,1,1]" + "".join(
    f", &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
)
BOMB += ", [" + ",".join(["*a8"] * 9) + "]]"
HUGE_INT = "1" * 5000


def shared_bomb() -> list[object]:
    """What a YAML loader without bounds builds from :data:`BOMB`: lists of one list."""
    value: list[object] = [1] * 9
    for _ in range(9):
        value = [value] * 9
    return value


def env() -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        NO_MKDOCS_2_WARNING="1",
        NO_COLOR="1",
    )


@dataclass
class Build:
    code: int
    log: str
    out: Path

    def warnings(self, page: str) -> list[tuple[int, str, str]]:
        """(line, kind, message) of every typed model-diagram warning naming ``page``."""
        pattern = rf"{re.escape(page)}:(\d+): (?:WARNING: )?(.*?) \[model_diagram\.(\w+)\]"
        return [(int(m[1]), m[3], m[2]) for m in re.finditer(pattern, self.log, re.DOTALL)]

    def html(self, page: str) -> str:
        return (self.out / page).read_text("utf-8")


def run(args: list[str], cwd: Path, timeout: float = 300) -> tuple[int, str]:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def sphinx_site(root: Path, pages: dict[str, str], conf: str = "") -> Path:
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "conf.py").write_text(
        textwrap.dedent(f"""\
            import sys
            sys.path[:0] = [{str(root)!r}, {str(TESTS)!r}]
            extensions = ["model_diagram"]
            model_diagram_cache_dir = {str(root / "cache")!r}
            """)
        + conf,
        "utf-8",
    )
    toctree = "\n".join(f"   {name}" for name in pages)
    (src / "index.rst").write_text(f"Home\n====\n\n.. toctree::\n\n{toctree}\n", "utf-8")
    for name, text in pages.items():
        (src / f"{name}.rst").write_text(text, "utf-8")
    return src


def build_sphinx(root: Path, *flags: str, out: str = "html") -> Build:
    code, log = run(
        [
            str(BIN / "sphinx-build"),
            "-q",
            "-E",
            *flags,
            "-b",
            "html",
            "-d",
            str(root / f"doctrees-{out}"),
            str(root / "src"),
            str(root / out),
        ],
        root,
    )
    return Build(code, log, root / out)


def mkdocs_site(root: Path, pages: dict[str, str], plugin: dict[str, object] | None = None) -> None:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    settings = {"cache_dir": str(root / "cache"), "paths": [str(root), str(TESTS)]}
    settings |= plugin or {}
    config = {"site_name": "Hostile", "plugins": [{"model-diagram": settings}]}
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config), "utf-8")
    (docs / "index.md").write_text("# Home\n", "utf-8")
    for name, text in pages.items():
        (docs / f"{name}.md").write_text(text, "utf-8")


def build_mkdocs(root: Path, *flags: str) -> Build:
    code, log = run([str(BIN / "mkdocs"), "build", *flags, "-f", "mkdocs.yml"], root)
    return Build(code, log, root / "site")


def rst(factory: str, options: dict[str, str], caption: str = "") -> str:
    lines = [f".. model-diagram:: {factory}", *(f"   :{k}: {v}" for k, v in options.items())]
    return "\n".join(lines) + (f"\n\n   {caption}" if caption else "") + "\n"


def block(factory: str, options: dict[str, str]) -> str:
    lines = [f"factory: {factory}", *(f"{k}: {v}" for k, v in options.items())]
    return "```model-diagram\n" + "\n".join(lines) + "\n```\n"


def page(front: str, cases: list[tuple[str, dict[str, str]]]) -> tuple[str, list[int]]:
    """A page with one diagram per case, each after a paragraph; and each one's line."""
    lines = ["Cases", "=====", ""] if front == "sphinx" else ["# Cases", ""]
    where = []
    for number, (factory, options) in enumerate(cases):
        lines += [f"Case {number}.", ""]
        where.append(len(lines) + 1)
        text = rst(factory, options) if front == "sphinx" else block(factory, options)
        lines += [*text.splitlines(), ""]
    return "\n".join(lines) + "\n", where


def svgs(html: str) -> list[str]:
    soup = BeautifulSoup(html, "lxml")
    return [svg.get("aria-label", "") for svg in soup.select("svg.model-diagram-svg")]


# -- D1, D3, D13: option values are bounded before they are expanded; parsing never raises


BAD_OPTIONS: list[tuple[str, dict[str, str], str, str]] = [
    # (factory, options, warning kind, fragment of the message)
    ("models:make_mlp", {"input": "float[2,8]", "depth": HUGE_INT}, "option", "digits"),
    ("models:make_mlp", {"input-size": "&a [*a]"}, "input", "refer to itself"),
    ("models:make_mlp", {"input-size": BOMB}, "option", "aliases are expanded"),
    ("models:make_mlp", {"input": BOMB}, "option", "aliases are expanded"),
    ("models:make_mlp", {"input": "float[2,8]", "color-map": BOMB}, "option", "expanded"),
    ("models:make_mlp", {"input": "float[2,8]", "timeout": HUGE_INT[:4000]}, "option", "digits"),
    ("models:make_mlp", {"input": f"float[2,{HUGE_INT}]"}, "input", "too long"),
    (
        "models:make_mlp",
        {"input": "float[2,8]", "style": "layered", "spacing": "1e308"},
        "option",
        "option 'spacing'",
    ),
    (
        "models:make_mlp",
        {"input": "float[2,8]", "style": "layered", "min-z": "1e308"},
        "option",
        "option 'min-z'",
    ),
    (
        "models:make_mlp",
        {"input": "float[2,8]", "style": "lenet", "font-size": "1e308"},
        "option",
        "option 'font-size'",
    ),
    (
        "models:make_mlp",
        {"input": "float[2,8]", "style": "layered", "scale-xy": "1e300"},
        "option",
        "option 'scale-xy'",
    ),
]


def test_read_yaml_bounds_before_expanding() -> None:
    started = time.perf_counter()
    for text in (BOMB, "[" * 5000 + "]" * 5000, HUGE_INT, "x" * 300_000, "{a: 2020-13-45}"):
        with pytest.raises(OptionError):
            read_yaml(text)
    assert time.perf_counter() - started < 2
    assert len(BOMB) < 410
    shared = read_yaml("{a: &s 'long[1,16](0,9)', b: *s, c: [*s, *s]}")
    assert shared == {"a": "long[1,16](0,9)", "b": "long[1,16](0,9)", "c": [shared["a"]] * 2}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_no_option_raises_anything_but_a_diagram_error(name: str) -> None:
    """Every option, from rST/CLI text and as a YAML value, with hostile values."""
    loop: list[object] = []
    loop.append(loop)
    texts = [HUGE_INT, BOMB, "&a [*a]", "&a {x: *a}", "[" * 200 + "]" * 200, "\ud800", "1e999"]
    values = [10**4000, float("nan"), float("inf"), loop, shared_bomb(), b"\x00", object()]
    started = time.perf_counter()
    for text in texts:
        with contextlib.suppress(DiagramError):
            OPTIONS[name].from_string(text)
    for value in values:
        with contextlib.suppress(DiagramError):
            OPTIONS[name].from_value(value)
    assert time.perf_counter() - started < 2


def test_sphinx_option_bombs_are_located_warnings_cold_and_warm(tmp_path: Path) -> None:
    """D1, D3, D13: a 5000-digit int, a self-referencing alias and an alias bomb crashed
    or hung the build (cold in the directive, warm in the -j pre-scan)."""
    cases = [*[(f, o) for f, o, _, _ in BAD_OPTIONS], GOOD]
    text, where = page("sphinx", cases)
    sphinx_site(tmp_path, {"cases": text})
    for flags in ((), ("-j", "2")):  # cold -j 1, then warm with the parallel pre-scan
        built = build_sphinx(tmp_path, *flags)
        assert built.code == 0, built.log
        found = built.warnings("cases.rst")
        assert [w[0] for w in found] == where[:-1], built.log
        for (line, kind, message), (_, _, want_kind, fragment) in zip(
            found, BAD_OPTIONS, strict=True
        ):
            assert (kind, fragment in message) == (want_kind, True), (line, message)
        assert "Traceback" not in built.log and "Exception occurred" not in built.log
        assert len(svgs(built.html("cases.html"))) == 1
    strict = build_sphinx(tmp_path, "-W", out="strict")
    assert strict.code == 1


def test_mkdocs_option_bombs_are_located_warnings_cold_and_warm(tmp_path: Path) -> None:
    """D1, D3, D13 in MkDocs (the warm build crashed in on_files' pre-scan)."""
    cases = [*[(f, o) for f, o, _, _ in BAD_OPTIONS], GOOD]
    text, where = page("mkdocs", cases)
    mkdocs_site(tmp_path, {"cases": text})
    for _ in ("cold", "warm"):
        built = build_mkdocs(tmp_path)
        assert built.code == 0, built.log
        found = built.warnings("cases.md")
        assert [w[0] for w in found] == where[:-1], built.log
        for (line, kind, message), (_, _, want_kind, fragment) in zip(
            found, BAD_OPTIONS, strict=True
        ):
            assert (kind, fragment in message) == (want_kind, True), (line, message)
        assert "Traceback" not in built.log
        assert len(svgs(built.html("cases/index.html"))) == 1
    assert build_mkdocs(tmp_path, "--strict").code == 1


def test_mkdocs_plugin_config_and_cli_bound_values_too(tmp_path: Path) -> None:
    """D1/D3 where options come from mkdocs.yml's ``defaults`` and from CLI flags."""
    mkdocs_site(tmp_path, {}, {"defaults": {"depth": 10**200, "input-size": shared_bomb()}})
    built = build_mkdocs(tmp_path)
    assert built.code == 1 and "Traceback" not in built.log, built.log
    assert "defaults" in built.log
    code, log = run(
        [
            str(BIN / "model-diagram"),
            "render",
            "models:make_mlp",
            "--input-size",
            BOMB,
            "-o",
            str(tmp_path / "x.svg"),
        ],
        tmp_path,
        timeout=60,
    )
    assert code == 1 and "error (option)" in log and "Traceback" not in log, log
    with pytest.raises(DiagramError, match="more than 10000 items"):
        parse_options({"factory": "models:make_mlp", "input-size": shared_bomb()})


# -- D4: factories from the standard library and builtins are refused before any call

REEXPORTS = """\
import functools
import subprocess
from os import system as make_system

make_partial = functools.partial(subprocess.getoutput, "echo ran >> {marker}")


def make_counted():
    with open({counter!r}, "a") as handle:
        handle.write("called\\n")
    return 3
"""


def shell_cases(marker: Path, victim: Path) -> list[tuple[str, dict[str, str]]]:
    command = f"echo ran >> {marker}"
    return [
        ("os:system", {**GOOD[1], "factory-kwargs": f"{{command: '{command}'}}"}),
        ("subprocess:getoutput", {**GOOD[1], "factory-kwargs": f"{{cmd: '{command}'}}"}),
        ("subprocess:Popen", {**GOOD[1], "factory-kwargs": f"{{args: [sh, -c, '{command}']}}"}),
        ("timeit:timeit", {**GOOD[1], "factory-kwargs": f'{{stmt: \'open("{marker}", "w")\'}}'}),
        ("builtins:open", {**GOOD[1], "factory-kwargs": f"{{file: '{victim}', mode: w}}"}),
        (
            "hostile_reexports:make_system",
            {**GOOD[1], "factory-kwargs": f"{{command: '{command}'}}"},
        ),
        ("hostile_reexports:make_partial", GOOD[1]),
        ("models:make_mlp", {"input-factory": "os:getpid"}),
        ("antigravity:fly", GOOD[1]),
        ("model_diagram.cli:main", {**GOOD[1], "factory-kwargs": "{argv: [cache, clear]}"}),
        ("hostile_reexports:make_counted", GOOD[1]),
        GOOD,
    ]


@pytest.mark.parametrize("front", ["sphinx", "mkdocs"])
def test_stdlib_and_builtin_factories_are_refused_before_any_call(
    front: str, tmp_path: Path
) -> None:
    """D4: ``os:system`` with ``factory-kwargs: {command: ...}`` ran the command (twice:
    the meta attempt, then the CPU fallback), and a factory returning no Module ran twice."""
    marker, victim, counter = tmp_path / "RAN", tmp_path / "victim.txt", tmp_path / "calls"
    victim.write_text("precious\n", "utf-8")
    (tmp_path / "hostile_reexports.py").write_text(
        REEXPORTS.format(marker=marker, counter=str(counter)), "utf-8"
    )
    cases = shell_cases(marker, victim)
    text, where = page(front, cases)
    if front == "sphinx":
        sphinx_site(tmp_path, {"cases": text})
        built, name = build_sphinx(tmp_path), "cases.rst"
        html = built.html("cases.html")
    else:
        mkdocs_site(tmp_path, {"cases": text})
        built, name = build_mkdocs(tmp_path), "cases.md"
        html = built.html("cases/index.html")
    assert built.code == 0, built.log
    found = built.warnings(name)
    assert [w[0] for w in found] == where[:-1], built.log
    refused = [m for _, kind, m in found[:-1] if kind == "import" and "refusing to call" in m]
    assert len(refused) == len(cases) - 2, built.log
    assert "returned int" in found[-1][2]
    assert not marker.exists()
    assert victim.read_text("utf-8") == "precious\n"
    assert counter.read_text("utf-8") == "called\n"  # once: no CPU retry of a non-Module
    assert (tmp_path / "cache").is_dir()  # cli main was never called with "cache clear"
    assert len(svgs(html)) == 1
