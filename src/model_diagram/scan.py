"""Finds diagram blocks in page sources before a build: the ones the real parsers find.

Both front ends start the worker early, and Sphinx with ``-j`` traces the
misses before its readers fork, from what this scan finds. A block it misses
is traced later by a reader (with ``-j``, one more worker importing torch);
a block it invents is traced for nothing. So it follows the parsers' rules:

- reST: directives at any depth (``.. note::``, lists, block quotes), options
  over several lines, arguments on the next line; not in literal blocks
  (``::``), code-like directives or comments. Options are read like docutils'
  field lists (a value's lines joined with newlines, names lower-cased).
- MyST: backtick and colon fences (markdown-it, as MyST tokenizes), nested in
  other directives, ``:key:`` or ``---`` options read by MyST's own option
  reader; ``{eval-rst}`` content is read as reST.
- MkDocs: fences at the top level, and with SuperFences also in admonitions,
  tabs, lists and block quotes; not in indented code.

The scan never raises: a page it cannot read yields what it found before the
problem, and a block whose options do not parse is left to the parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from textwrap import dedent
from typing import Any, Literal

from .errors import DiagramError, OptionError
from .options import DiagramOptions, parse_options
from .yamlread import YamlError, read_yaml

NAME = "model-diagram"

Syntax = Literal["rst", "myst", "markdown", "superfences"]

#: directives whose content is not markup: a directive shown there is an example
LITERAL_DIRECTIVES = frozenset(
    {
        "code-block",
        "code",
        "sourcecode",
        "code-cell",
        "literalinclude",
        "highlight",
        "parsed-literal",
        "raw",
        "math",
        "csv-table",
        "graphviz",
        "graph",
        "digraph",
        "mermaid",
        "plantuml",
        "uml",
        "doctest",
        "testcode",
        "testoutput",
        "testsetup",
        "testcleanup",
        "ipython",
        "jupyter-execute",
        "jupyter-input",
        "jupyter-output",
        "plot",
        "productionlist",
        "program-output",
        "command-output",
        "code-tab",
        "prompt",
        "exec",
        "runblock",
        "autosummary",
        "toctree",
        "include",
        "index",
    }
)


@dataclass(frozen=True)
class Block:
    """One diagram block: where it starts and the option values the parser would pass.

    ``strings`` is true for reST and MyST (values are option text, as from a
    directive) and false for MkDocs (values are YAML). ``body`` is a MkDocs
    block's YAML text.
    """

    line: int
    values: Mapping[str, Any]
    strings: bool
    body: str = ""

    def options(self, defaults: Mapping[str, Any] | None = None) -> DiagramOptions | None:
        """The block's options, or ``None`` when they do not parse (the parser reports it)."""
        try:
            return parse_options(self.values, strings=self.strings, defaults=defaults)
        except (DiagramError, ValueError, TypeError, RecursionError, MemoryError):
            return None


def scan(text: str, syntax: Syntax, *, colon_fence: bool = True) -> list[Block]:
    """The diagram blocks of one page source, in order (see the module docstring)."""
    found: list[Block] = []
    try:
        if syntax == "rst":
            _scan_rst(text.splitlines(), 0, found)
        elif syntax == "myst":
            _scan_myst(text, 0, found, colon_fence=colon_fence)
        else:
            fences = markdown_fences(text.splitlines(), nested=syntax == "superfences")
            found.extend(_mkdocs_block(f) for f in fences if f.lang == NAME)
    except Exception:  # a pre-scan only saves time: the parser reports what is wrong
        pass
    return found


def diagrams(
    text: str,
    syntax: Syntax,
    defaults: Mapping[str, Any] | None = None,
    *,
    colon_fence: bool = True,
) -> Iterator[DiagramOptions]:
    """The options of every block of a page that parses; never raises."""
    for block in scan(text, syntax, colon_fence=colon_fence):
        options = block.options(defaults)
        if options is not None:
            yield options


# -- reST


