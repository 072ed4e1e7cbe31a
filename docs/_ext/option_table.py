"""Reference tables generated from the code, so no table is written by hand twice.

Directives:

``.. option-table::``
    Every diagram option from :data:`model_diagram.options.OPTIONS`: name,
    type, default, stage, help and an example (``name: value``, as in a MkDocs
    block). ``:stage: trace`` (or ``render``, ``page``) shows one stage only,
    without the stage column. Each row is a target for the
    ``:diagram-option:`depth``` role.
``.. sphinx-config-table::``
    The ``model_diagram_*`` configuration values as the extension registered
    them (name, default, types, what a change rebuilds). The content is a field
    list of descriptions, ``:model_diagram_defaults: ...``; a value that is also
    a diagram option (engine, timeout) may omit it and gets the option's help.
    Rows are targets for Sphinx's ``:confval:`` role.
``.. mkdocs-config-table::``
    The keys of the MkDocs plugin's ``ModelDiagramConfig``, described the same
    way; rows are targets for ``:mkdocs-key:`cache_dir```.
``.. dtype-table::``
    The tensor-spec dtype spellings from :data:`model_diagram.inputs.DTYPES`.
``.. palette-table::``
    The theme's CSS variables from :data:`model_diagram.theme.PALETTE` with
    their light and dark values, and the WCAG contrast of each text colour on
    each fill in both palettes (:data:`model_diagram.theme.TEXT_ON`).

A description for a key the code no longer has, or a key without one, is a
warning, so ``-W`` catches the drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from model_diagram.options import OPTIONS, OptionSpec

logger = logging.getLogger(__name__)

PREFIX = "model_diagram_"
STAGES = ("trace", "render", "page")
#: what changing a Sphinx config value costs, in the words of ``add_config_value``'s rebuild
REBUILD = {
    "env": "re-reads every page",
    "html": "rewrites the HTML",
    "": "nothing is rebuilt",
}


# -- helpers


def show(value: Any) -> str:
    """A default as a reader would type it in YAML/rST (``true``, ``[]``, ``120``)."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def inline(text: str) -> list[nodes.Node]:
    """The schema's help text: ```code``` spans become literals, the rest stays text."""
    out: list[nodes.Node] = []
    for index, part in enumerate(re.split(r"`([^`]+)`", text)):
        if index % 2:
            out.append(nodes.literal(part, part))
        elif part:
            out.append(nodes.Text(part))
    return out


def cell(*content: nodes.Node | str) -> nodes.entry:
    para = nodes.paragraph()
    for item in content:
        para += nodes.Text(item) if isinstance(item, str) else item
    return nodes.entry("", para)


def literal(text: str) -> nodes.literal:
    return nodes.literal(text, text)


def build_table(
    headers: list[str], widths: list[int], rows: Iterable[nodes.row], classes: list[str]
) -> nodes.table:
    table = nodes.table(classes=["generated-table", *classes])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *(cell(h) for h in headers))
    group += head
    body = nodes.tbody()
    body.extend(rows)
    group += body
    return table


def depends_on(directive: SphinxDirective, module: Any) -> None:
    """Re-read the page on incremental builds when the module the table comes from changes."""
    directive.env.note_dependency(str(Path(module.__file__).resolve()))


class TargetTable(SphinxDirective):
    """Shared parts: descriptions from a field list, and rows that are std-domain targets."""

    objtype: ClassVar[str] = ""

    def descriptions(self) -> dict[str, nodes.Element]:
        """The content's field list: field name -> its body (parsed rST)."""
        if not self.content:
            return {}
        holder = nodes.Element()
        self.state.nested_parse(self.content, self.content_offset, holder)
        found: dict[str, nodes.Element] = {}
        for field_list in holder.findall(nodes.field_list):
            for field in field_list.children:
                name = field[0].astext().strip()
                found[name] = field[1]
        return found

    def check(self, described: Iterable[str], real: Iterable[str]) -> None:
        stale = sorted(set(described) - set(real))
        if stale:
            logger.warning(
                "%s describes %s, which the code does not declare",
                self.name,
                ", ".join(stale),
                location=self.get_location(),
            )

    def target_row(self, name: str, node_id: str, cells: list[nodes.entry]) -> nodes.row:
        """A table row whose first cell carries ``node_id`` and is a std-domain object."""
        first_para = cells[0][0]
        first_para["ids"].append(node_id)
        std = self.env.domains.standard_domain
        std.note_object(self.objtype, name, node_id, location=(self.env.docname, self.lineno))
        return nodes.row("", *cells)


