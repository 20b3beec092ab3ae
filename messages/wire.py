"""Strict cattrs structure hooks shared by the wire codecs (journal and feed).

The wire never coerces: "3" is not an int, 0.47 is not a price (a float would not be
exact), and an unknown enum value names the values it could have been.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

DECIMAL_SYNTAX = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
"""What ``str(Decimal)`` writes for a finite number; no spaces, underscores, NaN or Infinity."""


def describe_value(value: Any) -> str:
    """How an error message names a JSON value it did not expect."""
    kind = {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(
        type(value)
    )
    if kind is not None:
        return kind
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return repr(value)


def strict(expected: type, name: str) -> Callable[[Any, Any], Any]:
    """A hook that takes exactly ``expected`` (no bool for int, no number for str)."""

    def structure(value: Any, _type: Any) -> Any:
        if type(value) is not expected:
            raise TypeError(f"expected {name}, got {describe_value(value)}")
        return value

    return structure


def structure_decimal(value: Any, _type: Any) -> Decimal:
    """A Decimal from its exact string form only."""
    if type(value) is not str:
        raise TypeError(f'expected a decimal string like "0.47", got {describe_value(value)}')
    if not DECIMAL_SYNTAX.fullmatch(value):
        raise ValueError(f"not a decimal number: {value!r}")
    return Decimal(value)


def structure_enum(value: Any, enum_type: type[enum.Enum]) -> enum.Enum:
    """An enum member from its value, naming the allowed values when it is not one."""
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_type)
        raise ValueError(f"expected one of {allowed}, got {describe_value(value)}") from None
