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

import enum
import hashlib
import json
from collections.abc import Mapping
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

_to_json = json.JSONEncoder(separators=(",", ":")).encode


def _text(value: Any) -> str:
    """Text equal exactly when the values are: a Decimal by value, to its last digit."""
    if isinstance(value, Decimal):
        if value == 0:
            return "0"
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite: the fields' validators saw to it
        while digits[-1] == 0:
            digits, exponent = digits[:-1], exponent + 1
        return f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _shown(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def content_digest(event: object) -> str | None:
    """A digest of ``event``'s compared fields; None for a kind compared by key alone."""
    names = COMPARED_FIELDS.get(type(event))
    if names is None:
        return None
    text = _to_json([type(event).__name__, *(_text(getattr(event, name)) for name in names)])
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
