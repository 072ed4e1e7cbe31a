"""The MkDocs plugin end to end: real sites built with ``mkdocs.commands.build``.

Each test writes a ``mkdocs.yml`` in ``tmp_path``, builds it, and parses the
HTML. Checks are grouped per build to keep the file's wall time low: most
sites share one cache, so a model is traced once for the whole file.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup, Tag
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort

from model_diagram.mkdocs_plugin import ModelDiagramPlugin
from model_diagram.pipeline import _code_digest
from model_diagram.rendering import find_engine
from model_diagram.scan import markdown_fences

REPO = Path(__file__).resolve().parent.parent
LOGGER = "mkdocs.plugins.model_diagram"

CNN = """\
```model-diagram
factory: example_project.models:make_cnn
input: float[2,3,32,32]
depth: 2
caption: A small CNN <classifier>.
alt: CNN architecture
name: fig-cnn
align: center
width: 80%
class: wide framed
```
"""
RECOMMENDER = """\
```model-diagram
factory: example_project.models:make_recommender
input: {user_id: "long[2](0,1000)", age: "float[2]", hist: "long[2,10](0,1000)"}
factory_kwargs: {embed_dim: 8}
depth: 2
caption: The recommender takes one dict of feature tensors.
name: fig-recommender
```
"""
TRANSFORMER = """\
```model-diagram
factory: example_project.models:make_transformer
kwargs: {input_ids: "long[2,16](0,1000)"}
factory-kwargs: {num_layers: 2}
depth: 1
```
"""
MLP = """\
```model-diagram
factory: models:make_mlp
input: float[2,8]
```
"""
# shown, not rendered: a block inside another fence, and one in an indented code block
SHOWN = """\
````markdown
```model-diagram
factory: models:make_mlp
```
````

Indented code:

    ```model-diagram
    factory: models:make_branchy
    ```
"""


def indent(text: str, prefix: str = "    ") -> str:
    return textwrap.indent(text, prefix, lambda line: True).replace(f"{prefix}\n", "\n")


NESTED = f"""\
# Nested

!!! note "In an admonition"

{indent(MLP)}
=== "First tab"

{indent(RECOMMENDER.replace("fig-recommender", "fig-tabbed"))}
=== "Second tab"

    Plain text.

1. A list item:

{indent(MLP.replace("float[2,8]", "float[2, 8]"))}
??? tip "Collapsed details"

    ```model-diagram
    factory: models:make_mlp
    input: float[2,8]
    show-shapes: false
    ```

> ```model-diagram
> factory: models:make_branchy
> input: float[2,8]
> ```
"""


# -- helpers


@dataclass
class Site:
    root: Path
    config_file: Path

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    def page(self, name: str = "index") -> BeautifulSoup:
        path = self.site_dir / ("index.html" if name == "index" else f"{name}/index.html")
        return BeautifulSoup(path.read_text("utf-8"), "lxml")

    def build(self, **overrides: Any) -> ModelDiagramPlugin:
        config = self.config(**overrides)
        build(config)
        plugin = config.plugins["model-diagram"]
        assert isinstance(plugin, ModelDiagramPlugin)
        return plugin

    def config(self, **overrides: Any) -> MkDocsConfig:
        return load_config(config_file=str(self.config_file), **overrides)


def make_site(
    root: Path,
    pages: dict[str, str],
    *,
    plugin: dict[str, Any] | None = None,
    theme: str = "mkdocs",
    superfences: bool = False,
    **extra: Any,
) -> Site:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (docs / name).write_text(text, "utf-8")
    config: dict[str, Any] = {
        "site_name": "Test site",
        "theme": {"name": theme},
        "plugins": [{"model-diagram": plugin or {}}],
        **extra,
    }
    if theme == "material":
        config["plugins"].insert(0, "search")
    if superfences:
        config["markdown_extensions"] = [
            "admonition",
            "pymdownx.details",
            "pymdownx.superfences",
            {"pymdownx.tabbed": {"alternate_style": True}},
        ]
    config_file = root / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return Site(root, config_file)


def figures(soup: BeautifulSoup) -> list[Tag]:
    return soup.select("figure.model-diagram")


def svg_text(element: Tag) -> str:
    return " ".join(t.get_text() for t in element.select("svg text"))


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the sites whose test is not about caching: each model traces once."""
    return tmp_path_factory.mktemp("shared-cache")


