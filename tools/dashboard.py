"""The live dashboard's model: runtime events folded into what a person watching a run wants.

``DashboardState`` is plain data with no threads and no I/O, so `tradeactors run` (events
from the bus) and `tradeactors watch` (the same message classes, decoded from the ZeroMQ
stream) fold identically, and a test can fold a hand-written sequence to exact figures.

Orders and positions carry a ``version``: an event older than what the state already holds
(a snapshot read after the event was published) is counted but changes nothing.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

import attrs

from actors.order_state import CLOSED_STATUSES
from messages.enums import MarketPhase, PositionStatus
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from messages.orders import FillRefused, OrderDenied, OrderSnapshot, OrderUpdated
from messages.positions import (
    LegSnapshot,
    PositionArchived,
    PositionDelta,
    PositionFillCharged,
    PositionOpened,
    PositionSettled,
    PositionSnapshot,
)
from messages.queries import MarketState
from supervisors.kernel.events import ChildRestarted

WINDOW_S = 5.0
"""How far back the event rates look."""

RATE_KINDS = ("events", "orders", "fills", "deltas")
"""What the rates count: every event, new orders, applied fills, position deltas."""


@attrs.frozen(kw_only=True, slots=True)
class MarketRow:
    """A market as the markets section shows it; ``winner`` once it resolved."""

    market_id: str
    phase: MarketPhase
    winner: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Restarted:
    """A ``ChildRestarted`` as the event stream carries it: the actor ref, which means
    nothing in another process, left out."""

    supervisor: str
    child_id: str
    restarts: int


@attrs.frozen(kw_only=True, slots=True)
class Unknown:
    """An event the stream carried that this client has no message class for (supervision
    events other than restarts, kinds newer than this client): counted, nothing more."""

    kind: str


@attrs.frozen(kw_only=True, slots=True)
class PnL:
    """Realized (gross of fees) and unrealized PnL and fees; ``net`` is what is left."""

    realized: Decimal = Decimal(0)
    unrealized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized - self.fees

    def __add__(self, other: PnL) -> PnL:
        return PnL(
            realized=self.realized + other.realized,
            unrealized=self.unrealized + other.unrealized,
            fees=self.fees + other.fees,
        )


@attrs.frozen(kw_only=True, slots=True)
class LegRow:
    """One instrument of one position, as the positions table shows it."""

    position_id: str
    market_id: str
    status: PositionStatus
    leg: LegSnapshot

    @property
    def pnl(self) -> PnL:
        return PnL(
            realized=self.leg.realized_pnl,
            unrealized=self.leg.unrealized_pnl,
            fees=self.leg.fees,
        )


@attrs.define
class _Holding:
    market_id: str
    status: PositionStatus
    version: int
    legs: dict[str, LegSnapshot]


def restart_kind(child_id: str) -> str:
    """The kind of actor a child id names: ``position:m1`` -> ``position``, ``journal`` ->
    ``journal``; the same in both modes, since the stream has no actor class to ask."""
    return child_id.partition(":")[0]


class EventRates:
    """Events per second over the last ``window_s`` seconds, per kind.

    Until the dashboard has run a whole window the count is divided by the time it has run
    (at least a second), so the first figures are not a fraction of the truth.
    """

    def __init__(self, clock: Callable[[], float], window_s: float = WINDOW_S) -> None:
        self.clock = clock
        self.window_s = window_s
        self.started = clock()
        self._seen: dict[str, collections.deque[float]] = {
            kind: collections.deque() for kind in RATE_KINDS
        }

    def add(self, kind: str, now: float) -> None:
        """One event of ``kind`` at ``now`` (the caller's clock reading, read once per event)."""
        seen = self._seen[kind]
        seen.append(now)
        self._forget(seen, now)

    def per_second(self, kind: str) -> float:
        """Events of ``kind`` per second over the window ending now."""
        now = self.clock()
        seen = self._seen[kind]
        self._forget(seen, now)
        return len(seen) / max(1.0, min(self.window_s, now - self.started))

    def _forget(self, seen: collections.deque[float], now: float) -> None:
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()


class DashboardState:
    """Markets, open orders, positions with PnL, restarts by actor kind, counters and rates."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.rates = EventRates(clock, window_s)
        self.markets: dict[str, MarketRow] = {}
        self.current_market: str | None = None
        self.open_orders: dict[str, OrderSnapshot] = {}
        self.restarts: collections.Counter[str] = collections.Counter()
        self.counts: collections.Counter[str] = collections.Counter(
            dict.fromkeys(("events", "orders", "fills", "deltas", "denied", "refused"), 0)
        )
        self.note = ""
        self._order_versions: dict[str, int] = {}
        self._holdings: dict[str, _Holding] = {}

    @property
    def uptime_s(self) -> float:
        """Seconds since the dashboard started (not the runtime: it may have joined late)."""
        return self.clock() - self.started

    def seed(
        self,
        positions: Iterable[PositionSnapshot],
        orders: Iterable[OrderSnapshot],
        markets: Iterable[MarketState] = (),
    ) -> None:
        """Start from a ``snapshot`` answer: what happened before the stream was joined (or
        before a resumed run started). Positions and orders older than what events already
        brought change nothing; nor does a market an event already showed."""
        for position in positions:
            self._position(position)
        for order in orders:
            self._order(order)
        last = None
        for market in markets:
            last = market.market_id
            self.markets.setdefault(
                market.market_id,
                MarketRow(
                    market_id=market.market_id,
                    phase=market.phase,
                    winner=market.winning_security_id,
                ),
            )
        if self.current_market is None:
            self.current_market = last

    def apply(self, event: object) -> None:
        """Fold one event; kinds the dashboard does not show only count as events."""
        now = self.clock()
        self._count("events", now)
        match event:
            case MarketOpened(definition=definition):
                self.markets[definition.market_id] = MarketRow(
                    market_id=definition.market_id, phase=MarketPhase.OPEN
                )
                self.current_market = definition.market_id
            case MarketClosed(market_id=market_id):
                self.markets[market_id] = MarketRow(market_id=market_id, phase=MarketPhase.CLOSED)
            case MarketResolved(market_id=market_id, winning_security_id=winner):
                self.markets[market_id] = MarketRow(
                    market_id=market_id, phase=MarketPhase.RESOLVED, winner=winner
                )
            case OrderUpdated(cause=cause, order=order):
                if cause == "submitted":
                    self._count("orders", now)
                elif cause == "fill":
                    self._count("fills", now)
                self._order(order)
            case OrderDenied():
                self.counts["denied"] += 1
            case FillRefused():
                self.counts["refused"] += 1
            case PositionDelta():
                self._count("deltas", now)
                self._delta(event)
            case PositionFillCharged():
                self._delta(event)
            case (
                PositionOpened(position=position)
                | PositionSettled(position=position)
                | PositionArchived(position=position)
            ):
                self._position(position)
            case ChildRestarted(child_id=child_id) | Restarted(child_id=child_id):
                self.restarts[restart_kind(child_id)] += 1

    def standing_aside(self) -> dict[str, OrderSnapshot]:
        """Per market, the first open manual order: while it is open the pending-flag guard
        keeps the strategy off its security and side, and the shipped strategy (which buys
        both legs together) stands aside in the whole market."""
        aside: dict[str, OrderSnapshot] = {}
        for order in self.open_orders.values():
            if order.manual:
                aside.setdefault(order.market_id, order)
        return aside

    def rate(self, kind: str) -> float:
        """Events of ``kind`` (one of ``RATE_KINDS``) per second, over the window."""
        return self.rates.per_second(kind)

    def legs(self) -> list[LegRow]:
        """Every leg of every position, oldest position first."""
        return [
            LegRow(position_id=position_id, market_id=h.market_id, status=h.status, leg=leg)
            for position_id, h in self._holdings.items()
            for leg in h.legs.values()
        ]

    def total(self) -> PnL:
        """The PnL of every leg together, settled positions included."""
        return sum((row.pnl for row in self.legs()), PnL())

    def _count(self, kind: str, now: float) -> None:
        self.counts[kind] += 1
        self.rates.add(kind, now)

    def _order(self, order: OrderSnapshot) -> None:
        if order.version < self._order_versions.get(order.order_id, -1):
            return
        self._order_versions[order.order_id] = order.version
        if order.status in CLOSED_STATUSES:
            self.open_orders.pop(order.order_id, None)
        else:
            self.open_orders[order.order_id] = order

    def _position(self, position: PositionSnapshot) -> None:
        held = self._holdings.get(position.position_id)
        if held is not None and position.version < held.version:
            return
        self._holdings[position.position_id] = _Holding(
            market_id=position.market_id,
            status=position.status,
            version=position.version,
            legs={leg.security_id: leg for leg in position.legs},
        )

    def _delta(self, delta: PositionDelta | PositionFillCharged) -> None:
        held = self._holdings.get(delta.position_id)
        if held is None:
            held = self._holdings[delta.position_id] = _Holding(
                market_id=delta.market_id, status=PositionStatus.OPEN, version=-1, legs={}
            )
        if delta.version < held.version:
            return
        held.version = delta.version
        held.legs[delta.leg.security_id] = delta.leg