_SIMPLENAME = r"(?:(?!_)\w)+(?:[-._+:](?:(?!_)\w)+)*"
_EXPLICIT = re.compile(r"^( *)\.\.(?: +(.*)|$)")
_DIRECTIVE = re.compile(rf"^({_SIMPLENAME})[ ]*::(?:[ ]+(.*)|$)")
_FIELD = re.compile(r"^:((?![: ])(?:[^:\\]|\\.|:(?![ `]|$))*(?<! )):(?: +(.*)|$)")
_LIST_MARKER = re.compile(r"^([-*+\u2022]|\d+[.)]|\(\d+\)|#[.)]|[a-zA-Z][.)]) +(?=\S)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, base: int) -> int:
    """The end of the lines after ``start`` that are blank or indented more than ``base``."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def _scan_rst(raw: list[str], offset: int, found: list[Block]) -> None:
    lines = [line.expandtabs(8).rstrip() for line in raw]
    para_indent: int | None = None  # indent of the paragraph being read, if any
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            para_indent = None
            i += 1
            continue
        indent = _indent(line)
        explicit = _EXPLICIT.match(line)
        if explicit and para_indent is None:
            rest = explicit[2] or ""
            directive = _DIRECTIVE.match(rest)
            end = _block_end(lines, i + 1, indent)
            if directive:
                name = directive[1].lower()
                if name == NAME:
                    block = _rst_directive(directive[2] or "", lines[i + 1 : end])
                    if block is not None:
                        found.append(Block(offset + i + 1, block, strings=True))
                    i = end  # its content is the caption: no diagrams there
                    continue
                if name in LITERAL_DIRECTIVES or name.split(":")[-1] in LITERAL_DIRECTIVES:
                    i = end
                    continue
                i += 1  # a container: its content is read as reST, line by line
                continue
            empty = not rest.strip()
            if rest.startswith("[") and not empty:
                i += 1  # a footnote or citation: its body is reST
                continue
            if empty and (i + 1 >= len(lines) or not lines[i + 1].strip()):
                i += 1  # an empty comment ends a construct and swallows nothing
                continue
            i = end  # a comment, target or substitution: nothing to read inside
            continue
        if para_indent is None:
            marker = _LIST_MARKER.match(line[indent:])
            para_indent = indent + (marker.end() if marker else 0)
        ends_literal = line.endswith("::") and (i + 1 >= len(lines) or not lines[i + 1].strip())
        i += 1
        if ends_literal:
            i = _block_end(lines, i, para_indent)
            para_indent = None


def _rst_directive(rest: str, following: list[str]) -> dict[str, str] | None:
    """Arguments and options as docutils' ``parse_directive_block`` reads them, or
    ``None`` when docutils would reject the directive block."""
    body = [line for line in following if line.strip()]
    cut = min((_indent(line) for line in body), default=0)
    block = [rest.strip(), *(line[cut:] for line in following)]
    if not block[0]:
        block = block[1:]
    while block and not block[-1].strip():
        block.pop()
    arg_end = next((n for n, line in enumerate(block) if not line.strip()), len(block))
    arg_block = block[:arg_end]
    opt_start = next((n for n, line in enumerate(arg_block) if _FIELD.match(line)), None)
    values: dict[str, str] = {}
    if opt_start is not None:
        options = _rst_fields(arg_block[opt_start:])
        if options is None:
            return None
        values.update(options)
        arg_block = arg_block[:opt_start]
    text = "\n".join(arg_block).strip()
    values = {"factory": text, **values} if text else values
    return values


def _rst_fields(lines: list[str]) -> dict[str, str] | None:
    """A directive's option block (a field list) -> {name: text}; ``None`` if invalid."""
    fields: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _FIELD.match(line)
        if match:
            fields.append((match[1], [match[2] or ""]))
        elif fields and _indent(line) > 0:
            fields[-1][1].append(line)
        else:
            return None  # not a field list: docutils rejects the option block
    out: dict[str, str] = {}
    for name, (first, *more) in fields:
        if len(name.split()) != 1 or name.lower() in out:
            return None
        if more:
            cut = min(_indent(line) for line in more)
            if any(_indent(line) != cut for line in more):
                return None  # a block quote or a nested block: not one paragraph
        out[name.lower()] = "\n".join([first.strip(), *(line.strip() for line in more)]).strip()
    return out


# -- MyST


_MYST_HEAD = re.compile(r"^\{([^\s{}]+)\}[ \t]*(.*)$")


def _scan_myst(text: str, offset: int, found: list[Block], *, colon_fence: bool) -> None:
    try:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.front_matter import front_matter_plugin
        from mdit_py_plugins.myst_blocks import myst_block_plugin
    except ImportError:  # MyST is not installed: no page is MyST
        return
    md = MarkdownIt("commonmark").use(front_matter_plugin).use(myst_block_plugin)
    if colon_fence:
        from mdit_py_plugins.colon_fence import colon_fence_plugin

        md.use(colon_fence_plugin)
    for token in md.parse(text):
        if token.type not in {"fence", "colon_fence"} or token.map is None:
            continue
        head = _MYST_HEAD.match(token.info.strip())
        if head is None:
            continue  # a code block
        name, first_line = head[1].lower(), head[2]
        start = offset + token.map[0]
        parsed = _myst_options(token.content)
        if parsed is None:
            continue
        options, body, skipped = parsed
        if name == NAME:
            arguments = first_line.strip()
            found.append(
                Block(start + 1, {"factory": arguments, **options} if arguments else options, True)
            )
        elif name == "eval-rst":
            _scan_rst(token.content.splitlines(), start + 1, found)
        elif name not in LITERAL_DIRECTIVES:
            _scan_myst(body, start + 1 + skipped, found, colon_fence=colon_fence)


def _myst_options(content: str) -> tuple[dict[str, str], str, int] | None:
    """(options, body, lines before the body), read as MyST-Parser reads a directive."""
    try:
        from myst_parser.parsers.options import TokenizeError, options_to_tokens
    except ImportError:
        return None
    block: str | None = None
    skipped = 0
    body = content
    if content.startswith("---"):
        rows = content.splitlines()[1:]
        for index, row in enumerate(rows):
            if row.startswith("---"):
                remainder = row.lstrip("-").removeprefix(" ")
                block = "\n".join(rows[:index])
                body = "\n".join(
                    [remainder, *rows[index + 1 :]] if remainder else rows[index + 1 :]
                )
                skipped = index + 1 if remainder else index + 2
                break
        else:
            block, body, skipped = "\n".join(rows), "", len(content.splitlines())
        block = dedent(block)
    elif content.lstrip().startswith(":"):
        rows = content.splitlines()
        taken = []
        while rows and rows[0].lstrip().startswith(":") and not rows[0].lstrip().startswith(":::"):
            taken.append(rows.pop(0).lstrip()[1:])
        block, body, skipped = "\n".join(taken), "\n".join(rows), len(taken)
    options: dict[str, str] = {}
    if block is not None:
        try:
            tokens, _state = options_to_tokens(block)
        except TokenizeError:
            tokens = []  # MyST warns and runs the directive without options
        for key, value in tokens:
            options[str(key.value).lower()] = str(value.value) if value is not None else ""
    return options, body, skipped


# -- Markdown (MkDocs)


_OPEN = re.compile(
    r"^(?P<prefix>(?:[ \t]*>)*[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$"
)
_LANG = re.compile(r"\{?[ \t]*\.?(?P<lang>[\w+#.-]+)")
#: blocks whose content is indented by four: admonitions, details, content tabs, list items
_CONTAINER = re.compile(r"^(?:!!!|\?\?\?\+?|===\+?)[ \t]|^(?:[-*+]|\d+[.)])(?:[ \t]|$)")


@dataclass(frozen=True)
class Fence:
    """One closed fenced block: 0-based line span, its prefix (indent/quotes) and body."""

    start: int
    end: int
    prefix: str
    lang: str
    body: list[str] = field(default_factory=list)


def _strip_quotes(line: str) -> tuple[str, str]:
    """(the ``>`` prefix with its spaces, the rest)."""
    match = re.match(r"^(?:[ \t]*>[ ]?)*", line)
    cut = match.end() if match else 0
    return line[:cut], line[cut:]


def markdown_fences(lines: list[str], *, nested: bool = True) -> Iterator[Fence]:
    """Fences in document order; fences shown inside other fences are body, not blocks,
    and fences in an HTML comment (``<!--`` opening a block) are switched off.

    ``nested=False`` (plain Markdown) keeps only fences at the top level;
    ``nested=True`` (SuperFences) also those in block quotes and indented
    containers, but not in indented code.
    """
    open_at: int | None = None
    opener = prefix = lang = ""
    containers: list[int] = []  # content indents of the open containers
    blank = True
    in_comment = False  # inside an HTML comment: what it holds is switched off, not shown
    for number, line in enumerate(lines):
        if in_comment:
            in_comment = "-->" not in line
            continue
        if open_at is None:
            rest = _strip_quotes(line.expandtabs(4))[1]
            indent = _indent(rest)
            if rest.strip():
                while containers and indent < containers[-1]:
                    containers.pop()
            inner = containers[-1] if containers else 0
            match = _OPEN.match(line)
            fence_ok = match and not (match["fence"][0] == "`" and "`" in match["info"])
            in_code = blank and indent - inner >= 4
            if not in_code and rest[indent:].startswith("<!--"):
                in_comment = "-->" not in rest[indent + 4 :]
                blank = False
                continue
            if fence_ok and match and not in_code and (nested or match["prefix"] == ""):
                open_at, opener, prefix = number, match["fence"], match["prefix"]
                found = _LANG.match(match["info"])
                lang = found["lang"] if found else ""
            elif rest.strip() and not in_code and _CONTAINER.match(rest[indent:]):
                containers.append(indent + 4)
            if rest.strip() and not in_code:
                blank = False
            elif not rest.strip():
                blank = True
            continue
        stripped = re.sub(r"^(?:[ \t]*>)*[ \t]*", "", line).rstrip()
        if stripped and set(stripped) == {opener[0]} and len(stripped) >= len(opener):
            yield Fence(open_at, number, prefix, lang, lines[open_at + 1 : number])
            open_at = None
            blank = False


def body_key(lines: list[str]) -> tuple[str, ...]:
    """Compare block bodies regardless of the indentation or quoting they are nested in."""
    out = []
    for line in lines:
        text = re.sub(r"^(?:[ \t]*>)*", "", line).strip()
        if text:
            out.append(text)
    return tuple(out)


def read_block(source: str, line: int | None) -> dict[str, Any]:
    """A MkDocs block body as an option mapping; YAML problems name the file line."""
    try:
        values = read_yaml(source)  # safe types only, sizes bounded before expanding
    except YamlError as exc:
        at = ""
        if exc.line is not None:
            at = f" at line {line + 1 + exc.line}" if line else f" at body line {exc.line + 1}"
        raise OptionError(f"the block is not valid YAML{at}: {exc.message}") from None
    if values is None:
        raise OptionError("the block is empty: give at least 'factory: package.module:attr'")
    if not isinstance(values, Mapping):
        raise OptionError(
            f"the block must be a YAML mapping of options, not a {type(values).__name__}"
        )
    return dict(values)


def _mkdocs_block(fence: Fence) -> Block:
    # as Markdown hands the body to the fence: quotes and the nesting indent removed
    body = dedent("\n".join(_strip_quotes(line)[1] for line in fence.body))
    try:
        values = read_block(body, None)
    except Exception:  # the block itself reports its problem when it is rendered
        values = {}
    return Block(fence.start + 1, values, strings=False, body=body)


__all__ = ["Block", "Fence", "body_key", "diagrams", "markdown_fences", "read_block", "scan"]
