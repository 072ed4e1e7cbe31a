"""Tensor-spec grammar and the example inputs built from it.

A spec is ``dtype[d0,d1,...]`` with an optional integer range ``(low,high)``:
``float[2,3,64,64]``, ``long[2,10](0,1000)``, ``bool[2,16]``. Specs may be
nested in dicts, lists and tuples; non-string scalars (numbers, booleans,
``None``) pass through unchanged. Parsing is a small hand-written scanner and
never evaluates anything; building tensors (``materialize``) is the only part
that imports torch and runs in the worker.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import InputError

#: accepted dtype spellings -> torch dtype attribute name
DTYPES: dict[str, str] = {
    "float": "float32",
    "float32": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "float64": "float64",
    "double": "float64",
    "long": "int64",
    "int64": "int64",
    "int": "int32",
    "int32": "int32",
    "bool": "bool",
}
_INTEGER = {"int64", "int32"}
#: refuse to materialise more than this on a real device (meta costs nothing)
MAX_REAL_BYTES = 2 * 1024**3
#: torch sizes are int64: a tensor cannot have more elements, even on the meta device
MAX_NUMEL = 2**63 - 1
#: YAML aliases can make a short text expand exponentially or refer to itself:
#: bound the nesting and the number of items of an input structure
MAX_DEPTH = 32
MAX_ITEMS = 10_000
#: longest spec string (a spec with 30-digit dims fits easily)
MAX_SPEC = 1_000

_SPEC = re.compile(
    r"""^\s*(?P<dtype>[A-Za-z][A-Za-z0-9_]*)\s*
        \[(?P<dims>[^\]]*)\]\s*
        (?:\((?P<range>[^)]*)\))?\s*$""",
    re.VERBOSE,
)
#: at most 30 digits: no dim or bound needs more, and int() refuses over 4300
_INT = re.compile(r"^\s*[+-]?\d{1,30}\s*$")


@dataclass(frozen=True)
class TensorSpec:
    """One example tensor: dtype, shape and, for integer dtypes, a value range."""

    dtype: str
    shape: tuple[int, ...]
    low: int = 0
    high: int = 2

    def __str__(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        rng = f"({self.low},{self.high})" if self.dtype in _INTEGER else ""
        short = {"float32": "float", "int64": "long", "int32": "int"}.get(self.dtype, self.dtype)
        return f"{short}[{dims}]{rng}"

    @property
    def nbytes(self) -> int:
        size = {"float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "bool": 1}.get(self.dtype, 4)
        for dim in self.shape:
            size *= dim
        return size


def parse_spec(text: str) -> TensorSpec:
    """Parse one spec string; the error names the spec and the accepted grammar."""
    if len(text) > MAX_SPEC:
        raise InputError(
            f"a tensor spec of {len(text)} characters is too long (at most {MAX_SPEC}): "
            f"{text[:60]!r}..."
        )
    match = _SPEC.match(text)
    if match is None:
        raise InputError(
            f"malformed tensor spec {text!r}: expected dtype[dims] such as "
            "'float[2,3,64,64]' or 'long[2,10](0,1000)'"
        )
    dtype_name = match["dtype"].lower()
    dtype = DTYPES.get(dtype_name)
    if dtype is None:
        raise InputError(
            f"unknown dtype {match['dtype']!r} in tensor spec {text!r}; "
            f"accepted: {', '.join(sorted(DTYPES))}"
        )
    dims_text = match["dims"].strip()
    parts = dims_text.split(",") if dims_text else []
    if any(not _INT.match(p) for p in parts):
        raise InputError(f"dims in tensor spec {text!r} must be integers, e.g. float[2,3]")
    shape = tuple(int(p) for p in parts)
    if any(d <= 0 for d in shape):
        raise InputError(f"dims in tensor spec {text!r} must be positive, got {list(shape)}")
    if math.prod(shape) > MAX_NUMEL:
        raise InputError(
            f"tensor spec {text!r} has more elements than any tensor can (2**63 - 1); "
            "use smaller dims"
        )
    low, high = 0, 2
    if match["range"] is not None:
        if dtype not in _INTEGER:
            raise InputError(
                f"a value range is only allowed for integer dtypes (long, int): {text!r}"
            )
        bounds = match["range"].split(",")
        if len(bounds) != 2 or not all(_INT.match(b) for b in bounds):
            raise InputError(f"range in tensor spec {text!r} must be (low,high) integers")
        low, high = int(bounds[0]), int(bounds[1])
        if high <= low:
            raise InputError(f"range in tensor spec {text!r} is empty: high must exceed low")
    return TensorSpec(dtype, shape, low, high)


def parse_structure(value: Any) -> Any:
    """Replace every spec string in a nested structure by a :class:`TensorSpec`.

    Dicts stay dicts, lists stay lists and tuples stay tuples, so a dict input
    reaches ``forward`` as one dict.
    """
    check_size(value, "input")
    return _parse(value)


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        return parse_spec(value)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InputError(f"input dict keys must be strings, got {list(value)!r}")
        return {k: _parse(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_parse(v) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise InputError(f"cannot use {value!r} as an input: give a tensor spec string or a dict/list")


def check_size(value: Any, what: str) -> None:
    """Refuse structures nested deeper than :data:`MAX_DEPTH` (a YAML alias that refers
    to itself never ends) or with more than :data:`MAX_ITEMS` items (aliases of aliases)."""
    items = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        items += 1
        if depth > MAX_DEPTH or items > MAX_ITEMS:
            problem = (
                f"nested more than {MAX_DEPTH} levels deep (does a YAML alias refer to itself?)"
                if depth > MAX_DEPTH
                else f"more than {MAX_ITEMS} items (YAML aliases repeat their anchor's content)"
            )
            raise InputError(f"the {what} structure is {problem}")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)


def specs_in(value: Any) -> list[TensorSpec]:
    """All specs in a parsed structure, in order."""
    if isinstance(value, TensorSpec):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in specs_in(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in specs_in(v)]
    return []


def materialize(value: Any, device: str, seed: int = 0) -> Any:
    """Build tensors for a parsed structure on ``device`` (torch imported here).

    Values are seeded so repeated builds trace identical graphs. On the meta
    device only shapes exist, so huge dims cost nothing; elsewhere inputs larger
    than :data:`MAX_REAL_BYTES` are refused instead of exhausting memory.
    """
    import torch

    total = sum(s.nbytes for s in specs_in(value))
    if device != "meta" and total > MAX_REAL_BYTES:
        raise InputError(
            f"the inputs need {total / 1024**3:.1f} GiB on {device}; "
            "use smaller dims or device: meta"
        )
    generator = torch.Generator().manual_seed(seed)

    def build(item: Any) -> Any:
        if isinstance(item, TensorSpec):
            dtype = getattr(torch, item.dtype)
            if device == "meta":
                return torch.empty(item.shape, dtype=dtype, device="meta")
            if item.dtype in _INTEGER:
                t = torch.randint(item.low, item.high, item.shape, generator=generator)
            elif item.dtype == "bool":
                t = torch.rand(item.shape, generator=generator) > 0.5
            else:
                t = torch.randn(item.shape, generator=generator)
            return t.to(dtype=dtype, device=device)
        if isinstance(item, dict):
            return {k: build(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(build(v) for v in item)
        return item

    return build(value)
