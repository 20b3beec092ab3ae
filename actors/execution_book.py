"""ExecutionBook: what execution decides, kept apart from the actor that delivers it.

A plain class with no threads, so it is tested without actors: the routes (which position
a market's orders go to, whether the market still trades), the side reservations (the
pending-flag guard of seed 003: one open order per security and side), the order numbers,
and the orders execution routes venue reports and cancels to. A refusal comes back as a
``Denial`` value; the ``ExecutionActor`` turns it into the ``OrderDenied`` event. Actor
refs are held as opaque values: the book stores and returns them, never calls them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from actors.order_state import CLOSED_STATUSES
from messages.enums import OrderSide
from messages.journal import OrderCreated
from messages.markets import MarketDefinition
from messages.mementos import OrderMemento
from messages.orders import OrderSnapshot
from messages.signals import TradeSignal

Side = tuple[str, OrderSide]
"""(security_id, side): what one reservation guards."""


@attrs.define
class MarketRoute:
    """What execution knows of one market: its position and whether it still trades."""

    definition: MarketDefinition
    position: Any
    position_id: str
    account: str
    strategy: str
    supervisor: Any
    closed: bool = False
    notify_drained: Any = None

    def addressed(self, signal: TradeSignal) -> TradeSignal | str:
        """``signal`` for this market's position (what it left unnamed is the position's),
        or why it is not for this position."""
        strategy = signal.strategy or self.strategy
        account = signal.account or self.account
        if (strategy, account) != (self.strategy, self.account):
            return (
                f"market {signal.market_id} has no position for account {account!r} and "
                f"strategy {strategy!r}; its position is {self.position_id}"
            )
        if (signal.strategy, signal.account) == (strategy, account):
            return signal
        return attrs.evolve(signal, strategy=strategy, account=account)


@attrs.frozen(kw_only=True, slots=True)
class Denial:
    """Execution will not make an order of ``signal``, and why.

    ``misaddressed`` says the signal named an account or strategy its market has no
    position for (counted and logged apart: a strategy wired to the wrong position).
    """

    signal: TradeSignal
    reason: str
    misaddressed: bool = False


@attrs.frozen(kw_only=True, slots=True)
class Started:
    """An order's actor runs: the order to submit (None if it was adopted, not created
    here), the cancels and venue reports that arrived while it had no actor, in arrival
    order, and whether it closed meanwhile (its actor is then quiesced at once)."""

    created: OrderCreated | None
    held: tuple[Any, ...]
    retire: bool = False


def _risk_check(signal: TradeSignal) -> str:
    """The reservation a signal holds on its side while risk decides."""
    return f"risk check {signal.id}"


class ExecutionBook:
    """Routes, side reservations, order numbers and routed orders of one execution.

    A side is reserved from the moment a signal passes until its order closes: while risk
    decides (so a second signal cannot slip past the guard meanwhile), then by the order.
    Order numbers only go up; a restored book starts past every number the journal holds
    (``first_order_number``) and takes the open orders' reservations back by ``adopt``.
    """

    def __init__(
        self,
        *,
        id_prefix: str = "O",
        first_order_number: int = 1,
        trading_enabled: bool = True,
    ) -> None:
        self.id_prefix = id_prefix
        self.next_order_number = first_order_number
        self.trading_enabled = trading_enabled
        self.markets: dict[str, MarketRoute] = {}
        self.current_market_id: str | None = None
        self.open_orders: dict[Side, str] = {}
        """The side reservations: an order id, or ``risk check <signal id>``."""
        self.checking: dict[str, TradeSignal] = {}
        self.order_markets: dict[str, str] = {}
        self.orders: dict[str, Any] = {}
        """Order id -> the running order's actor ref."""
        self.starting: dict[str, OrderCreated] = {}
        """Orders journaled and handed to their supervisor, whose actor does not run yet."""
        self.retiring: dict[str, Any] = {}
        """Closed orders told ``QuiesceOrder`` through the journal: order id -> actor ref."""
        self.closed: dict[str, OrderSnapshot] = {}
        """Closed orders whose actor is stopped (or being revived): their last snapshot."""
        self._held: dict[str, list[Any]] = {}
        self._closed_early: set[str] = set()

    # Routes.

    def switch(self, route: MarketRoute) -> None:
        """Orders for ``route``'s market go to its position from now on; it is the current one."""
        market_id = route.definition.market_id
        self.markets[market_id] = route
        self.current_market_id = market_id

    def replace_position(self, market_id: str, position: Any) -> bool:
        """A restarted position's new ref; False when the market is not routed (any more)."""
        route = self.markets.get(market_id)
        if route is None:
            return False
        route.position = position
        return True

    def market_denial(self, market_id: str) -> str | None:
        """Why ``market_id`` takes no orders now, or None when it is the current, open one."""
        route = self.markets.get(market_id)
        if route is None:
            return f"no position for market {market_id}"
        if route.closed:
            return f"market {market_id} is closed"
        if market_id != self.current_market_id:
            return f"market {market_id} is not the current market"
        return None

    def close(self, market_id: str, notify: Any) -> bool:
        """Take no new orders for the market; ``notify`` hears when it drains. False when
        the market is not routed."""
        route = self.markets.get(market_id)
        if route is None:
            return False
        route.closed = True
        route.notify_drained = notify
        if self.current_market_id == market_id:
            self.current_market_id = None
        return True

    def drained(self, market_id: str) -> Any:
        """Who to tell that the closed ``market_id`` has no open order left, once; else None."""
        route = self.markets.get(market_id)
        if route is None or not route.closed or route.notify_drained is None:
            return None
        if any(self.order_markets.get(o) == market_id for o in self.open_orders.values()):
            return None
        notify, route.notify_drained = route.notify_drained, None
        return notify

    def archive(self, market_id: str) -> None:
        """Forget the market and its orders: it is settled, nothing more will reach them."""
        self.markets.pop(market_id, None)
        for order_id in [o for o, m in self.order_markets.items() if m == market_id]:
            del self.order_markets[order_id]
            self.orders.pop(order_id, None)
            self.retiring.pop(order_id, None)
            self.closed.pop(order_id, None)
            self._held.pop(order_id, None)

    # Signals.

    def admit(self, signal: TradeSignal) -> TradeSignal | Denial:
        """``signal`` addressed to its market's position, or why it makes no order."""
        reason = self._denial(signal)
        if reason is not None:
            return Denial(signal=signal, reason=reason)
        addressed = self.markets[signal.market_id].addressed(signal)
        if isinstance(addressed, str):
            return Denial(signal=signal, reason=addressed, misaddressed=True)
        return addressed

    def reserve_for_risk(self, signal: TradeSignal) -> int:
        """Hold the admitted ``signal``'s side while risk decides; the orders open besides it."""
        self.open_orders[(signal.security_id, signal.side)] = _risk_check(signal)
        self.checking[signal.id] = signal
        return len(self.open_orders) - 1

    def risk_approved(self, signal_id: str) -> TradeSignal | Denial | None:
        """The signal to make an order of, a denial if its market changed while risk
        decided, or None when no signal ``signal_id`` waits on risk."""
        signal = self.checking.pop(signal_id, None)
        if signal is None:
            return None
        reason = self.market_denial(signal.market_id)
        if reason is None:
            return signal
        self._release(signal)
        return Denial(signal=signal, reason=f"{reason} (it changed while risk decided)")

    def risk_denied(self, signal_id: str, reason: str) -> Denial | None:
        """Risk said no: the side is free again. None when no signal ``signal_id`` waits."""
        signal = self.checking.pop(signal_id, None)
        if signal is None:
            return None
        self._release(signal)
        return Denial(signal=signal, reason=f"risk: {reason}")

    def create(self, signal: TradeSignal, *, manual: bool = False) -> OrderCreated:
        """Number an order for the admitted ``signal`` (``manual``: a client's); it holds
        the side from here on."""
        order_id = f"{self.id_prefix}{self.next_order_number}"
        self.next_order_number += 1
        self.open_orders[(signal.security_id, signal.side)] = order_id
        self.order_markets[order_id] = signal.market_id
        route = self.markets[signal.market_id]
        return OrderCreated(
            order_id=order_id,
            correlation_id=signal.id,
            market_id=signal.market_id,
            security_id=signal.security_id,
            account=route.account,
            strategy=route.strategy,
            side=signal.side,
            price=signal.price,
            size=signal.size,
            manual=manual,
        )

    # Orders.

    def adopt(self, orders: Iterable[OrderMemento], closed: Iterable[OrderSnapshot] = ()) -> None:
        """Take over recovered orders (their supervisor starts the actors): guard open sides;
        ``closed`` ones get no actor, their snapshots stand for them as for stopped ones."""
        for memento in orders:
            self.order_markets[memento.order_id] = memento.market_id
            if memento.status not in CLOSED_STATUSES:
                self.open_orders[(memento.security_id, memento.side)] = memento.order_id
        for snapshot in closed:
            self.order_markets[snapshot.order_id] = snapshot.market_id
            self.closed[snapshot.order_id] = snapshot

    def begin(self, created: OrderCreated) -> MarketRoute | None:
        """The journaled order waits for its actor; the route whose supervisor starts it,
        or None when its market is archived (the order then has nowhere to go)."""
        route = self.markets.get(created.market_id)
        if route is not None:
            self.starting[created.order_id] = created
        return route

    def started(self, order_id: str, order: Any) -> Started:
        """The order's actor runs: route to it, and hand back what waited for it."""
        self.orders[order_id] = order
        self.closed.pop(order_id, None)
        retire = self.retiring.pop(order_id, None) is not None or order_id in self._closed_early
        self._closed_early.discard(order_id)
        return Started(
            created=self.starting.pop(order_id, None),
            held=tuple(self._held.pop(order_id, ())),
            retire=retire,
        )

    def hold(self, order_id: str, message: Any) -> bool:
        """Keep a cancel or report for an order that has no actor to take it now (starting,
        quiescing or being revived), for ``started``; False if it has one or is unknown."""
        waiting = order_id in self.starting or order_id in self.retiring
        if not waiting and order_id not in self._held:
            return False
        self._held.setdefault(order_id, []).append(message)
        return True

    def revive(self, order_id: str, report: Any) -> Any:
        """A report for a stopped order: held for its revived actor; the supervisor to ask
        for it, or None when the order is not a stopped one."""
        market_id = self.order_markets.get(order_id)
        if order_id not in self.closed or market_id not in self.markets:
            return None
        self._held[order_id] = [report]
        return self.markets[market_id].supervisor

    def order_closed(self, order_id: str) -> Any:
        """The order has nothing open at the venue: its side is free. Its running actor's
        ref, now no longer routed to (quiesce it), or None when it has none yet."""
        for side, holder in list(self.open_orders.items()):
            if holder == order_id:
                del self.open_orders[side]
        order = self.retire(order_id)
        if order is None:
            stopped = order_id in self.retiring or order_id in self.closed
            if not stopped or order_id in self._held:
                self._closed_early.add(order_id)
        return order

    def retire(self, order_id: str) -> Any:
        """Route nothing more to the closed order's running actor, which is quiesced next:
        its ref, or None when it has none running."""
        order = self.orders.pop(order_id, None)
        if order is not None:
            self.retiring[order_id] = order
        return order

    def quiesced(self, order_id: str, snapshot: OrderSnapshot) -> tuple[Any, bool]:
        """The closed order's actor has taken all it was routed: the supervisor that stops
        it (None if its market is gone) and whether to revive it at once for what was held
        meanwhile. Its snapshot answers queries from here on. One that a report held for it
        opened again (a reversal) is routed to again instead, and keeps its actor."""
        order = self.retiring.pop(order_id, None)
        if order is None:
            return None, False
        if snapshot.status not in CLOSED_STATUSES:
            self.orders[order_id] = order
            return None, False
        self.closed[order_id] = snapshot
        route = self.markets.get(self.order_markets.get(order_id, ""))
        return (None if route is None else route.supervisor), order_id in self._held

    def _release(self, signal: TradeSignal) -> None:
        side = (signal.security_id, signal.side)
        if self.open_orders.get(side) == _risk_check(signal):
            del self.open_orders[side]

    def _denial(self, signal: TradeSignal) -> str | None:
        if not self.trading_enabled:
            return "trading waits for the startup reconciliation with the broker"
        reason = self.market_denial(signal.market_id)
        if reason is not None:
            return reason
        route = self.markets[signal.market_id]
        if signal.security_id not in route.definition.security_ids:
            return f"{signal.security_id} is not an instrument of {signal.market_id}"
        pending = self.open_orders.get((signal.security_id, signal.side))
        if pending is not None:
            return f"order {pending} is pending on {signal.security_id} {signal.side.value}"
        return None