# -- the diagram options


class OptionTable(TargetTable):
    """Every option of the schema, in declaration order (or one stage of them)."""

    objtype = "diagram-option"
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "stage": lambda arg: directives.choice(arg, STAGES),
    }

    def run(self) -> list[nodes.Node]:
        from model_diagram import options

        depends_on(self, options)
        stage = self.options.get("stage")
        specs = [s for s in OPTIONS.values() if stage is None or s.stage == stage]
        # one stage per table: its heading names the stage, so the column would repeat it
        headers = ["Option", "Type", "Default", "Stage", "What it does"]
        widths = [18, 16, 10, 8, 48]
        if stage is not None:
            del headers[3], widths[3]
        rows = [self.row(spec, with_stage=stage is None) for spec in specs]
        return [build_table(headers, widths, rows, ["option-table"])]

    def row(self, spec: OptionSpec, *, with_stage: bool) -> nodes.row:
        name = spec.name
        first = [literal(name)]
        if name == "factory":
            first.append(nodes.Text(" (the directive's argument)"))
        default = literal(show(spec.default)) if spec.default not in ("", None) else "(none)"
        cells = [cell(*first), cell(spec.type), cell(default)]
        if with_stage:
            cells.append(cell(spec.stage))
        help_para = nodes.paragraph("", "", *inline(spec.help))
        example = nodes.paragraph("", "Example: ", classes=["option-example"])
        example += literal(f"{name}: {spec.example}")
        cells.append(nodes.entry("", help_para, example))
        return self.target_row(name, f"diagram-option-{name}", cells)


# -- Sphinx configuration values


def _type_names(valid: Any) -> str:
    names = []
    for kind in sorted(valid or (), key=lambda t: getattr(t, "__name__", str(t))):
        label = getattr(kind, "__name__", str(kind))
        names.append("None" if label == "NoneType" else label)
    return " | ".join(names) or "any"


class SphinxConfigTable(TargetTable):
    """The ``model_diagram_*`` values registered by ``model_diagram.sphinx_ext.setup``."""

    objtype = "confval"
    has_content = True

    def run(self) -> list[nodes.Node]:
        from model_diagram import sphinx_ext

        depends_on(self, sphinx_ext)
        registered = {
            name: opt for name, opt in sorted(self.config.values.items()) if name.startswith(PREFIX)
        }
        described = self.descriptions()
        self.check(described, registered)
        rows = []
        for name, opt in registered.items():
            body = self.description_of(name, described)
            if body is None:
                continue
            cells = [
                cell(literal(name)),
                cell(literal(show(opt.default))),
                cell(_type_names(opt.valid_types)),
                cell(REBUILD.get(str(opt.rebuild), str(opt.rebuild))),
                nodes.entry("", *body.children),
            ]
            rows.append(self.target_row(name, f"confval-{name.replace('_', '-')}", cells))
        return [
            build_table(
                ["Name", "Default", "Type", "A change", "What it does"],
                [24, 10, 12, 12, 42],
                rows,
                ["config-table"],
            )
        ]

    def description_of(self, name: str, described: dict[str, nodes.Element]) -> Any:
        if name in described:
            return described[name]
        option = name.removeprefix(PREFIX).replace("_", "-")
        if option in OPTIONS:
            return schema_description(option)
        logger.warning(
            "%s: %s is registered but not described; add ':%s: ...' to the directive",
            self.name,
            name,
            name,
            location=self.get_location(),
        )
        return None


def schema_description(option: str) -> nodes.Element:
    """For a config key that is a diagram option: the option's help plus a cross-reference."""
    spec = OPTIONS[option]
    para = nodes.paragraph()
    para += nodes.Text("The site-wide default of the ")
    ref = addnodes.pending_xref(
        "",
        refdomain="std",
        reftype="diagram-option",
        reftarget=option,
        refexplicit=True,
        refwarn=True,
    )
    ref += literal(option)
    para += ref
    para += nodes.Text(f" option ({spec.type}): ")
    para.extend(inline(spec.help))
    holder = nodes.Element()
    holder += para
    return holder


# -- MkDocs plugin keys


def _mkdocs_type(option: Any) -> str:
    """A readable type for a ``mkdocs.config.config_options`` instance."""
    from mkdocs.config import config_options as c

    spec = getattr(option, "spec", None)
    if isinstance(spec, OptionSpec):
        return spec.type
    if isinstance(option, c.Optional):
        return _mkdocs_type(option.option) + " (optional)"
    if isinstance(option, c.Choice):
        return " | ".join(option.choices)
    if isinstance(option, c.ListOfItems):
        inner = _mkdocs_type(option.option_type)
        return f"list of {inner}s"
    if isinstance(option, c.Dir):
        return "path"
    if type(option).__name__ == "_Defaults":
        return "mapping of diagram options"
    return type(option).__name__


