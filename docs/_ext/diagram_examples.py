"""Examples whose source and result cannot drift apart.

``.. example-diagram::``
    The content is reStructuredText holding one ``.. model-diagram::``
    directive. The page shows that source, the same diagram as a MkDocs block
    (derived from the source and checked to parse to the same options), and the
    result, built by the real directive. ``:expect-error:`` runs it through
    ``error-example`` instead, for examples that are meant to fail.
``.. error-example:: FACTORY``
    Takes the ``model-diagram`` options, runs the real pipeline and expects a
    :class:`~model_diagram.errors.DiagramError`. ``:show: placeholder`` (the
    default) embeds the placeholder the directive puts in pages
    (:func:`model_diagram.html.error_html`), ``:show: message`` the warning
    text a build prints. Either way the build stays free of warnings, so ``-W``
    holds; a diagram that unexpectedly succeeds is a warning.
``.. details:: Summary``
    A collapsible ``<details>`` block (plain content in other builders).

Deterministic failures are cached like diagrams, so an ``error-example`` that
needs a trace starts the worker only when its entry is missing or stale.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from model_diagram.errors import DiagramError, error_text
from model_diagram.html import error_html
from model_diagram.options import OPTIONS, canonical_name, parse_options
from model_diagram.pipeline import Pipeline
from model_diagram.sphinx_ext import page_defaults

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
_HEAD = re.compile(r"^\.\. model-diagram::\s+(?P<factory>\S+)\s*$")
_OPTION = re.compile(r"^ {3}:(?P<name>[\w-]+):(?: (?P<value>.*))?$")


# -- a collapsible block


class details(nodes.General, nodes.Element):  # noqa: N801 -- docutils node naming
    """``<details>`` in HTML; its children alone elsewhere."""


def visit_details_html(self: Any, node: details) -> None:
    summary = self.encode(node["summary"])
    self.body.append(f'<details class="docs-details"><summary>{summary}</summary>')


def depart_details_html(self: Any, node: details) -> None:
    self.body.append("</details>")


def visit_passthrough(self: Any, node: details) -> None:
    """Other builders show the content as if the block were open."""


class Details(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self) -> list[nodes.Node]:
        node = details(summary=self.arguments[0])
        self.set_source_info(node)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


# -- the MkDocs twin of an rST example


def split_source(lines: list[str]) -> tuple[str, dict[str, str | None], str]:
    """``.. model-diagram::`` source -> factory, raw option strings, caption text."""
    match = _HEAD.match(lines[0]) if lines else None
    if match is None:
        raise ValueError("the example must start with '.. model-diagram:: FACTORY'")
    options: dict[str, str | None] = {}
    rest = lines[1:]
    while rest and (found := _OPTION.match(rest[0])):
        options[found["name"]] = found["value"]
        rest = rest[1:]
    caption = " ".join(line.strip() for line in rest if line.strip())
    return match["factory"], options, caption


def yaml_scalar(text: str) -> str:
    """A string as a one-line YAML scalar, quoted only when YAML needs it."""
    dumped = yaml.safe_dump(text, width=10_000).strip()
    return dumped.removesuffix("\n...").strip()


def mkdocs_block(factory: str, options: dict[str, str | None], caption: str) -> str:
    """The same diagram as a MkDocs fenced block (YAML body)."""
    body = [f"factory: {factory}"]
    for name, raw in options.items():
        spec = OPTIONS[canonical_name(name)]
        if raw is None or not raw.strip():
            value = "true"
        elif spec.structured:
            value = raw.strip()  # rST option values are YAML flow already
        else:
            value = yaml_scalar(raw.strip())
        body.append(f"{spec.name}: {value}")
    if caption:
        body.append(f"caption: {yaml_scalar(caption)}")
    return "```model-diagram\n" + "\n".join(body) + "\n```"


def same_options(factory: str, options: dict[str, str | None], caption: str, block: str) -> bool:
    """Both spellings must give the same validated options (the schema decides)."""
    rst = {"factory": factory, **options}
    if caption:
        rst["caption"] = caption
    yaml_body = block.split("\n", 1)[1].rsplit("\n", 1)[0]
    values = yaml.safe_load(yaml_body)
    return parse_options(rst, strings=True) == parse_options(values)


class ExampleDiagram(SphinxDirective):
    """Source (rST and MkDocs) next to the diagram it builds."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "expect-error": directives.flag,
        "no-mkdocs": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        lines = list(self.content)
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines)
        box = nodes.container(classes=["example-diagram"])
        self.set_source_info(box)

        source = nodes.container(classes=["example-source"])
        source += self.label("Source")
        code = nodes.literal_block(text, text, language="rst")
        self.set_source_info(code)
        source += code
        if "no-mkdocs" not in self.options:
            twin = self.mkdocs_twin(lines)
            if twin is not None:
                source += twin
        box += source

        result = nodes.container(classes=["example-result"])
        result += self.label("Result")
        run = list(lines)
        if "expect-error" in self.options:
            run[0] = run[0].replace(".. model-diagram::", ".. error-example::", 1)
        self.state.nested_parse(
            StringList(run, self.get_source_info()[0]), self.content_offset, result
        )
        box += result
        return [box]

    def label(self, text: str) -> nodes.paragraph:
        return nodes.paragraph(text, text, classes=["example-label"])

    def mkdocs_twin(self, lines: list[str]) -> details | None:
        try:
            factory, options, caption = split_source(lines)
            block = mkdocs_block(factory, options, caption)
            equal = same_options(factory, options, caption, block)
        except (ValueError, DiagramError, yaml.YAMLError) as exc:
            if "expect-error" in self.options:
                return None  # a deliberately broken example may not translate
            logger.warning("cannot derive the MkDocs block: %s", exc, location=self.get_location())
            return None
        if not equal:
            logger.warning(
                "the derived MkDocs block parses to other options than the rST source",
                location=self.get_location(),
            )
            return None
        node = details(summary="The same diagram in MkDocs (Markdown)")
        code = nodes.literal_block(block, block, language="markdown")
        self.set_source_info(code)
        node += code
        return node