# -- fence scanning


def test_markdown_fences_skips_fences_shown_inside_other_fences() -> None:
    text = textwrap.dedent("""\
        ~~~~model-diagram
        a: 1
        ~~~~
        `````markdown
        ```model-diagram
        b: 2
        ```
        `````
        > ```{ .model-diagram }
        > c: 3
        > ```
        ```model-diagram
        unclosed
        """)
    found = [(f.start, f.lang, f.prefix, f.body) for f in markdown_fences(text.splitlines())]
    assert found == [
        (0, "model-diagram", "", ["a: 1"]),
        (3, "markdown", "", ["```model-diagram", "b: 2", "```"]),
        (8, "model-diagram", "> ", ["> c: 3"]),
    ]


def test_markdown_fences_skip_html_comments() -> None:
    text = textwrap.dedent("""\
        <!--
        ```model-diagram
        a: 1
        ```
        -->
        <!-- one line --> ends here
        ```model-diagram
        b: 2
        ```

            <!-- indented code, not a comment
        ```model-diagram
        c: 3
        ```
        """)
    found = [(f.start, f.body) for f in markdown_fences(text.splitlines())]
    assert found == [(6, ["b: 2"]), (11, ["c: 3"])]


#: a block switched off in a comment, an example of a failing block shown as indented
#: code, the real failing block (line 17), and a named block that fails (line 21)
SWITCHED_OFF = """\
# Page

<!--
```model-diagram
factory: no_such_package.commented:out
```
-->

Write this in your page:

    ```model-diagram
    factory: models:make_raises
    ```

Here it is for real:

```model-diagram
factory: models:make_raises
```

```model-diagram
factory: models:make_raises
name: fig-raises
caption: It raises.
```

See [the figure](#fig-raises).
"""


@pytest.mark.parametrize("superfences", [False, True], ids=["markdown", "superfences"])
def test_comments_code_examples_and_failed_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, superfences: bool
) -> None:
    """A commented-out block never runs; an indented example does not take the real
    block's line; a failed named figure keeps its id, cold and warm alike (its anchor
    was valid only while the failure was not cached)."""
    site = make_site(
        tmp_path,
        {"index.md": SWITCHED_OFF},
        plugin={"cache_dir": str(tmp_path / "cache")},
        superfences=superfences,
        validation={"anchors": "warn"},
    )
    for run in ("cold", "warm"):
        caplog.clear()
        plugin = site.build()
        messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(messages) == 2, (run, messages)
        assert messages[0].startswith("model-diagram: index.md:17: "), messages
        assert messages[1].startswith("model-diagram: index.md:21: "), messages
        assert plugin.failures == 2
        soup = site.page()
        assert "no_such_package" not in soup.get_text()  # left in its comment, never run
        placeholders = soup.select(".model-diagram-error")
        assert len(placeholders) == 2
        named = soup.select("figure#fig-raises")
        assert len(named) == 1 and named[0].select(".model-diagram-error"), run
        assert named[0].figcaption is not None and "It raises." in named[0].figcaption.text


# -- rendering: both themes, with and without SuperFences


