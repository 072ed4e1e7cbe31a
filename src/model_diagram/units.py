"""Printed lengths (``print-width: 3.3in``): the one grammar, used by the schema and styles."""

from __future__ import annotations

import re

#: inches per unit
PRINT_UNITS = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "pt": 1 / 72, "pc": 1 / 6}
PRINT_LENGTH = re.compile(r"(\d+(?:\.\d+)?)(in|cm|mm|pt|pc)")


def print_inches(text: str) -> float:
    """Inches of a printed length such as ``3.3in`` or ``85mm``; ValueError otherwise."""
    match = PRINT_LENGTH.fullmatch(text.strip().replace(" ", "").lower())
    if not match:
        raise ValueError("must be a printed width such as 3.3in, 17cm, 85mm or 240pt")
    return float(match[1]) * PRINT_UNITS[match[2]]
