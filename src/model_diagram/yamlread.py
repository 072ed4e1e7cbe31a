"""YAML text -> plain values, with every size bounded BEFORE anything is expanded.

Option values and MkDocs blocks are written by page authors, so a short text
must not cost unbounded time or memory: an alias bomb (anchors of anchors)
expands exponentially, a 5000-digit integer makes Python's ``int()`` raise,
and deep nesting exhausts the recursion of the composer. The parser's event
stream is read first (iteratively, nothing built yet) to measure the size and
depth the document would have once expanded; only a document within the
limits is composed and constructed, with safe types only. Every problem is an
:class:`YamlError` (an ``OptionError``); nothing else escapes.

Aliases that refer to their own anchor (``&a [*a]``) are built as the cyclic
structure YAML describes, cheaply; the option schema's size check then names
the problem per option (see :func:`model_diagram.inputs.check_size`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .errors import OptionError

#: longest text read as YAML (a diagram's options are a few hundred characters)
MAX_TEXT = 200_000
#: most nodes a document may have once every alias is expanded
MAX_NODES = 200_000
#: deepest nesting once expanded (the composer recurses per level)
MAX_DEPTH = 100
#: longest integer (Python refuses to convert more than 4300 digits)
MAX_INT_DIGITS = 100


#: one tensor spec as typed in an option, ``float[2,3,32,32]`` or ``long[2,16](0,1000)``
_SPEC = r"[A-Za-z][A-Za-z0-9_]*\[[0-9, ]*\](?:\([0-9, +\-.eE]*\))?"
_BLANK = r"[ \t\r\n]*"
_ENTRY = rf"([A-Za-z_][A-Za-z0-9_]*){_BLANK}:[ \t\r\n]+(?:\"({_SPEC})\"|'({_SPEC})')"
_ENTRIES = re.compile(rf"{_BLANK}{_ENTRY}{_BLANK}(,|\Z)")
_ONE_SPEC = re.compile(_SPEC)
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})\.[0-9]{1,17}")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
#: YAML 1.1's booleans, exactly as it spells them
_BOOLEANS = {
    word: value
    for words, value in (("yes true on", True), ("no false off", False))
    for lower in words.split()
    for word in (lower, lower.title(), lower.upper())
}
#: words YAML 1.1 reads as booleans or null in some spelling (compared lower-cased)
_RESOLVED = frozenset({*map(str.lower, _BOOLEANS), "null"})
_NOT_SIMPLE = object()


def _simple(text: str) -> Any:
    """What YAML reads from the options most pages have, read without the parser: a
    number, a boolean, a plain word, a tensor spec, and ``{ids: "long[2,16](0,1000)",
    ...}`` (dict and keyword inputs of quoted tensor specs); ``_NOT_SIMPLE`` for
    anything else. A build whose options are all like this never imports PyYAML."""
    stripped = text.strip()
    if stripped in _BOOLEANS:
        return _BOOLEANS[stripped]
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    if _WORD.fullmatch(stripped):
        return _NOT_SIMPLE if stripped.lower() in _RESOLVED else stripped
    if _ONE_SPEC.fullmatch(stripped):
        return stripped
    return _flow_specs(stripped)


def _flow_specs(text: str) -> Any:
    """``{ids: "long[2,16](0,1000)", mask: 'long[2,16]'}`` as a dict, as YAML reads it, or
    ``_NOT_SIMPLE`` when the text is anything else or the parser must decide."""
    if len(text) < 2 or text[0] != "{" or text[-1] != "}":
        return _NOT_SIMPLE
    body, found, at = text[1:-1], {}, 0
    while at < len(body):
        match = _ENTRIES.match(body, at)
        if match is None:
            return _NOT_SIMPLE
        key, value = match[1], match[2] if match[2] is not None else match[3]
        trailing = match[4] == "," and match.end() == len(body)
        if key.lower() in _RESOLVED or key in found or trailing:
            return _NOT_SIMPLE  # a boolean or null key, a repeated key, a trailing comma
        found[key] = value
        at = match.end()
    return found or _NOT_SIMPLE


class YamlError(OptionError):
    """A problem with a YAML document; ``line`` is 0-based within it when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@cache
def _loaders() -> tuple[Any, Any]:
    """(the event parser, the bounded safe loader), built when first needed: a build
    whose options hold no YAML never imports PyYAML."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when present

    class Loader(base):  # type: ignore[misc]  # PyYAML has no stubs for the C loader
        """Safe types only; integers bounded in length before conversion."""

    def bounded_int(loader: Any, node: Any) -> Any:
        digits = sum(c.isalnum() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise YamlError(
                f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS} digits)"
            )
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    Loader.add_constructor("tag:yaml.org,2002:int", bounded_int)
    return base, Loader


def _measure(text: str) -> None:
    """Walk the event stream and refuse a document too large or deep once expanded."""
    import yaml

    collections: list[list[Any]] = []  # open ones: [expanded nodes, depth below, anchor]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, depth)
    total = 0
    for event in yaml.parse(text, Loader=_loaders()[0]):
        if isinstance(event, yaml.CollectionStartEvent):
            collections.append([1, 0, event.anchor])
            total += 1
            node = (0, 0)
        elif isinstance(event, yaml.CollectionEndEvent):
            nodes, below, anchor = collections.pop()
            node = (nodes, below + 1)
            if anchor:
                anchors[anchor] = node
        elif isinstance(event, yaml.AliasEvent):
            # not known yet: it names a collection still open, so it refers to itself
            node = anchors.get(event.anchor, (1, 0))
            total += node[0]
        elif isinstance(event, yaml.ScalarEvent):
            node = (1, 0)
            total += 1
            if event.anchor:
                anchors[event.anchor] = node
        else:
            continue
        if collections and not isinstance(event, yaml.CollectionStartEvent):
            parent = collections[-1]
            parent[0] += node[0]
            parent[1] = max(parent[1], node[1])
        if len(collections) + node[1] > MAX_DEPTH:
            raise YamlError(f"it is nested more than {MAX_DEPTH} levels deep")
        if total > MAX_NODES:
            raise YamlError(
                f"it has more than {MAX_NODES} items once its aliases are expanded "
                "(YAML aliases repeat their anchor's content)"
            )


def read_yaml(text: str) -> Any:
    """Parse one YAML document safely; :class:`YamlError` says what is wrong with it.

    The message is a bare problem (``"it is nested ..."``, ``"... at line 3"``):
    callers say what the text was (an option value, a block).
    """
    if len(text) > MAX_TEXT:
        raise YamlError(f"it is {len(text)} characters long (at most {MAX_TEXT})")
    simple = _simple(text)
    if simple is not _NOT_SIMPLE:
        return simple
    import yaml

    try:
        _measure(text)
        loader = _loaders()[1](text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        raise YamlError(problem, mark.line if mark is not None else None) from None
    except RecursionError:
        raise YamlError(f"it is nested more than {MAX_DEPTH} levels deep") from None
    except Exception as exc:  # a value the safe constructor refuses (a bad date, ...)
        raise YamlError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
