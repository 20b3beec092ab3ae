"""Messages between the broker edge's actors: what to reconcile, and what was found.

They hold actor refs or are internal requests, so they are never journaled; the changes
they lead to are (``messages.broker_events``).
"""

from __future__ import annotations

import attrs

from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
)
from messages.fields import id_field, text_field, ts_init_field, tuple_of
from messages.journal_protocol import Forward
from messages.refs import Recipient


@attrs.frozen(kw_only=True, slots=True)
class ReconcileRequest:
    """Reconcile now: the whole account (no scope), or only these orders and securities."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    reason: str = text_field()
    order_nos: tuple[str, ...] = tuple_of(str, default=())
    security_ids: tuple[str, ...] = tuple_of(str, default=())
    reply_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class BookInferred:
    """Book these broker deals unless already booked; then tell the journal ``then``.

    ``recv_ns`` is when the reconciler read them from the broker (their receipt time).
    """

    fills: tuple[BrokerFill, ...] = tuple_of(BrokerFill)
    reason: str = text_field()
    recv_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    then: Forward | None = attrs.field(default=None)
    charges: tuple[BrokerDealCharge, ...] = tuple_of(BrokerDealCharge, default=())
    """The broker's fee and tax per deal, booked (once) after ``fills``, before ``then``."""


@attrs.frozen(kw_only=True, slots=True)
class OrderTruth:
    """The broker's state of these orders, for orders whose callbacks may have been lost."""

    orders: tuple[BrokerOrder, ...] = tuple_of(BrokerOrder)
    reason: str = text_field()


@attrs.frozen(kw_only=True, slots=True)
class ComparePositions:
    """Compare the account's book with the broker's positions; correct what no deal explains.

    Only ``security_ids`` are compared when given (``positions`` is the broker's whole
    answer either way: a security it does not list is flat there).

    A security with a deal booked after ``since_ns`` is not corrected (a deal was moving
    while the broker was asked) but reported ``unsettled``, to be compared again; so is one
    of ``pending``, whose listed deals wait for their order's ``OrderRouted``.
    """

    account: str = text_field()
    positions: tuple[BrokerPosition, ...] = tuple_of(BrokerPosition)
    since_ns: int = attrs.field(validator=attrs.validators.instance_of(int))
    reason: str = text_field()
    security_ids: tuple[str, ...] = tuple_of(str, default=())
    reply_to: Recipient | None = attrs.field(default=None)
    pending: tuple[str, ...] = tuple_of(str, default=())
    profit_loss: tuple[BrokerProfitLoss, ...] | None = attrs.field(default=None)
    """The broker's realized PnL by security, to compare too; None when it reports none."""
    settlements: tuple[BrokerSettlement, ...] | None = attrs.field(default=None)
    """The broker's cash to settle by date, to compare too; None when it reports none."""


@attrs.frozen(kw_only=True, slots=True)
class PositionsCompared:
    """The account's book after a comparison: how many corrections, which keys to retry."""

    account: str = text_field()
    corrected: int = attrs.field(validator=attrs.validators.instance_of(int))
    unsettled: tuple[str, ...] = tuple_of(str)
    reason: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    """The comparison's reason, which a retry of the unsettled keys carries on."""


@attrs.frozen(kw_only=True, slots=True)
class OpenOrdersSeen:
    """Broker orders of ``account`` that are open: the normalizer adopts those it does not
    know and, when the list is ``complete``, reports to ``reply_to`` the orders it thinks
    open that the broker does not list."""

    account: str = text_field()
    orders: tuple[BrokerOrder, ...] = tuple_of(BrokerOrder)
    complete: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    reply_to: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class OrdersMissing:
    """Orders we hold open that the broker no longer lists as open: ask for their status."""

    order_nos: tuple[str, ...] = tuple_of(str)


@attrs.frozen(kw_only=True, slots=True)
class PositionCallback:
    """A deal callback arrived (the position sync's trigger, debounced by the reconciler)."""


@attrs.frozen(kw_only=True, slots=True)
class SessionRenewed:
    """Callbacks are registered in a broker session after a lost one (a reconnect, or a
    start the broker was down for): what it pushed meanwhile is gone, so reconcile."""

    session: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True, slots=True)
class TradingEnabled:
    """Startup reconciliation is done: execution may take signals."""

    id: str = id_field()
    ts_init: int = ts_init_field()


@attrs.frozen(kw_only=True, slots=True)
class ReconcileWith:
    """Send reconcile requests and position callbacks to ``reconciler`` from now on."""

    reconciler: Recipient = attrs.field()