@pytest.mark.parametrize(
    ("theme", "superfences"),
    [("mkdocs", False), ("mkdocs", True), ("material", False), ("material", True)],
)
def test_site_renders_diagrams(
    tmp_path: Path, shared_cache: Path, theme: str, superfences: bool
) -> None:
    index = (
        "---\ntitle: Models\n---\n# Models\n\nSee [the CNN](#fig-cnn) and "
        "[the recommender](other.md#fig-recommender).\n\n"
        + CNN
        + "\n"
        + TRANSFORMER
        + "\n"
        + SHOWN
        + "\nThe same CNN again:\n\n"
        + CNN.replace("name: fig-cnn\n", "")
    )
    pages = {"index.md": index, "other.md": "# Other\n\n" + RECOMMENDER}
    if superfences:
        pages["nested.md"] = NESTED
    site = make_site(
        tmp_path,
        pages,
        plugin={"cache_dir": str(shared_cache)},
        theme=theme,
        superfences=superfences,
        validation={"anchors": "warn"},
    )
    # strict: a clean site has no warnings, and the figure names satisfy anchor validation
    site.build(strict=True)

    soup = site.page()
    cnn, transformer, cnn_again = figures(soup)
    assert cnn["id"] == "fig-cnn"
    assert cnn["class"] == ["model-diagram", "wide", "framed", "align-center"]
    assert cnn["style"] == "width: 80%"
    assert cnn.figcaption is not None
    assert cnn.figcaption.get_text() == "A small CNN <classifier>."
    text = svg_text(cnn)
    assert text.count("Conv2d") == 2 and "Linear" in text and "MaxPool2d" in text
    assert "(2, 3, 32, 32)" in text and "(2, 10)" in text
    svg = cnn.select_one("svg")
    assert svg is not None and svg.select_one("title").get_text() == "CNN architecture"
    assert "Embedding" in svg_text(transformer) and "(2, 16)" in svg_text(transformer)
    assert transformer.get("id") is None and transformer.figcaption is None
    # the repeated diagram gets its own ids, so the page has no duplicate id at all
    assert svg_text(cnn_again) == text
    ids = [el["id"] for el in soup.select("[id]")]
    assert len(ids) == len(set(ids))
    # blocks shown as code stay code
    code = [c.get_text() for c in soup.select("pre code")]
    assert any("```model-diagram\nfactory: models:make_mlp" in c for c in code)
    assert any("```model-diagram\nfactory: models:make_branchy" in c for c in code)
    assert len(figures(soup)) == 3
    # the stylesheet ships with the site, linked from every page
    css = site.site_dir / "assets/model-diagram/model-diagram.css"
    assert "figure.model-diagram" in css.read_text("utf-8")
    assert any(
        link["href"].endswith("assets/model-diagram/model-diagram.css")
        for link in soup.select("link[rel=stylesheet]")
    )

    other = figures(site.page("other"))
    assert [f["id"] for f in other] == ["fig-recommender"]
    rec_text = svg_text(other[0])
    assert rec_text.count("Embedding") == 2 and "x['hist'] (2, 10)" in rec_text

    if superfences:
        nested = site.page("nested")
        containers = {
            "admonition": nested.select(".admonition figure.model-diagram"),
            "tab": nested.select(".tabbed-block figure.model-diagram"),
            "list": nested.select("li figure.model-diagram"),
            "details": nested.select("details figure.model-diagram"),
            "quote": nested.select("blockquote figure.model-diagram"),
        }
        assert {k: len(v) for k, v in containers.items()} == dict.fromkeys(containers, 1)
        assert containers["tab"][0]["id"] == "fig-tabbed"
        assert "(2, 8)" not in svg_text(containers["details"][0])  # its own show-shapes: false
        assert "Linear" in svg_text(containers["quote"][0])
        assert not nested.select(".model-diagram-error")


# -- caching: a warm build traces nothing and never imports torch


WARM_BUILD = """
import json, sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
config = load_config(config_file=sys.argv[1])
build(config)
plugin = config.plugins["model-diagram"]
print(json.dumps({"traced": plugin.pipeline.traced, "diagrams": plugin.diagrams,
                  "torch": "torch" in sys.modules, "worker": plugin.pipeline._worker is not None}))
"""