# -- an example that is meant to fail


class AnyOption(dict):  # type: ignore[type-arg]
    """Take any option, so a misspelt one reaches the schema, as in the real directive."""

    def __missing__(self, key: str) -> Any:
        return directives.unchanged


def shorten_paths(text: str) -> str:
    """Paths of the build machine's checkout, shown relative to the repository."""
    return text.replace(f"{REPO}/", "")


class ErrorExample(SphinxDirective):
    """Run a diagram that must fail; show the placeholder or the warning text."""

    required_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = AnyOption(
        {name: directives.unchanged for name in OPTIONS if name != "factory"}
        | {"show": lambda arg: directives.choice(arg, ("placeholder", "message"))}
    )

    def run(self) -> list[nodes.Node]:
        factory = self.arguments[0]
        show = self.options.pop("show", "placeholder")
        error = self.failure(factory)
        if error is None:
            logger.warning(
                "error-example: %s drew a diagram, but this example must fail",
                factory,
                location=self.get_location(),
            )
            return []
        error.message = shorten_paths(error.message)
        if show == "message":
            where = "models.rst:12: WARNING:"
            text = f"{where} {error_text(error, factory=factory)}"
            code = nodes.literal_block(text, text, language="none", classes=["error-message"])
            self.set_source_info(code)
            return [code]
        html = nodes.raw("", error_html(error, factory), format="html")
        fallback = addnodes.only(expr="not html")
        message = f"model-diagram: no diagram for {factory} ({error.kind} error)\n{error.message}"
        fallback += nodes.literal_block(message, message)
        return [html, fallback]

    def failure(self, factory: str) -> DiagramError | None:
        values: dict[str, Any] = {"factory": factory, **self.options}
        if self.content:
            values["caption"] = " ".join(line.strip() for line in self.content if line.strip())
        try:
            options = parse_options(values, strings=True, defaults=page_defaults(self.config))
            pipeline = Pipeline(self.config.model_diagram_cache_dir)
            result = pipeline.diagram(options)
            if options.format != "svg":
                pipeline.render_graph(options, result.graph, options.format, [])
        except DiagramError as exc:
            return exc
        return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(
        details,
        html=(visit_details_html, depart_details_html),
        latex=(visit_passthrough, visit_passthrough),
        text=(visit_passthrough, visit_passthrough),
        man=(visit_passthrough, visit_passthrough),
        texinfo=(visit_passthrough, visit_passthrough),
    )
    app.add_directive("details", Details)
    app.add_directive("example-diagram", ExampleDiagram)
    app.add_directive("error-example", ErrorExample)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
