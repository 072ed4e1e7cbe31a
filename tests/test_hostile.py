"""Hostile input (issue 14): whatever a page, a cache or a model does, the build stays
up, says where the problem is, and runs nothing it should not.

Each test names the defect it is the regression test of (D1 ... D16). Sites are built
as real ``sphinx-build`` / ``mkdocs build`` processes, so a crash is an exit code,
and each build is checked for the located, typed warnings it must give.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
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
    # a figure style's number so large that its drawing would overflow
    *(
        (
            "models:make_mlp",
            {"input": "float[2,8]", "style": style, name: value},
            "option",
            f"option '{name}'",
        )
        for style, name, value in [
            ("layered", "spacing", "1e308"),
            ("layered", "min-z", "1e308"),
            ("lenet", "font-size", "1e308"),
            ("layered", "scale-xy", "1e300"),
        ]
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


def assert_bad_options_located(built: Build, page_name: str, where: list[int]) -> None:
    """Each of BAD_OPTIONS is one warning at its own line, of its kind, saying what."""
    found = built.warnings(page_name)
    assert [w[0] for w in found] == where[:-1], built.log
    for (line, kind, message), (_, _, want_kind, fragment) in zip(found, BAD_OPTIONS, strict=True):
        assert (kind, fragment in message) == (want_kind, True), (line, message)


def test_sphinx_option_bombs_are_located_warnings_cold_and_warm(tmp_path: Path) -> None:
    """D1, D3, D13: a 5000-digit int, a self-referencing alias and an alias bomb crashed
    or hung the build (cold in the directive, warm in the -j pre-scan)."""
    cases = [*[(f, o) for f, o, _, _ in BAD_OPTIONS], GOOD]
    text, where = page("sphinx", cases)
    sphinx_site(tmp_path, {"cases": text})
    for flags in ((), ("-j", "2")):  # cold -j 1, then warm with the parallel pre-scan
        built = build_sphinx(tmp_path, *flags)
        assert built.code == 0, built.log
        assert_bad_options_located(built, "cases.rst", where)
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
        assert_bad_options_located(built, "cases.md", where)
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


# -- D5: a forged cache entry (correct sha256, a render pointer to it) is sanitised


FORGED = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'class="model-diagram-svg" onload="alert(1)" role="img" aria-label="forged">'
    '<script>alert("forged")</script><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">'
    '<img src="x" onerror="alert(2)"/></div></foreignObject>'
    "<style>@import url(https://evil.example/x.css); .a{fill:red}</style>"
    '<a xlink:href="javascript:alert(3)"><text onclick="alert(4)">x</text></a>'
    '<image href="data:image/svg+xml;base64,PHN2Zz4="/><use href="https://evil.example/s#a"/>'
    '<rect style="fill:url(https://evil.example/p)" width="5" height="5"/>'
    '<g><title>kept</title><polygon points="0,0 1,1" fill="#ffffff"/></g></svg>'
)
_BAD = ("<script", "onload", "onerror", "onclick", "javascript:", "foreignobject", "@import",
        "evil.example", "data:image", "<image")  # fmt: skip


def forge(cache: Path, svg: str = FORGED) -> Path:
    """Point every SVG render of ``cache`` at ``svg``, stored under its sha256."""
    data = svg.encode()
    name = hashlib.sha256(data).hexdigest()
    blob = cache / "blobs" / f"{name}.svg"
    blob.write_bytes(data)
    pointed = 0
    for pointer in (cache / "renders").glob("*.json"):
        if (cache / "blobs" / f"{json.loads(pointer.read_text())['blob']}.svg").exists():
            pointer.write_text(json.dumps({"blob": name}))
            pointed += 1
    assert pointed
    return blob


def assert_defused(svg_text: str) -> None:
    lowered = svg_text.lower()
    assert [bad for bad in _BAD if bad in lowered] == [], svg_text
    assert "kept" in svg_text and "<polygon" in svg_text


def forged_svg(html: str) -> str:
    found = BeautifulSoup(html, "lxml").select('svg[aria-label="forged"]')
    assert len(found) == 1, html
    return str(found[0])


def test_forged_cache_entries_are_sanitised_where_embedded(tmp_path: Path) -> None:
    """D5: a forged blob with a correct hash was inlined unchanged and its script ran."""
    text, _ = page("sphinx", [GOOD])
    sphinx_site(tmp_path, {"cases": text})
    text, _ = page("mkdocs", [GOOD])
    mkdocs_site(tmp_path / "mk", {"cases": text})
    assert build_sphinx(tmp_path).code == 0
    assert build_mkdocs(tmp_path / "mk").code == 0
    blobs = [forge(tmp_path / "cache"), forge(tmp_path / "mk" / "cache")]
    try:
        inline = build_sphinx(tmp_path, out="inline")
        assert inline.code == 0, inline.log
        assert_defused(forged_svg(inline.html("cases.html")))
        img = build_sphinx(tmp_path, "-D", "model_diagram_embed=img", out="img")
        assert img.code == 0, img.log
        files = list((img.out / "_images").glob("model-diagram-*.svg"))
        assert len(files) == 1
        assert_defused(files[0].read_text("utf-8"))
        mk = build_mkdocs(tmp_path / "mk")
        assert mk.code == 0, mk.log
        assert_defused(forged_svg(mk.html("cases/index.html")))
        code, log = run(
            [str(BIN / "model-diagram"), "render", GOOD[0], "--input", "float[2,8]",
             "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "cli.svg")],
            tmp_path,
        )  # fmt: skip
        assert code == 0, log
        assert_defused((tmp_path / "cli.svg").read_text("utf-8"))
    finally:
        for blob in blobs:  # the session's SVG sweep reads every cache blob left behind
            blob.unlink()


@pytest.mark.parametrize(
    "refused",
    [
        '</div><script>alert("forged")</script>',
        '<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
        '<html><body><script>alert("forged")</script></body></html>',
    ],
    ids=["not-xml", "doctype", "not-svg"],
)
def test_a_cached_drawing_the_sanitiser_refuses_is_drawn_again(
    tmp_path: Path, refused: str
) -> None:
    """A forged entry that cannot be embedded at all was a placeholder that asked the
    reader to clear the cache, and ignored ``on_error: raise``: it is drawn again from
    the graph, and the entry is replaced, so the next build reads a good drawing."""
    text, _ = page("sphinx", [GOOD])
    sphinx_site(tmp_path, {"cases": text})
    text, _ = page("mkdocs", [GOOD])
    mkdocs_site(tmp_path / "mk", {"cases": text}, {"on_error": "raise"})
    assert build_sphinx(tmp_path).code == 0
    assert build_mkdocs(tmp_path / "mk", "--strict").code == 0
    caches = [tmp_path / "cache", tmp_path / "mk" / "cache"]
    blobs = [forge(cache, refused) for cache in caches]
    try:
        img = build_sphinx(tmp_path, "-W", "-D", "model_diagram_embed=img", out="img")
        assert img.code == 0, img.log
        (drawn,) = (img.out / "_images").glob("model-diagram-*.svg")
        assert "Linear" in drawn.read_text("utf-8") and "forged" not in drawn.read_text("utf-8")
        forge(caches[0], refused)  # the img build replaced the entry: forge it again
        sphinx = build_sphinx(tmp_path, "-W", out="again")
        mkdocs = build_mkdocs(tmp_path / "mk", "--strict")
        for built, name in ((sphinx, "cases.html"), (mkdocs, "cases/index.html")):
            assert built.code == 0, built.log
            assert "model-diagram:" not in built.log, built.log
            html = built.html(name)
            assert "model-diagram-error" not in html and "forged" not in html
            drawn = BeautifulSoup(html, "lxml").select("svg.model-diagram-svg")
            assert len(drawn) == 1 and "Linear" in drawn[0].get_text(" "), html
        for cache, blob in zip(caches, blobs, strict=True):
            pointers = [
                json.loads(p.read_text())["blob"] for p in (cache / "renders").glob("*.json")
            ]
            assert blob.stem not in pointers  # the entry points at the new drawing
    finally:
        for blob in blobs:
            blob.unlink()


def forge_graphs(cache: Path, *, summary: bool) -> str:
    """Point every manifest of ``cache`` at a blob that matches its sha256 but is not a
    layer graph (without the manifest's summary unless ``summary``); its digest."""
    data = b'{"schema": 9, "layers": "forged"}'
    name = hashlib.sha256(data).hexdigest()
    (cache / "blobs" / f"{name}.json").write_bytes(data)
    manifests = list((cache / "manifests").glob("*.json"))
    assert manifests
    for path in manifests:
        manifest = json.loads(path.read_text("utf-8"))
        manifest["graph"] = name
        if not summary:
            del manifest["summary"]
        path.write_text(json.dumps(manifest), "utf-8")
    return name


def test_a_forged_layer_graph_is_traced_again(tmp_path: Path) -> None:
    """A warm build reads a cached graph only when a page needs it (a miss, a layer
    table): one that matches its digest but is not a layer graph is then traced again,
    with no warning, and the manifest points at the new graph."""
    cases = [GOOD, (GOOD[0], {**GOOD[1], "table": "true"})]
    text, _ = page("sphinx", cases)
    sphinx_site(tmp_path, {"cases": text})
    text, _ = page("mkdocs", cases)
    mkdocs_site(tmp_path / "mk", {"cases": text}, {"on_error": "raise"})
    assert build_sphinx(tmp_path).code == 0
    assert build_mkdocs(tmp_path / "mk", "--strict").code == 0
    caches = [tmp_path / "cache", tmp_path / "mk" / "cache"]
    # a summary, or none (the page then reads the model's name from the graph)
    forged = [forge_graphs(cache, summary=n == 0) for n, cache in enumerate(caches)]
    sphinx = build_sphinx(tmp_path, "-W", out="again")
    mkdocs = build_mkdocs(tmp_path / "mk", "--strict")
    for built, name in ((sphinx, "cases.html"), (mkdocs, "cases/index.html")):
        assert built.code == 0, built.log
        assert "WARNING" not in built.log, built.log
        soup = BeautifulSoup(built.html(name), "lxml")
        drawn = soup.select("svg.model-diagram-svg")
        assert len(drawn) == 2 and all("Linear" in svg.get_text(" ") for svg in drawn)
        assert "Linear" in soup.select_one("table").get_text(" ")
    for cache, name in zip(caches, forged, strict=True):
        pointed = {json.loads(p.read_text())["graph"] for p in (cache / "manifests").glob("*")}
        assert name not in pointed and pointed


def test_a_forged_graph_read_late_is_traced_again(tmp_path: Path) -> None:
    """A forged graph first read after the page (another format at write time, as
    LaTeX asks for PDF; a drawing the sanitiser refuses, drawn again), or an empty blob,
    is traced again too, and a doctree can still pickle what the cache held."""
    import pickle

    from model_diagram.cache import Cache
    from model_diagram.pipeline import Pipeline, trace_key

    sys.path.insert(0, str(TESTS))
    try:
        with Pipeline(tmp_path / "cache") as pipeline:
            options = parse_options({"factory": GOOD[0], **GOOD[1]})
            pipeline.diagram(options)
            key = trace_key(options, pipeline.cache)
            forge_graphs(pipeline.cache.root, summary=True)
            entry = Cache(pipeline.cache.root).lookup_trace(key)
            assert entry is not None and entry.graph is not None
            forged = entry.graph
            assert pickle.loads(pickle.dumps(forged)).words == forged.words
            data, _, hit = pipeline.render_graph(options, forged, "png", [])
            assert data.startswith(b"\x89PNG") and not hit
            svg = pipeline.embeddable(options, "<html><script>x</script></html>", forged)
            assert "Linear" in svg and "<script" not in svg
            # an empty blob hashes to its name too: a miss, never an empty graph
            empty = hashlib.sha256(b"").hexdigest()
            (pipeline.cache.root / "blobs" / f"{empty}.json").write_bytes(b"")
            manifest = pipeline.cache.root / "manifests" / f"{key}.json"
            data_ = json.loads(manifest.read_text("utf-8"))
            manifest.write_text(json.dumps(data_ | {"graph": empty}), "utf-8")
            assert Cache(pipeline.cache.root).lookup_trace(key) is None
    finally:
        sys.path.remove(str(TESTS))


def test_a_forged_summary_is_words_only(tmp_path: Path) -> None:
    """A manifest's summary (the model's name and search words, read without the graph)
    is untrusted text like the graph: controls dropped, the words only words."""
    from model_diagram.cache import Cache

    cache = Cache(tmp_path / "cache")
    graph = {"schema": 1}  # never parsed: the summary is all a warm page reads
    blob = json.dumps(graph).encode()
    name = hashlib.sha256(blob).hexdigest()
    (cache.root / "blobs").mkdir(parents=True)
    (cache.root / "blobs" / f"{name}.json").write_bytes(blob)
    (cache.root / "manifests").mkdir()
    summary = {"model": "Evil\x1b[2J\x00Net", "words": 'a<script>alert("x")</script> b\x07'}
    manifest = {"schema": 1, "files": {}, "dists": {}, "graph": name, "summary": summary}
    (cache.root / "manifests" / f"{'0' * 64}.json").write_text(json.dumps(manifest), "utf-8")
    entry = cache.lookup_trace("0" * 64)
    assert entry is not None and entry.graph is not None
    assert entry.graph.model == "Evil[2JNet"
    assert entry.graph.words == "a script alert x script b"


def test_sanitiser_keeps_what_we_draw_and_drops_the_rest() -> None:
    from model_diagram.errors import CacheError
    from model_diagram.sanitize import sanitize_svg

    assert_defused(sanitize_svg(FORGED))
    for hostile in (
        '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        "<html><script>alert(1)</script></html>",
        "not xml at all <",
    ):
        with pytest.raises(CacheError):
            sanitize_svg(hostile)
    from model_diagram.rendering import clean_svg
    from model_diagram.theme import svg_style

    ours = clean_svg(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="10pt" height="10pt" viewBox="0 0 10 10"><g id="graph0" class="graph">'
        '<title>model</title><g id="node1" class="node"><title>a</title><g id="a_node1">'
        '<a xlink:href="#md-class:pkg.Cls" xlink:title="Linear"><polygon fill="#fff" '
        'stroke="#000" points="0,0 5,5 0,5"/><text x="1" y="2" font-size="8">Linear</text>'
        "</a></g></g></g></svg>",
        "md0123456789",
        "Title",
        svg_style(),
        "Description",
    )
    assert sanitize_svg(ours) == ours


# -- D14: control characters in alt, caption and names never make invalid XML


def test_control_characters_never_reach_the_svg(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    rst_page = "Cases\n=====\n\n" + rst(
        GOOD[0], {**GOOD[1], "alt": "A\x01B\x1fC"}, caption="Cap\x02tion."
    )
    sphinx_site(tmp_path, {"cases": rst_page})
    for flags, out in (((), "html"), (("-D", "model_diagram_embed=img"), "img")):
        built = build_sphinx(tmp_path, *flags, out=out)
        assert built.code == 0, built.log
        html = built.html("cases.html")
        assert "\x01" not in html and "\x02" not in html and "\x1f" not in html
    (svg_file,) = (tmp_path / "img" / "_images").glob("model-diagram-*.svg")
    root = ET.parse(svg_file).getroot()  # valid XML
    assert root.get("aria-label") == "ABC"
    md = '# Cases\n\n```model-diagram\nfactory: models:make_mlp\ninput: "float[2,8]"\n'
    md += 'alt: "A\\x01B"\ncaption: "C\\x02D"\n```\n'
    mkdocs_site(tmp_path / "mk", {"cases": md})
    built = build_mkdocs(tmp_path / "mk")
    assert built.code == 0, built.log
    html = built.html("cases/index.html")
    assert "\x01" not in html and "\x02" not in html
    assert 'aria-label="AB"' in html and "CD" in html


# -- D15: MkDocs placeholders cannot be forged by a page


def test_a_page_cannot_take_another_pages_drawing(tmp_path: Path) -> None:
    forged = "".join(f"<!--model-diagram-svg:{n}-->" for n in range(3))
    text, _ = page("mkdocs", [GOOD])
    mkdocs_site(tmp_path, {"a": f"# A\n\n{forged}\n", "b": text})
    built = build_mkdocs(tmp_path, "--strict")
    assert built.code == 0, built.log
    assert svgs(built.html("a/index.html")) == []
    assert len(svgs(built.html("b/index.html"))) == 1


# -- D7: manifests relative to the project root, for docs/ next to src/ and docs above


D7_MODEL = """\
import torch


def make():
    return torch.nn.Sequential(torch.nn.Linear(8, {width}), torch.nn.ReLU())
"""


@pytest.mark.parametrize("layout", ["docs-next-to-src", "models-in-docs"])
def test_a_copied_cache_validates_the_files_of_its_own_checkout(
    layout: str, tmp_path: Path
) -> None:
    """D7: with docs/ next to src/, manifests stored absolute paths: a cache copied to
    another checkout validated the first checkout's files ("0 traced" after an edit)."""
    first = tmp_path / "first"
    package = first / ("src" if layout == "docs-next-to-src" else "docs") / "pkg_d7"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", "utf-8")
    (package / "models.py").write_text(D7_MODEL.format(width=4), "utf-8")
    (first / "pyproject.toml").write_text("[project]\nname = 'd7'\n", "utf-8")
    docs = first / "docs"
    docs.mkdir(exist_ok=True)
    where = "parent.parent / 'src'" if layout == "docs-next-to-src" else "parent"
    (docs / "conf.py").write_text(
        "import sys\nfrom pathlib import Path\n"
        f"sys.path.insert(0, str(Path(__file__).resolve().{where}))\n"
        'extensions = ["model_diagram"]\n',
        "utf-8",
    )
    (docs / "index.rst").write_text(
        "Home\n====\n\n" + rst("pkg_d7.models:make", {"input": "float[2,8]"}), "utf-8"
    )

    def build(root: Path) -> str:
        code, log = run(
            [str(BIN / "sphinx-build"), "-E", "-b", "html", str(root / "docs"),
             str(root / "docs" / "_build")],
            root,
        )  # fmt: skip
        assert code == 0, log
        return log

    log = build(first)
    assert "1 traced" in log
    manifest = next((docs / ".model-diagram-cache" / "manifests").glob("*.json"))
    files = json.loads(manifest.read_text("utf-8"))["files"]
    assert any(name.endswith("pkg_d7/models.py") and not name.startswith("/") for name in files)
    second = tmp_path / "second"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    log = build(second)
    assert "0 traced" in log  # the copy validates its own, identical files
    models = second / package.relative_to(first) / "models.py"
    models.write_text(D7_MODEL.format(width=5), "utf-8")
    log = build(second)
    assert "1 traced" in log
    log = build(first)
    assert "0 traced" in log


# -- D8: files we publish are world-readable


def test_published_files_are_world_readable(tmp_path: Path) -> None:
    text, _ = page("sphinx", [GOOD])
    sphinx_site(tmp_path, {"cases": text})
    old = os.umask(0o022)
    try:
        built = build_sphinx(tmp_path, "-D", "model_diagram_embed=img", out="img")
    finally:
        os.umask(old)
    assert built.code == 0, built.log
    (image,) = (built.out / "_images").glob("model-diagram-*.svg")
    assert image.stat().st_mode & 0o777 == 0o644
    for blob in (tmp_path / "cache" / "blobs").iterdir():
        assert blob.stat().st_mode & 0o044 == 0o044


# -- D9: cache clear deletes only what the cache wrote, never through links


def test_cache_clear_deletes_only_its_own_entries(tmp_path: Path) -> None:
    from model_diagram.cache import Cache

    stranger = tmp_path / "not-a-cache"
    (stranger / "blobs").mkdir(parents=True)
    (stranger / "blobs" / "thesis.tex").write_text("years of work", "utf-8")
    code, log = run([str(BIN / "model-diagram"), "cache", "clear", "--cache-dir", str(stranger)],
                    tmp_path)  # fmt: skip
    assert code == 1 and "not a model-diagram cache" in log, log
    assert (stranger / "blobs" / "thesis.tex").exists()

    cache = Cache(tmp_path / "cache")
    cache.store_render("a" * 64, b"<svg/>", "svg")
    root = cache.root
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / ("b" * 64 + ".json")
    target.write_text("{}", "utf-8")
    (root / "renders" / ("c" * 64 + ".json")).symlink_to(target)
    (root / "blobs" / "notes.txt").write_text("mine", "utf-8")
    (root / "manifests").symlink_to(outside, target_is_directory=True)
    code, log = run([str(BIN / "model-diagram"), "cache", "clear", "--cache-dir", str(root)],
                    tmp_path)  # fmt: skip
    assert code == 0, log
    assert target.read_text("utf-8") == "{}"  # the link went, not what it points at
    assert not (root / "renders" / ("c" * 64 + ".json")).is_symlink()
    assert (root / "blobs" / "notes.txt").exists()
    assert list((root / "renders").glob("*.json")) == []
    assert not any(p.suffix == ".svg" for p in (root / "blobs").iterdir())


# -- D10: FIFOs, devices, links and huge files in the cache never hang or exhaust a build


def test_non_regular_cache_files_are_skipped_and_repaired(tmp_path: Path) -> None:
    import concurrent.futures

    from model_diagram.pipeline import Pipeline, trace_key

    options = parse_options({"factory": GOOD[0], **GOOD[1], "alt": "d10"})
    pipeline = Pipeline(tmp_path / "cache")
    first = pipeline.diagram(options)
    root = pipeline.cache.root
    manifest = root / "manifests" / f"{trace_key(options, pipeline.cache)}.json"
    # the drawing's pointer (the other one names the explorer's views, a .json blob)
    pointer, blob = next(
        (p, b)
        for p in (root / "renders").glob("*.json")
        if (b := root / "blobs" / f"{json.loads(p.read_text())['blob']}.svg").is_file()
    )
    graph = root / "blobs" / f"{json.loads(manifest.read_text())['graph']}.json"
    manifest.unlink()
    os.mkfifo(manifest)
    blob.unlink()
    blob.symlink_to("/dev/zero")
    pointer.unlink()
    with pointer.open("wb") as handle:  # sparse: 300 MiB of nothing
        handle.truncate(300 * 1024**2)
    graph.unlink()
    os.mkfifo(graph)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        again = pool.submit(Pipeline(tmp_path / "cache").diagram, options).result(timeout=120)
    assert again.svg == first.svg and not again.cached
    for path in (manifest, blob, pointer):
        assert path.is_file() and not path.is_symlink(), path
    assert Pipeline(tmp_path / "cache").diagram(options).cached


# -- D16: cache clear while builds run gives no warnings


def test_cache_clear_during_a_build_gives_no_warnings(tmp_path: Path) -> None:
    import threading

    from model_diagram.cache import Cache, StoredGraph
    from model_diagram.pipeline import Pipeline

    pipeline = Pipeline(tmp_path / "cache")
    base = parse_options({"factory": GOOD[0], **GOOD[1]})
    graph = pipeline.diagram(base).graph
    cache = Cache(tmp_path / "cache")
    stop = threading.Event()
    errors: list[BaseException] = []

    def clear() -> None:
        while not stop.is_set():
            try:
                cache.clear()
            except BaseException as exc:  # collected for the assertion
                errors.append(exc)

    thread = threading.Thread(target=clear)
    thread.start()
    warnings: list[DiagramError] = []
    try:
        for n in range(150):
            options = base.with_values(alt=f"figure {n}")
            pipeline.render_graph(options, StoredGraph.of(graph), "svg", warnings)
    finally:
        stop.set()
        thread.join()
    assert warnings == [] and errors == []


# -- D2: -j 2 never crashes where -j 1 warns


D2_MODELS = """\
import json

import torch


def make_surrogate_names():
    # Python refuses lone surrogates in class names, not in __module__ or layer names
    cls = type("BadName", (torch.nn.Linear,), {"__module__": "pkg\\ud800\\x01"})
    model = torch.nn.Sequential()
    model.add_module("lone\\ud800", cls(8, 4))
    return model


def make_json_patcher():
    json.dumps = lambda *args, **kwargs: "not json"
    json.JSONEncoder.encode = lambda self, value: "not json either"
    return torch.nn.Sequential(torch.nn.Linear(8, 3))
"""


def test_parallel_builds_survive_surrogates_and_json_patches(tmp_path: Path) -> None:
    """D2: a lone surrogate in a class name, or a model patching json.dumps, aborted the
    ``-j 2`` build (the pre-scan traced it) where ``-j 1`` warned."""
    (tmp_path / "hostile_d2.py").write_text(D2_MODELS, "utf-8")
    pages = {
        f"p{n}": page("sphinx", [case])[0]
        for n, case in enumerate(
            [
                ("hostile_d2:make_surrogate_names", {**GOOD[1], "alt": "surrogates"}),
                ("hostile_d2:make_json_patcher", {**GOOD[1], "alt": "patcher"}),
                (GOOD[0], {**GOOD[1], "alt": "after"}),
            ]
        )
    }
    sphinx_site(tmp_path, pages)
    for flags, out in ((("-j", "2"), "j2"), ((), "j1")):
        built = build_sphinx(tmp_path, *flags, out=out)
        assert built.code == 0, built.log
        assert "Traceback" not in built.log and "Exception occurred" not in built.log
        assert svgs(built.html("p0.html")) == ["surrogates"]
        assert svgs(built.html("p1.html")) == ["patcher"]
        assert svgs(built.html("p2.html")) == ["after"]
    text, _ = page("mkdocs", [("hostile_d2:make_json_patcher", GOOD[1]), GOOD])
    mkdocs_site(tmp_path / "mk", {"cases": text})
    (tmp_path / "mk" / "hostile_d2.py").write_text(D2_MODELS, "utf-8")
    built = build_mkdocs(tmp_path / "mk", "--strict")
    assert built.code == 0, built.log
    assert len(svgs(built.html("cases/index.html"))) == 2