def test_second_build_is_cached_and_torch_free(tmp_path: Path) -> None:
    models = tmp_path / "src" / "cached_models.py"
    models.parent.mkdir()
    models.write_text(
        "from torch import nn\n\n\ndef make():\n"
        "    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))\n",
        "utf-8",
    )
    block = "```model-diagram\nfactory: cached_models:make\ninput: float[2,8]\n```\n"
    site = make_site(
        tmp_path,
        {"index.md": block + "\n" + MLP, "other.md": CNN},
        plugin={"paths": ["src"], "cache_dir": "cache"},
    )
    _code_digest.cache_clear()  # hash our sources as they are now, as the fresh process will
    first = site.build()
    assert (first.pipeline.traced, first.diagrams) == (3, 3)
    first_html = str(figures(site.page())[0])

    # a fresh process: every diagram from the cache, the worker never started
    done = subprocess.run(
        [sys.executable, "-c", WARM_BUILD, str(site.config_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    report = yaml.safe_load(done.stdout.strip().splitlines()[-1])
    assert report == {"traced": 0, "diagrams": 3, "torch": False, "worker": False}
    assert str(figures(site.page())[0]) == first_html

    # editing a model file invalidates exactly the diagrams that imported it
    models.write_text(models.read_text("utf-8").replace("nn.ReLU()", "nn.Tanh()"), "utf-8")
    third = site.build()
    assert third.pipeline.traced == 1
    assert models.resolve() in third.watched
    text = svg_text(figures(site.page())[0])
    assert "Tanh" in text and "ReLU" not in text


# -- configuration keys


def test_config_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "keyed_models.py").write_text(
        "from torch import nn\n\n\ndef make(width=16):\n"
        "    return nn.Sequential(nn.Linear(8, width), nn.GELU(), nn.Linear(width, 4))\n",
        "utf-8",
    )
    block = "```model-diagram\nfactory: keyed_models:make\ninput: float[2,8]\n"
    page = (
        block
        + "```\n\n"
        + block
        + "show-shapes: true\ndirection: TB\nfactory_kwargs: {width: 32}\n```\n"
    )
    linked = TRANSFORMER.replace("depth: 1\n", "depth: 1\ntable: true\n")
    unlinked = TRANSFORMER.replace("depth: 1\n", "depth: 1\nlink-classes: false\n")
    api = "# API\n\n## EncoderBlock {#example_project.models.EncoderBlock}\n\nA block.\n"
    site = make_site(
        tmp_path,
        {"index.md": page, "links.md": linked + "\n" + unlinked, "api.md": api},
        plugin={
            "defaults": {
                "direction": "LR",
                "show_shapes": False,
                "engine": "graphviz-pure",
                "timeout": 60,
            },
            "cache_dir": "build/diagram-cache",
            "on_error": "warn",
            "paths": ["lib"],
        },
        markdown_extensions=["attr_list"],
    )
    caplog.set_level(logging.INFO, LOGGER)
    plugin = site.build()
    assert plugin.defaults == {
        "engine": "graphviz-pure",
        "timeout": 60.0,
        "direction": "LR",
        "show-shapes": False,
    }
    # cache_dir is relative to mkdocs.yml; paths put lib/ on sys.path only during the build
    assert list((tmp_path / "build" / "diagram-cache" / "manifests").glob("*.json"))
    assert str(tmp_path / "lib") not in sys.path
    plain, overridden = figures(site.page())
    plain_svg, over_svg = plain.select_one("svg"), overridden.select_one("svg")
    # defaults apply (LR: wider than tall, no shapes); a block's own keys win
    assert float(plain_svg["width"][:-2]) > float(plain_svg["height"][:-2])
    assert "(2, 8)" not in svg_text(plain) and "GELU" in svg_text(plain)
    assert float(over_svg["width"][:-2]) < float(over_svg["height"][:-2])
    assert "(2, 8)" in svg_text(overridden) and "(2, 32)" in svg_text(overridden)
    assert any("4 diagram(s), 3 traced, 1 from cache" in r.getMessage() for r in caplog.records)

    # link-classes: nodes link to the page documenting the class, others lose the link
    links = site.page("links")
    assert "#md-class:" not in str(links)
    with_links, without_links = figures(links)
    hrefs = {a.get("href") or a.get("xlink:href") for a in with_links.select("svg a")} - {None}
    assert hrefs == {"../api/#example_project.models.EncoderBlock"}
    assert not [a for a in without_links.select("svg a") if a.get("href") or a.get("xlink:href")]
    # table: a text table of the layers under the drawing
    rows = [tr.get_text(" ") for tr in with_links.select("details.model-diagram-table tbody tr")]
    assert any("EncoderBlock" in row for row in rows) and any("Embedding" in row for row in rows)
    assert not without_links.select("details.model-diagram-table")
    # the viewer script ships with the site too
    assert (site.site_dir / "assets/model-diagram/model-diagram.js").is_file()
    assert links.select('script[src$="assets/model-diagram/model-diagram.js"]')


@pytest.mark.parametrize(
    ("plugin", "expected"),
    [
        (
            {"defaults": {"depht": 2}},
            "option 'defaults': unknown option 'depht'; did you mean 'depth'",
        ),
        (
            {"defaults": {"depth": "deep"}},
            "option 'defaults': option 'depth': invalid value 'deep'",
        ),
        ({"defaults": ["depth"]}, "option 'defaults': defaults must be a mapping"),
        ({"defaults": {"factory": "a:b"}}, "option 'defaults': 'factory' names one model"),
        ({"engine": "neato"}, "option 'engine': invalid value 'neato'"),
        ({"timeout": -1}, "option 'timeout': invalid value -1"),
        (
            {"timeout": 5, "defaults": {"timeout": 9}},
            "option 'defaults': plugin key 'timeout': 5.0 contradicts 'timeout': 9.0 in "
            "'defaults'; set it in one place",
        ),
        ({"on_error": "ignore"}, "option 'on_error': Expected one of: ('warn', 'raise')"),
        ({"paths": ["no-such-dir"]}, "option 'paths': The path"),
        ({"paths": "src"}, "option 'paths': Expected a list of items"),
        ({"cache_dir": 3}, "option 'cache_dir': Expected type"),
    ],
)
def test_bad_config_values_stop_the_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, plugin: dict[str, Any], expected: str
) -> None:
    site = make_site(tmp_path, {"index.md": "# Empty\n"}, plugin=plugin)
    with pytest.raises(Abort, match="configuration error"):
        site.config()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"Plugin 'model-diagram' {expected}" in m for m in errors), errors


