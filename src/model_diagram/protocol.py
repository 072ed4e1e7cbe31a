"""The worker protocol's JSON: one object per line, whatever a model does to ``json``.

Models run in the worker and may patch the ``json`` module (``json.dumps = ...``,
``json.JSONEncoder.encode = ...``); the replies must not change with them. The
functions and methods used here are captured when this module is imported,
before any model code runs. Output is ASCII, so lone surrogates in names survive
the pipe as escapes (the pipeline replaces them; see :func:`model_diagram.sanitize.scrub`).
"""

from __future__ import annotations

import json
from typing import Any


class _Encoder(json.JSONEncoder):
    """Methods bound at import: a patched ``json.JSONEncoder`` is not used."""

    encode = json.JSONEncoder.encode
    iterencode = json.JSONEncoder.iterencode
    default = json.JSONEncoder.default


_ENCODER = _Encoder(ensure_ascii=True, separators=(",", ":"))
_DECODER = json.JSONDecoder()
_DECODE = json.JSONDecoder.decode


def dumps(value: Any) -> str:
    """One protocol line (without the newline)."""
    text: str = _ENCODER.encode(value)
    return text


def loads(line: str | bytes) -> Any:
    """One protocol line back; ``ValueError`` if it is not JSON (or not UTF-8)."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    return _DECODE(_DECODER, text)
