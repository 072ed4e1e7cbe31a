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
    import yaml

    if len(text) > MAX_TEXT:
        raise YamlError(f"it is {len(text)} characters long (at most {MAX_TEXT})")
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