@pytest.mark.parametrize(
    ("preload", "expected"),
    [
        (["no_such_package_xyz"], "preload: no module named 'no_such_package_xyz' is installed"),
        (["bad name"], "preload: 'bad name' is not a module name"),
    ],
)
def test_bad_preload_stops_the_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, preload: list[str], expected: str
) -> None:
    site = make_site(tmp_path, {"index.md": "# Empty\n"}, plugin={"preload": preload})
    with pytest.raises(Abort):
        site.build()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"model-diagram: {expected}" in errors, errors


def test_slow_traces_suggest_preload(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Two blocks whose module takes 0.6 s to import and loads bs4: the build's info
    line names it for ``preload`` (never a warning: ``--strict`` builds pass)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "slow_soup.py").write_text(
        "import time\n\nimport bs4  # noqa: F401\nfrom torch import nn\n\ntime.sleep(0.6)\n\n\n"
        "def make(width=4):\n    return nn.Linear(8, width)\n"
    )
    blocks = "".join(
        f"```model-diagram\nfactory: slow_soup:make\ninput: float[2,8]\n"
        f"factory-kwargs: {{width: {width}}}\n```\n\n"
        for width in (3, 4)
    )
    site = make_site(
        tmp_path,
        {"index.md": f"# Slow\n\n{blocks}"},
        plugin={"paths": ["lib"], "cache_dir": "cache"},
    )
    caplog.set_level(logging.INFO, LOGGER)
    site.build(strict=True)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    hint = [m for m in infos if "imports them once for the whole build" in m]
    assert len(hint) == 1, infos
    suggested = hint[0].split("'preload: [", 1)[1].split("]'", 1)[0].split(", ")
    assert "bs4" in suggested, hint
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_deprecated_engine_and_timeout_keys_still_apply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The plugin keys ``engine``/``timeout`` keep old sites building: folded into
    ``defaults`` with one configuration warning each, which ``--strict`` stops on."""
    plugin = {"engine": "graphviz-pure", "timeout": 30, "defaults": {"depth": 2, "timeout": 30}}
    site = make_site(tmp_path, {"index.md": "# Empty\n"}, plugin=plugin)
    caplog.set_level(logging.WARNING)
    assert site.build().defaults == {"depth": 2, "timeout": 30.0, "engine": "graphviz-pure"}
    notices = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(notices) == 2, notices
    for key, notice in zip(("engine", "timeout"), notices, strict=True):
        assert notice.endswith(
            f"Plugin 'model-diagram' option 'defaults': plugin key '{key}' is deprecated; "
            f"set '{key}' in 'defaults' instead"
        ), notice
    with pytest.raises(Abort, match="2 configuration warnings in 'strict' mode"):
        site.config(strict=True)


# -- the example project's MkDocs site


def test_example_site_builds_strict(tmp_path: Path, shared_cache: Path) -> None:
    config = load_config(
        config_file=str(REPO / "example_project" / "mkdocs.yml"),
        site_dir=str(tmp_path / "site"),
        strict=True,
    )
    config.plugins["model-diagram"].config.cache_dir = str(shared_cache)
    build(config)
    text = " ".join(
        svg_text(f)
        for html in (tmp_path / "site").rglob("*.html")
        for f in figures(BeautifulSoup(html.read_text("utf-8"), "lxml"))
    )
    for label in ("Conv2d", "Embedding", "MultiheadAttention", "LayerNorm", "(2, 16, 4096)"):
        assert label in text, label


# -- errors: located warnings, placeholders, strict failure, on_error: raise

ERRORS = """\
---
title: Errors
---
# Errors

