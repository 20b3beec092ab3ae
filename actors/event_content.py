"""The content a journaled event's dedup key stands for: what a redelivery keeps the same and
a conflict (the same key, other data) changes.

A venue fill and a broker deal are deduplicated on their identity (``fill:<id>``,
``deal:<order_no>:<seq_no>:<match_ts>``). Arriving again with that identity is harmless
only if the data is the same too; otherwise the venue, the broker or our key is broken, and
the journal refuses the event instead of dropping it. The content is the economic data:

- a ``Fill``: exactly what its equality covers (every field but ``ts_init``), so the
  journal and ``Order.apply_fill`` agree on what a duplicate is;
- a ``DealBooked``: the broker's deal (order number, account, security, side, price, size,
  match time) and its fee, not when or how it reached us (``id``, ``ts_init``,
  ``recv_ns``, ``inferred``: a callback or a reconciliation's list) nor the order and
  strategy our intent registry attributed it to.

Decimals count by value (``10`` and ``10.0`` are the same size). Other kinds are deduplicated
on their key alone (an order is accepted once, whatever the venue's text says).
"""

from __future__ import annotations

import decimal
import enum
import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from messages.broker_events import DealBooked
from messages.fills import Fill

COMPARED_FIELDS: Mapping[type, tuple[str, ...]] = {
    Fill: tuple(field.name for field in attrs.fields(Fill) if field.eq),
    DealBooked: (
        "fill_id",
        "order_no",
        "account",
        "security_id",
        "side",
        "price",
        "size",
        "fee",
        "match_ts",
    ),
}
"""The fields each content-compared kind is compared on."""

_EXACT = decimal.Context(prec=decimal.MAX_PREC)
"""``normalize`` in this context drops trailing zeros and never rounds."""


def _decimal_text(value: Decimal) -> str:
    """The same text for the same value, to its last digit (``10``, ``10.0``: ``1E+1``)."""
    return "0" if value == 0 else str(value.normalize(_EXACT))


def _enum_text(value: enum.Enum) -> str:
    return str(value.value)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, enum.Enum):
        return _enum_text(value)
    return str(value)


def _converters(kind: type, names: tuple[str, ...]) -> tuple[tuple[Callable[[Any], str], str], ...]:
    """Per compared field, how its value becomes text (the hot path: every fill)."""
    types = {field.name: field.type for field in attrs.fields(attrs.resolve_types(kind))}

    def converter(type_: Any) -> Callable[[Any], str]:
        if type_ is Decimal:
            return _decimal_text
        if isinstance(type_, type) and issubclass(type_, enum.Enum):
            return _enum_text
        return str

    return tuple((converter(types[name]), name) for name in names)


_CONVERTERS = {kind: _converters(kind, names) for kind, names in COMPARED_FIELDS.items()}


def _shown(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def content_digest(event: object) -> str | None:
    """A digest of ``event``'s compared fields; None for a kind compared by key alone."""
    converters = _CONVERTERS.get(type(event))
    if converters is None:
        return None
    parts = [convert(getattr(event, name)) for convert, name in converters]
    # The lengths first: with them the text parses one way only, whatever the parts hold.
    text = "\x1f".join([type(event).__name__, *[str(len(part)) for part in parts], *parts])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def differences(journaled: object, refused: object) -> str:
    """The compared fields in which ``refused`` differs from ``journaled``, for the reason."""
    names = COMPARED_FIELDS.get(type(refused), ())
    if type(journaled) is not type(refused):
        return f"kind {type(refused).__name__} (journaled {type(journaled).__name__})"
    changed = [
        f"{name} {_shown(getattr(refused, name))} (journaled {_shown(getattr(journaled, name))})"
        for name in names
        if _text(getattr(refused, name)) != _text(getattr(journaled, name))
    ]
    # Equal fields under a different digest: the stored digest itself is what differs.
    return ", ".join(changed) or "the journaled content digest differs"
