"""What the broker edge journals: routed orders, booked deals, and reconciliation's work.

``DealBooked`` is one broker deal on an account, booked once whether its callback or a
reconciliation query brought it (``fill_id`` is the broker's deal key), and
``DealReversed`` when the broker took it back. ``PositionCorrected``
and ``OpenOrderAdopted`` bring the account's book to broker truth where no deal explains
the difference. ``Correction`` says, for clients and the audit trail, what differed, the
old and new value and why.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from messages.broker import BrokerOrderStatus
from messages.enums import OrderSide
from messages.fields import (
    ADDED_LATER,
    decimal_field,
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)
from messages.orders import FillRefusal


@attrs.frozen(kw_only=True, slots=True)
class OrderRouted:
    """Our order ``order_id`` is the broker's ``order_no``: an entry of the intent registry."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_id: str = text_field()
    order_no: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    market_id: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)


@attrs.frozen(kw_only=True, slots=True)
class DealBooked:
    """A broker deal booked on its account; ``order_id`` is None for an order not ours."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    fill_id: str = text_field()
    order_no: str = text_field()
    order_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    account: str = text_field()
    strategy: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    fee: Decimal = non_negative_decimal()
    match_ts: int = attrs.field(validator=attrs.validators.instance_of(int))
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    inferred: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    @property
    def signed_size(self) -> Decimal:
        return self.size if self.side is OrderSide.BUY else -self.size


@attrs.frozen(kw_only=True, slots=True)
class FeeBooked:
    """The broker's own fee and tax for a booked deal, replacing the ``booked_fee`` the deal
    was booked with (the run's rate: the broker's deal message carried none). Journaled once
    per deal (dedup key ``fee:<fill_id>``); the deal's leg's fees change by ``change``."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    fill_id: str = text_field()
    order_no: str = text_field()
    account: str = text_field()
    security_id: str = text_field()
    booked_fee: Decimal = non_negative_decimal()
    fee: Decimal = non_negative_decimal()
    tax: Decimal = non_negative_decimal()
    match_ts: int = attrs.field(
        default=0, validator=attrs.validators.instance_of(int), metadata={ADDED_LATER: True}
    )
    """The deal's match time: the day its cash, and so this change, settles."""

    @property
    def change(self) -> Decimal:
        return self.fee + self.tax - self.booked_fee


@attrs.frozen(kw_only=True, slots=True)
class DealReversed:
    """A booked deal the broker took back (a Polymarket trade that FAILED on chain): the
    account book nets the deal's leg again without it, as if it never came."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    fill_id: str = text_field()
    """The deal's key, its ``DealBooked.fill_id``."""
    order_no: str = text_field()
    account: str = text_field()
    security_id: str = text_field()
    reason: str = text_field()
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class DealRefused:
    """A broker deal that was not booked: its identity (``fill_id``) is booked already with
    other data, as ``booked`` shows; ``detail`` names the differences. The account book,
    and the order and position of the deal, are unchanged.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    deal: DealBooked = attrs.field(validator=attrs.validators.instance_of(DealBooked))
    booked: DealBooked = attrs.field(validator=attrs.validators.instance_of(DealBooked))
    reason: FillRefusal = enum_field(FillRefusal)
    detail: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class PositionCorrected:
    """Move the account's position in ``security_id`` by ``quantity`` at ``price``.

    The broker holds a position no booked deal explains (opened before this runtime, or
    by hand); this books the difference as an adjustment at the broker's average price.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    account: str = text_field()
    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    price: Decimal = non_negative_decimal()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class OpenOrderAdopted:
    """A broker order open on the account that this runtime did not place (or forgot)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_no: str = text_field()
    account: str = text_field()
    security_id: str = text_field()
    side: OrderSide = enum_field(OrderSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()
    filled: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class OpenOrderClosed:
    """An adopted (not ours) order is no longer open at the broker."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    order_no: str = text_field()
    account: str = text_field()
    status: BrokerOrderStatus = enum_field(BrokerOrderStatus)


class CorrectionKind(enum.Enum):
    MISSING_FILL = "missing_fill"
    POSITION = "position"
    OPEN_ORDER = "open_order"
    ORDER_STATUS = "order_status"


@attrs.frozen(kw_only=True, slots=True)
class Correction:
    """Reconciliation changed our state to broker truth: what, from what, to what, and why."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    kind: CorrectionKind = enum_field(CorrectionKind)
    account: str = text_field()
    security_id: str = text_field()
    subject: str = text_field()
    old: str = attrs.field(validator=attrs.validators.instance_of(str))
    new: str = attrs.field(validator=attrs.validators.instance_of(str))
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class AccountPosition:
    """An account's position in one security, as the account book holds it."""

    account: str = text_field()
    security_id: str = text_field()
    quantity: Decimal = decimal_field()
    cost: Decimal = decimal_field()
    avg_price: Decimal = non_negative_decimal()
    realized_pnl: Decimal = decimal_field()
    fees: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class AccountPositionChanged:
    """A booked deal or correction moved a position; ``recv_ns`` is when the broker's
    callback reached us (0 for a correction), ``applied_ns`` when the book changed."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    position: AccountPosition = attrs.field(validator=attrs.validators.instance_of(AccountPosition))
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    applied_ns: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class CallbackQuarantined:
    """A broker callback whose arguments are not what the protocol says (wrong types,
    missing fields): kept aside with why, never applied, and never raised on the broker's
    thread. ``arguments`` are their reprs, as the broker passed them."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    callback: str = text_field()
    arguments: tuple[str, ...] = tuple_of(str)
    reason: str = text_field()
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class PnlMismatch:
    """The broker's realized PnL in a security differs from the account book's by more than
    the alert threshold; ``difference`` is ours minus the broker's (both gross of fees),
    ``fee`` and ``tax`` what the broker reports charging."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    account: str = text_field()
    security_id: str = text_field()
    ours: Decimal = decimal_field()
    broker: Decimal = decimal_field()
    difference: Decimal = decimal_field()
    fee: Decimal = non_negative_decimal()
    tax: Decimal = non_negative_decimal()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class SettlementMismatch:
    """The cash the broker settles on ``date`` differs from what the account book's deals
    settle then by more than the alert threshold; ``difference`` is ours minus the broker's
    (both signed: received is positive)."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    account: str = text_field()
    date: str = text_field()
    ours: Decimal = decimal_field()
    broker: Decimal = decimal_field()
    difference: Decimal = decimal_field()
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class RecoverySlow:
    """The startup recovery took ``duration_ms``, over the ``limit_ms`` seed 001 allows;
    published before trading resumes."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    duration_ms: int = attrs.field(validator=attrs.validators.instance_of(int))
    limit_ms: int = attrs.field(validator=attrs.validators.instance_of(int))