```model-diagram
factory: models:make_mlp
input: float[2,8]
depht: 2
```

```model-diagram
factory: models:make_mlp
input: [float[2,8]
```

```model-diagram
- just a list
```

```model-diagram
factory: no_such_package.models:make
```

```model-diagram
factory: models:make_raises
```

```model-diagram
factory: models:make_mlp
input: float[2,x]
```

```model-diagram
factory: models:make_forward_raises
input: float[2,8]
```

```model-diagram
factory: models:make_mlp
input: float[2,8]
engine: dot
```

```model-diagram
factory: models:make_slow
input: float[2,8]
```

```model-diagram
factory: models:make_mlp
input: float[2,8]
name: still-works
```
"""
EXPECTED = [  # (line, kind, message fragment) in page order
    (6, "option", "unknown option 'depht'"),
    (12, "option", "not valid YAML at line 14"),
    (17, "option", "must be a YAML mapping"),
    (21, "import", "cannot import 'no_such_package.models:make'"),
    (25, "import", "factory 'models:make_raises' raised RuntimeError: factory exploded"),
    (29, "input", "float[2,x]"),
    (34, "trace", "bad forward: shape mismatch"),
    (39, "render", "engine 'dot' is not available"),
    (45, "trace", "timed out after 2 s"),
]


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Hide Graphviz's ``dot`` so ``engine: dot`` fails the way it does on a bare machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("graphviz-pure",):
        found = shutil.which(tool) or str(Path(sys.executable).parent / tool)
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    find_engine.cache_clear()
    yield
    find_engine.cache_clear()


def test_errors_are_located_and_the_rest_builds(
    tmp_path: Path, shared_cache: Path, caplog: pytest.LogCaptureFixture, no_dot: None
) -> None:
    site = make_site(
        tmp_path,
        {"errors.md": ERRORS, "index.md": "# Fine\n\n" + MLP},
        plugin={"cache_dir": str(shared_cache), "defaults": {"timeout": 2}},
        superfences=True,
    )
    plugin = site.build()
    warnings = warnings_of(caplog)
    assert len(warnings) == len(EXPECTED), warnings
    for message, (line, kind, fragment) in zip(warnings, EXPECTED, strict=True):
        assert message.startswith(f"model-diagram: errors.md:{line}: "), message
        assert message.endswith(f"[model_diagram.{kind}]"), message
        assert fragment in message, message
    assert plugin.failures == len(EXPECTED)

    soup = site.page("errors")
    placeholders = soup.select(".model-diagram-error")
    assert len(placeholders) == len(EXPECTED)
    assert "no_such_package.models:make" in placeholders[3].get_text()
    assert "(import error)" in placeholders[3].get_text()
    assert [f["id"] for f in figures(soup)] == ["still-works"]
    assert figures(site.page())  # the other page is untouched

    # --strict counts the warnings and fails the build
    caplog.clear()
    with pytest.raises(Abort, match=r"Aborted with \d+ warnings in strict mode"):
        site.build(strict=True)


def test_on_error_raise_and_cache_problems(
    tmp_path: Path, shared_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = "# Page\n\n" + MLP + "\n```model-diagram\nfactory: no_such_package:make\n```\n"
    site = make_site(
        tmp_path / "raise",
        {"index.md": page},
        plugin={"cache_dir": str(shared_cache), "on_error": "raise"},
    )
    with pytest.raises(Abort, match="BuildError"):
        site.build()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        "model-diagram: index.md:8: cannot import 'no_such_package:make'" in m for m in errors
    ), errors

    # an unusable cache directory is a warning; the diagram is still drawn
    (tmp_path / "a-file").write_text("not a directory", "utf-8")
    site = make_site(
        tmp_path / "cache",
        {"index.md": "# Page\n\n" + MLP},
        plugin={"cache_dir": str(tmp_path / "a-file" / "cache")},
    )
    caplog.clear()
    site.build()
    warnings = warnings_of(caplog)
    assert len(warnings) == 1 and warnings[0].endswith("[model_diagram.cache]"), warnings
    assert "index.md:3" in warnings[0] and "cannot write to the cache directory" in warnings[0]
    assert "Linear" in svg_text(figures(site.page())[0])


# -- mkdocs serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; serve log:\n{log.read_text('utf-8')}")


#: a model file for the serve tests, which edit it (``ReLU`` becomes ``Tanh``)
SERVED_MODEL = (
    "from torch import nn\n\n\ndef make():\n"
    "    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))\n"
)


@dataclass(frozen=True)
class Served:
    """What a serve test reads and edits: the page, the serve log, the model file."""

    url: str
    log: Path
    models: Path
    block: str

    def page(self) -> str:
        """The served page, or ``""`` while nothing is served yet."""
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                return str(response.read().decode("utf-8"))
        except OSError:
            return ""

    def diagram_text(self) -> str:
        found = figures(BeautifulSoup(self.page(), "lxml"))
        return svg_text(found[0]) if found else ""

    def log_text(self) -> str:
        return self.log.read_text("utf-8")

    def edit_model(self) -> None:
        self.models.write_text(self.models.read_text("utf-8").replace("nn.ReLU()", "nn.Tanh()"))


@contextmanager
def serving(root: Path, module: str, title: str) -> Iterator[Served]:
    """``mkdocs serve`` of a one-page site drawing ``src/<module>.py``, in a process of
    its own; stopped (SIGINT, then killed) when the block ends."""
    models = root / "src" / f"{module}.py"
    models.parent.mkdir()
    models.write_text(SERVED_MODEL, "utf-8")
    block = f"```model-diagram\nfactory: {module}:make\ninput: float[2,8]\n```\n"
    site = make_site(
        root,
        {"index.md": f"# {title}\n\n" + block},
        plugin={"paths": ["src"], "cache_dir": "cache"},
    )
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}/", root / "serve.log", models, block)
    serve = [sys.executable, "-m", "mkdocs", "serve", "-f", str(site.config_file)]
    with served.log.open("w") as out:
        proc = subprocess.Popen(
            [*serve, "-a", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            yield served
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_serve_rebuilds_when_a_model_file_changes(tmp_path: Path) -> None:
    with serving(tmp_path, "served_models", "Served") as served:
        log = served.log
        first = wait_for(served.diagram_text, 90, "the first diagram", log)
        assert "ReLU" in first and "Tanh" not in first
        assert "served_models.py" in wait_for(
            lambda: "Watching paths" in served.log_text() and served.log_text(),
            10,
            "the watch list",
            log,
        )
        served.edit_model()
        wait_for(lambda: "Tanh" in served.diagram_text(), 60, "the edited diagram", log)
        assert "1 diagram(s), 1 traced" in served.log_text()

        # a docs-only edit rebuilds from the cache: nothing more is traced
        # the rebuild has ended when MkDocs reloads the browsers (it says so after every
        # build it ran; a build started by the model edit may still be the one running)
        reloads = served.log_text().count("Reloading browsers")
        (tmp_path / "docs" / "index.md").write_text("# Served again\n\n" + served.block)
        wait_for(lambda: "Served again" in served.page(), 60, "the edited page", log)
        wait_for(
            lambda: served.log_text().count("Reloading browsers") > reloads,
            10,
            "the rebuild",
            log,
        )
        assert served.log_text().count("traced") == 2  # the first build and the edit


def test_serve_sees_an_edit_made_before_its_watcher_started(tmp_path: Path) -> None:
    """The model file changes while the first build is still running (its trace is
    cached, the page not yet written): MkDocs' watcher takes its first look at the file
    later and never reports the edit; the plugin compares content and rebuilds."""
    manifests = tmp_path / "cache" / "manifests"
    with serving(tmp_path, "early_models", "Early") as served:
        deadline = time.monotonic() + 90
        while not (manifests.is_dir() and any(manifests.iterdir())):
            assert time.monotonic() < deadline, served.log_text()
            time.sleep(0.02)
        served.edit_model()
        assert "Watching paths" not in served.log_text()  # edited before serving
        wait_for(lambda: "Tanh" in served.diagram_text(), 60, "the edited diagram", served.log)


def test_blocks_naming_only_the_factory_use_the_input_providers(
    tmp_path: Path, shared_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 8 through the plugin: Torch-RecHub, Lightning and transformers models."""
    blocks = {
        "DeepFM": "models_providers:make_deepfm",
        "DSSM": "models_providers:make_dssm",
        "MMOE": "models_providers:make_mmoe",
        "Lightning": "models_providers:make_example_tuple",
        "BERT": "models_providers:make_bert",
    }
    text = "# Factories only\n\n" + "\n".join(
        f"```model-diagram\nfactory: {factory}\nalt: {alt}\ndepth: 2\n```\n"
        for alt, factory in blocks.items()
    )
    site = make_site(tmp_path, {"index.md": text}, plugin={"cache_dir": str(shared_cache)})
    site.build()
    assert warnings_of(caplog) == []
    svgs = {svg["aria-label"]: svg for svg in site.page().select("svg.model-diagram-svg")}
    assert set(svgs) == set(blocks)
    assert "Embedding" in svg_text(svgs["DeepFM"]) and "x['" in svg_text(svgs["DeepFM"])
    assert "input_ids" in svg_text(svgs["BERT"]) and "(2, 10)" in svg_text(svgs["BERT"])


def test_search_index_gets_the_caption_not_the_svg(tmp_path: Path, shared_cache: Path) -> None:
    site = make_site(
        tmp_path,
        {"index.md": "# CNN\n\n" + CNN},
        plugin={"cache_dir": str(shared_cache)},
        theme="material",
    )
    site.build()
    index = (tmp_path / "site" / "search" / "search_index.json").read_text("utf-8")
    assert "A small CNN" in index
    assert "Conv2d" not in index and "(2, 3, 32, 32)" not in index
    assert "Conv2d" in svg_text(figures(site.page())[0])  # the page itself has the drawing
