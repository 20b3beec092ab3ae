"""What a broker adapter offers the runtime: callbacks, orders, and paged truth queries.

A real broker calls back on its own threads, drops callbacks, repeats them and goes quiet;
its queries are rate limited and refused over the limit. The runtime is written against
this protocol, and ``bridges.simulated_broker.SimulatedBroker`` implements it as a paper
broker with knobs for every one of those behaviours.

Callbacks are plain functions with plain arguments, called on a broker thread; the
runtime's (``bridges.callback_bridge.CallbackBridge``) only stamp and enqueue. Queries are
paged: ``page`` 0 first, then each ``Page.next_page`` until it is None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

import attrs

from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerOrderRequest,
    BrokerOrderStatus,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
)
from messages.market_data import InstrumentBook

T = TypeVar("T")

OrderCallback = Callable[[str, int, BrokerOrderStatus, int, str], None]
"""``on_order(order_no, seq_no, status, broker_ts_ns, reason)``."""

DealCallback = Callable[..., None]
"""``on_deal(order_no, seq_no, match_ts, security_id, side, price, size, fee=None)``: ``fee``
(a Decimal) is the broker's own fee for the deal where it reports one (IB's commission
report); without it the runtime charges its configured rate."""


ReversalCallback = Callable[[str, int, int, str], None]
"""``on_reversal(order_no, seq_no, match_ts, reason)``: the broker took back a deal it
reported before (``on_deal``'s identity), e.g. a trade that failed to settle on chain."""


PositionUpdateCallback = Callable[[str, str], None]
"""``on_position(account, security_id)``: the broker pushed a change of that position."""


class BrokerError(Exception):
    """A broker call that did not happen; never to be read as an empty or flat answer."""


class BrokerDisconnectedError(BrokerError):
    """The broker session is down: calls fail and callbacks must be registered again."""


class RateLimitedError(BrokerError):
    """The broker refused a query over its rate limit; retry after a pause."""


@attrs.frozen(kw_only=True, slots=True)
class Page(Generic[T]):
    """One page of a query's answer; ``next_page`` is None on the last page."""

    items: tuple[T, ...]
    next_page: int | None = None


class Broker(Protocol):
    """The calls a broker adapter offers."""

    @property
    def connected(self) -> bool:
        """False after a disconnect: registration is lost and calls fail until reconnected."""

    @property
    def session(self) -> int:
        """Changes with every disconnect: a registration made in an older session is gone,
        even if the link is back up before anyone noticed it drop."""

    def register_callbacks(self, on_order: OrderCallback, on_deal: DealCallback) -> None:
        """Have the broker call these; raises BrokerDisconnectedError when not connected."""

    def unregister_callbacks(self) -> None:
        """Stop calling them (idempotent)."""

    def place_order(self, request: BrokerOrderRequest) -> str:
        """Place an order; returns the broker's order number. Its fate comes as callbacks."""

    def cancel_order(self, order_no: str) -> None:
        """Ask to cancel; the outcome comes as a callback."""

    def list_positions(self, account: str, page: int = 0) -> Page[BrokerPosition]:
        """The account's non-zero positions (a query: rate limited)."""

    def list_open_orders(self, account: str, page: int = 0) -> Page[BrokerOrder]:
        """The account's open orders (a query: rate limited)."""

    def list_fills(self, account: str, since_ns: int, page: int = 0) -> Page[BrokerFill]:
        """The account's deals matched at or after ``since_ns`` (a query: rate limited)."""

    def order_status(self, order_no: str) -> BrokerOrder:
        """One order's current state (a query: rate limited)."""


@runtime_checkable
class MarketDataSink(Protocol):
    """A paper broker that matches against the runtime's market data implements this too."""

    def open_market(self, market_id: str, security_ids: Sequence[str]) -> None: ...

    def close_market(self, market_id: str) -> None: ...

    def update_book(
        self, market_id: str, book: InstrumentBook, now_ns: int | None = None
    ) -> None: ...


@runtime_checkable
class PositionPushes(Protocol):
    """A broker that pushes position changes (IB's ``positionEvent``): each one triggers the
    position sync of seed 002, debounced by the reconciler. Registered with the callbacks,
    lost with them; ``unregister_callbacks`` stops it too."""

    def register_position_callback(self, on_position: PositionUpdateCallback) -> None: ...


@runtime_checkable
class DealReversals(Protocol):
    """A broker that can take a reported deal back (Polymarket: a trade that FAILED on chain
    after it MATCHED): each reversal is the runtime's ``FillReversed``. Registered with the
    callbacks, lost with them; ``unregister_callbacks`` stops it too."""

    def register_reversal_callback(self, on_reversal: ReversalCallback) -> None: ...


@runtime_checkable
class CallbackBacklog(Protocol):
    """A broker that can say how many callbacks it still has to deliver (a paper broker):
    the runtime counts them as work in flight when it waits for idle."""

    def pending_callbacks(self) -> int: ...


@runtime_checkable
class ProfitLossQueries(Protocol):
    """A broker that reports realized PnL and settlements (seed 001's ``list_profit_loss``
    and ``list_settlements``): the reconciler compares them with the account book's."""

    def list_profit_loss(self, account: str, page: int = 0) -> Page[BrokerProfitLoss]:
        """Realized PnL per security (a query: rate limited)."""

    def list_settlements(self, account: str, page: int = 0) -> Page[BrokerSettlement]:
        """Cash to settle, per settlement date (a query: rate limited)."""


@runtime_checkable
class DealCharges(Protocol):
    """A broker whose deal messages carry no fee, but whose portfolio queries report the fee
    and tax of each deal later (Shioaji): the reconciler books them over the run's rate."""

    def list_deal_charges(self, account: str, page: int = 0) -> Page[BrokerDealCharge]:
        """The fee and tax of the account's deals the broker has charged (queries: rate
        limited)."""
