"""What the normalization core decided, as values: the NormalizerActor carries them out.

The core (``actors.callback_normalization``) holds no refs and does no I/O; each call
returns these in the order their effects must happen, and the actor turns each into a tell,
a publish or a log line. A test reads them as they are.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from messages.broker_events import (
    Correction,
    DealBooked,
    DealReversed,
    FeeBooked,
    OpenOrderAdopted,
    OpenOrderClosed,
)
from messages.fills import Fill, FillCharged, FillReversed
from messages.orders import FillReversalRefused, OrderAccepted, OrderCancelled, OrderRejected
from messages.reconciliation import OrdersMissing, ReconcileRequest


@attrs.frozen(kw_only=True, slots=True)
class AppendDeal:
    """Journal a deal on its account's stream (dedup key = its identity) for the account book."""

    booked: DealBooked

    @property
    def dedup_key(self) -> str:
        return f"deal:{self.booked.fill_id}"


@attrs.frozen(kw_only=True, slots=True)
class AppendFee:
    """Journal a deal's fee and tax from the broker on its account's stream (dedup key
    ``fee:<fill_id>``: once per deal) for the account book."""

    booked: FeeBooked

    @property
    def dedup_key(self) -> str:
        return f"fee:{self.booked.fill_id}"


@attrs.frozen(kw_only=True, slots=True)
class AppendReversedDeal:
    """Journal a deal the broker took back on its account's stream, for the account book."""

    reversed: DealReversed

    @property
    def dedup_key(self) -> str:
        return f"deal_reversed:{self.reversed.fill_id}"


@attrs.frozen(kw_only=True, slots=True)
class AppendAccountEvent:
    """Journal an order's fact on its account's stream, once per ``dedup_key``."""

    event: OpenOrderAdopted | OpenOrderClosed
    dedup_key: str


@attrs.frozen(kw_only=True, slots=True)
class RecordCorrection:
    """Journal a correction on its account's stream and put it on the event stream."""

    correction: Correction


@attrs.frozen(kw_only=True, slots=True)
class Publish:
    """A report of our own order, for execution to journal for the order."""

    report: Fill | FillReversed | FillCharged | OrderAccepted | OrderCancelled | OrderRejected


@attrs.frozen(kw_only=True, slots=True)
class Refuse:
    """Put a refused reversal on the event stream: it changed nothing, and says why."""

    refusal: FillReversalRefused


@attrs.frozen(kw_only=True, slots=True)
class SendOn:
    """Tell the journal the command a ``BookInferred`` asked for after its deals."""

    command: Any


@attrs.frozen(kw_only=True, slots=True)
class AskReconcile:
    """Ask the reconciler for a reconcile."""

    request: ReconcileRequest


@attrs.frozen(kw_only=True, slots=True)
class DealCallback:
    """Tell the reconciler a deal callback came (the position sync's trigger)."""


DEAL_CALLBACK = DealCallback()


@attrs.frozen(kw_only=True, slots=True)
class Reply:
    """Answer an ``OpenOrdersSeen``'s ``reply_to`` with our open orders the broker did not list."""

    to: Any
    missing: OrdersMissing


@attrs.frozen(kw_only=True, slots=True)
class Note:
    """A log line: ``level`` is structlog's method name (``info``, ``warning``)."""

    level: str
    event: str
    fields: tuple[tuple[str, Any], ...] = ()


def note(level: str, event: str, **fields: Any) -> Note:
    return Note(level=level, event=event, fields=tuple(fields.items()))


Decision: TypeAlias = (
    AppendDeal
    | AppendFee
    | AppendReversedDeal
    | AppendAccountEvent
    | RecordCorrection
    | Publish
    | Refuse
    | SendOn
    | AskReconcile
    | DealCallback
    | Reply
    | Note
)