class MkDocsConfigTable(TargetTable):
    """The keys of ``model_diagram.mkdocs_plugin.ModelDiagramConfig``."""

    objtype = "mkdocs-key"
    has_content = True

    def run(self) -> list[nodes.Node]:
        from model_diagram import mkdocs_plugin
        from model_diagram.mkdocs_plugin import ModelDiagramConfig

        depends_on(self, mkdocs_plugin)

        schema = dict(ModelDiagramConfig._schema)  # MkDocs' declared keys
        described = self.descriptions()
        self.check(described, schema)
        rows = []
        for name, option in schema.items():
            if name in described:
                body: Any = described[name]
            elif name.replace("_", "-") in OPTIONS:
                body = schema_description(name.replace("_", "-"))
            else:
                logger.warning(
                    "%s: key %r is declared but not described",
                    self.name,
                    name,
                    location=self.get_location(),
                )
                continue
            cells = [
                cell(literal(name)),
                cell(literal(show(option.default))),
                cell(_mkdocs_type(option)),
                nodes.entry("", *body.children),
            ]
            rows.append(self.target_row(name, f"mkdocs-key-{name.replace('_', '-')}", cells))
        return [
            build_table(
                ["Key", "Default", "Type", "What it does"],
                [16, 18, 18, 48],
                rows,
                ["config-table"],
            )
        ]


# -- tensor-spec dtypes


class DtypeTable(SphinxDirective):
    """Which dtype spellings a tensor spec accepts, grouped by the torch dtype they mean."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from model_diagram import inputs
        from model_diagram.inputs import DTYPES

        depends_on(self, inputs)

        by_dtype: dict[str, list[str]] = {}
        for spelling, dtype in DTYPES.items():
            by_dtype.setdefault(dtype, []).append(spelling)
        rows = []
        for dtype, spellings in by_dtype.items():
            names: list[nodes.Node] = []
            for index, spelling in enumerate(spellings):
                if index:
                    names.append(nodes.Text(", "))
                names.append(literal(spelling))
            rows.append(nodes.row("", cell(*names), cell(literal(f"torch.{dtype}"))))
        return [build_table(["Write", "Gives"], [50, 50], rows, ["dtype-table"])]


# -- the theme's CSS variables


def swatch(color: str) -> list[nodes.Node]:
    """A colour chip (HTML only) followed by the hex value."""
    chip = nodes.raw("", f'<span class="swatch" style="background:{color}"></span>', format="html")
    return [chip, literal(color)]


class PaletteTable(SphinxDirective):
    """Every ``--model-diagram-*`` variable, light and dark, then the measured contrasts."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from model_diagram import theme
        from model_diagram.theme import PALETTE, TEXT_ON, contrast

        depends_on(self, theme)

        rows = [
            nodes.row("", cell(literal(var)), cell(*swatch(light)), cell(*swatch(dark)))
            for var, (light, dark) in PALETTE.items()
        ]
        colours = build_table(["Variable", "Light", "Dark"], [50, 25, 25], rows, ["palette-table"])
        checks = []
        for fill, texts in TEXT_ON.items():
            for text in texts:
                ratios = [f"{contrast(PALETTE[text][i], PALETTE[fill][i]):.1f}:1" for i in (0, 1)]
                checks.append(
                    nodes.row(
                        "",
                        cell(literal(text)),
                        cell(literal(fill)),
                        cell(ratios[0]),
                        cell(ratios[1]),
                    )
                )
        contrasts = build_table(
            ["Text", "on fill", "Light", "Dark"], [34, 34, 16, 16], checks, ["palette-table"]
        )
        return [colours, contrasts]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type(
        "diagram-option",
        "diagram-option",
        objname="diagram option",
        indextemplate="pair: %s; diagram option",
    )
    app.add_object_type(
        "mkdocs-key",
        "mkdocs-key",
        objname="MkDocs plugin key",
        indextemplate="pair: %s; MkDocs plugin key",
    )
    app.add_directive("option-table", OptionTable)
    app.add_directive("sphinx-config-table", SphinxConfigTable)
    app.add_directive("mkdocs-config-table", MkDocsConfigTable)
    app.add_directive("dtype-table", DtypeTable)
    app.add_directive("palette-table", PaletteTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
