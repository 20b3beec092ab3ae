"""Risk limits from a TOML file and from command-line flags (flags win).

The file's ``[risk]`` table names any of ``messages.risk.RiskLimits``' fields; numbers are
read as Decimals (never floats), so ``max_order_notional = 2500.10`` is exact::

    [risk]
    max_order_size = 100
    max_position = 500
    daily_loss_limit = "250.00"
    stop_loss = 40
"""

from __future__ import annotations

import argparse
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from messages.risk import RiskLimits

FIELDS = tuple(field.name for field in attrs.fields(RiskLimits))


class RiskConfigError(ValueError):
    """A limits file or flag that cannot be used; the message says which and why."""


def load_limits(path: Path) -> RiskLimits:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle, parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RiskConfigError(f"{path}: {error}") from error
    table = document.get("risk", {})
    if not isinstance(table, dict):
        raise RiskConfigError(f"{path}: [risk] must be a table")
    return limits_from(table, where=str(path))


def limits_from(
    values: dict[str, Any], *, where: str, base: RiskLimits | None = None
) -> RiskLimits:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise RiskConfigError(f"{where}: unknown limits {unknown}; known: {list(FIELDS)}")
    changes: dict[str, Any] = {name: _value(name, value, where) for name, value in values.items()}
    try:
        return attrs.evolve(base if base is not None else RiskLimits(), **changes)
    except (TypeError, ValueError) as error:
        raise RiskConfigError(f"{where}: {error}") from error


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--risk-limits", help="TOML file with a [risk] table of limits")
    for name in FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"risk limit {name}")


def limits_from_args(args: argparse.Namespace) -> RiskLimits:
    """The file's limits (if any) with the flags given on top."""
    base = load_limits(Path(args.risk_limits)) if args.risk_limits else RiskLimits()
    flags = {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}
    return limits_from(flags, where="command line", base=base)


def _value(name: str, value: Any, where: str) -> Decimal | int | None:
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise RiskConfigError(f"{where}: {name} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise RiskConfigError(f"{where}: {name} must be a number, got {value!r}") from error
    if not number.is_finite():
        raise RiskConfigError(f"{where}: {name} must be a finite number, got {value!r}")
    if name == "max_open_orders":
        if number != number.to_integral_value():
            raise RiskConfigError(f"{where}: max_open_orders must be whole, got {value!r}")
        return int(number)
    return number
