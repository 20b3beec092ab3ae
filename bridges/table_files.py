"""Rows of exact values as CSV or Parquet files: the journal's exports and the runtime's
periodic position snapshots write tables the same way.

Money stays exact: in CSV every amount is the decimal's own text; in Parquet an amount
column is ``decimal128`` at the column's largest scale when every value fits 38 digits,
and text otherwise, never a float. pyarrow is imported by the writer alone, so a runtime
that writes no Parquet never loads it.
"""

from __future__ import annotations

import csv
import decimal
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import attrs

MAX_DIGITS = 38

Row = dict[str, Any]


def flat_row(message: Any, skip: Sequence[str] = ()) -> Row:
    """A message as one flat row: nested attrs classes become prefixed columns, enums their
    value, tuples a JSON list of their items' text; Decimals stay Decimals."""
    row: Row = {}
    for field in attrs.fields(type(message)):
        if field.name in skip:
            continue
        value = getattr(message, field.name)
        if attrs.has(type(value)):
            row.update({f"{field.name}_{k}": v for k, v in flat_row(value).items()})
        elif isinstance(value, Enum):
            row[field.name] = value.value
        elif isinstance(value, tuple | list):
            row[field.name] = json.dumps([str(item) for item in value])
        else:
            row[field.name] = value
    return row


def _columns(rows: Sequence[Row]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def write_csv(rows: Sequence[Row], path: Path) -> None:
    columns = _columns(rows)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else str(row[k]) for k in columns})


def write_parquet(rows: Sequence[Row], path: Path) -> None:
    import pyarrow as pa  # noqa: PLC0415 (loaded by the writers alone)

    columns = _columns(rows)
    arrays = {name: _array(pa, [row.get(name) for row in rows]) for name in columns}
    write_parquet_table(pa.table(arrays), path)


def write_parquet_table(table: Any, path: Path) -> None:
    """Write a pyarrow table beside ``path`` and rename it over: a reader (or a crash) never
    sees half a file."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)


def _array(pa: Any, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, Decimal) for v in present):
        scale = max(_scale(v) for v in present)
        whole = max(max(v.adjusted() + 1, 1) for v in present)
        if whole + scale <= MAX_DIGITS:
            exact = decimal.Context(prec=MAX_DIGITS, traps=[decimal.Inexact])
            step = Decimal(1).scaleb(-scale)
            scaled = [None if v is None else v.quantize(step, context=exact) for v in values]
            return pa.array(scaled, type=pa.decimal128(MAX_DIGITS, scale))
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.array(values)


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0
