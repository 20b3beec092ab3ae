"""ExecutionActor: turns trade signals into orders and routes venue reports to them."""

from __future__ import annotations

import concurrent.futures
import itertools
from typing import Any

import attrs
import pykka

from actors.base import RuntimeActor, handles, tell_quietly
from actors.metrics import EXECUTION_EVENTS
from actors.order_state import CLOSED_STATUSES
from actors.runtime_state import order_stream, position_stream, submit_for
from messages.client_requests import AwaitMarket, SubmitSignal
from messages.enums import OrderSide
from messages.fills import Fill
from messages.journal import OrderCreated
from messages.journal_protocol import Append
from messages.market_commands import ArchiveMarket, CloseMarket, SwitchMarket
from messages.markets import MarketDefinition, MarketDrained
from messages.order_commands import CancelOrder
from messages.orders import (
    CancelDenied,
    CancelRejected,
    FillRefusal,
    FillRefused,
    OrderAccepted,
    OrderCancelled,
    OrderClosed,
    OrderDenied,
    OrderRejected,
)
from messages.position_commands import MarkPending
from messages.queries import ListRoutedOrders, RoutedOrders
from messages.reconciliation import TradingEnabled
from messages.refs import Recipient
from messages.risk import CheckSignal, RiskApproved, RiskDenied
from messages.signals import TradeSignal
from messages.supervision import AdoptOrders, OrderStarted, PositionRestarted, SuperviseOrder
from supervisors.child_spec import SupervisedContext
from supervisors.supervised import Supervised

VenueReport = OrderAccepted | OrderRejected | OrderCancelled | CancelRejected | Fill


def report_key(report: VenueReport) -> str:
    """The dedup key of a venue report: each can happen once per order (or per fill)."""
    if isinstance(report, Fill):
        return f"fill:{report.fill_id}"
    return f"{type(report).__name__}:{report.order_id}"


@attrs.define
class _MarketRoute:
    """What execution knows of one market: its position and whether it still trades."""

    definition: MarketDefinition
    position: Recipient
    position_id: str
    account: str
    strategy: str
    supervisor: Recipient
    closed: bool = False
    notify_drained: Recipient | None = None

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


class ExecutionActor(Supervised, RuntimeActor):
    """Signal → journaled OrderCreated → supervised OrderActor → pending flag → venue.

    Execution holds a position ref per market it has been told about, replaced only by the
    market supervisor's SwitchMarket, so orders of a new market never reach an old position.
    A signal goes only to its own (market, account, strategy) position: what it leaves
    unnamed is taken from the market's position before risk judges it, and a signal naming
    another account or strategy is denied. Whether its market is still the current one is
    checked again when risk approves, the moment the order is created.
    It refuses a second order on a (security, side) while one is open: the pending-flag guard
    of seed 003, enforced here where it cannot race. Venue reports go through the journal to
    the order they belong to, so none is applied before it is durable.
    """

    kind = "execution"

    def __init__(
        self,
        *,
        venue: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
        journal: pykka.ActorRef[Any],
        id_prefix: str = "O",
        first_order_number: int = 1,
        risk: pykka.ActorRef[Any] | None = None,
        trading_enabled: bool = True,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.trading_enabled = trading_enabled
        self.risk = risk
        self.checking: dict[str, TradeSignal] = {}
        self.venue = venue
        self.bus = bus
        self.journal = journal
        self.id_prefix = id_prefix
        self._order_numbers = itertools.count(first_order_number)
        self.markets: dict[str, _MarketRoute] = {}
        self.current_market_id: str | None = None
        self.orders: dict[str, Recipient] = {}
        self.order_markets: dict[str, str] = {}
        self.open_orders: dict[tuple[str, OrderSide], str] = {}
        self._starting: dict[str, OrderCreated] = {}
        self._early_cancels: dict[str, list[CancelOrder]] = {}
        self._answers: dict[str, concurrent.futures.Future[dict[str, str]]] = {}
        self._market_waiters: dict[str, list[concurrent.futures.Future[dict[str, Any]]]] = {}

    @handles(AdoptOrders)
    def _adopt_orders(self, message: AdoptOrders) -> None:
        """Take over recovered orders (their supervisor starts the actors): guard open sides."""
        for memento in message.orders:
            self.order_markets[memento.order_id] = memento.market_id
            if memento.status not in CLOSED_STATUSES:
                self.open_orders[(memento.security_id, memento.side)] = memento.order_id

    @handles(OrderStarted)
    def _order_started(self, message: OrderStarted) -> None:
        self.orders[message.order_id] = message.ref
        created = self._starting.pop(message.order_id, None)
        early = self._early_cancels.pop(message.order_id, ())
        if message.submit and created is not None:
            self._submit(created)
        for cancel in early:
            self._cancel(cancel)

    def _submit(self, created: OrderCreated) -> None:
        """The order runs: mark the side pending on its position, then send it."""
        route = self.markets[created.market_id]
        self.journal.tell(
            Append(
                event=MarkPending(
                    order_id=created.order_id,
                    security_id=created.security_id,
                    side=created.side,
                ),
                stream=position_stream(route.position_id),
                deliver_to=route.position,
            )
        )
        self.venue.tell(submit_for(created))

    @handles(SwitchMarket)
    def _switch_market(self, message: SwitchMarket) -> None:
        market_id = message.definition.market_id
        self.markets[market_id] = _MarketRoute(
            definition=message.definition,
            position=message.position,
            position_id=message.position_id,
            account=message.account,
            strategy=message.strategy,
            supervisor=message.supervisor,
        )
        self.current_market_id = market_id
        self.log.info("market_switched", market_id=market_id)
        for waiter in self._market_waiters.pop(market_id, ()):
            _resolve(waiter, {"opened": True})

    @handles(AwaitMarket)
    def _await_market(self, message: AwaitMarket) -> None:
        """Answer once the market takes orders; a market known but not trading is refused."""
        route = self.markets.get(message.market_id)
        if route is None:
            # A client that gave up (its future cancelled) is forgotten here, not kept.
            waiting = self._market_waiters.setdefault(message.market_id, [])
            waiting[:] = [w for w in waiting if not w.cancelled()]
            waiting.append(message.answer)
            return
        reason = self._market_denial(message.market_id, route)
        _resolve(message.answer, {"opened": True} if reason is None else {"refused": reason})

    @handles(PositionRestarted)
    def _position_restarted(self, message: PositionRestarted) -> None:
        route = self.markets.get(message.market_id)
        if route is not None:
            route.position = message.position
            self.log.info("position_ref_replaced", market_id=message.market_id)

    @handles(SubmitSignal)
    def _submit_signal(self, message: SubmitSignal) -> None:
        """A client waits on the answer: resolved at the order's creation or the denial."""
        self._answers[message.signal.id] = message.answer
        self._signal(message.signal)

    def _answer(self, signal_id: str, answer: dict[str, str]) -> None:
        future = self._answers.pop(signal_id, None)
        if future is not None:
            _resolve(future, answer)

    @handles(TradeSignal)
    def _signal(self, signal: TradeSignal) -> None:
        EXECUTION_EVENTS.labels(type="TradeSignal").inc()
        route = self.markets.get(signal.market_id)
        reason = self._denial(signal, route)
        if reason is not None:
            self._deny(signal, reason)
            return
        assert route is not None
        addressed = route.addressed(signal)
        if isinstance(addressed, str):
            EXECUTION_EVENTS.labels(type="SignalForAnotherPosition").inc()
            self.log.warning(
                "signal_for_another_position",
                market_id=signal.market_id,
                correlation_id=signal.id,
                account=signal.account,
                strategy=signal.strategy,
                position_id=route.position_id,
            )
            self._deny(signal, addressed)
            return
        signal = addressed
        if self.risk is None:
            self._create(signal)
            return
        # The side is reserved while risk decides, so a second signal cannot slip past the
        # pending guard; risk answers by a tell, and this mailbox goes on meanwhile.
        self.open_orders[(signal.security_id, signal.side)] = f"risk check {signal.id}"
        self.checking[signal.id] = signal
        self.risk.tell(
            CheckSignal(
                signal=signal, open_orders=len(self.open_orders) - 1, reply_to=self.actor_ref
            )
        )

    @handles(RiskApproved)
    def _risk_approved(self, message: RiskApproved) -> None:
        signal = self.checking.pop(message.signal.id, None)
        if signal is None:
            return
        # Risk took its time: the market may have closed or been switched away from since.
        reason = self._market_denial(signal.market_id, self.markets.get(signal.market_id))
        if reason is not None:
            self._release(signal)
            self._deny(signal, f"{reason} (it changed while risk decided)")
            return
        self._create(signal)

    @handles(RiskDenied)
    def _risk_denied(self, message: RiskDenied) -> None:
        signal = self.checking.pop(message.signal.id, None)
        if signal is not None:
            self._release(signal)
            self._deny(signal, f"risk: {message.reason}")

    def _release(self, signal: TradeSignal) -> None:
        key = (signal.security_id, signal.side)
        if self.open_orders.get(key) == f"risk check {signal.id}":
            del self.open_orders[key]

    def _deny(self, signal: TradeSignal, reason: str) -> None:
        EXECUTION_EVENTS.labels(type="OrderDenied").inc()
        self.log.info(
            "signal_denied", market_id=signal.market_id, correlation_id=signal.id, reason=reason
        )
        self.bus.tell(OrderDenied(correlation_id=signal.id, signal=signal, reason=reason))
        self._answer(signal.id, {"denied": reason})

    def _create(self, signal: TradeSignal) -> None:
        """The signal becomes an order: journaled first, then supervised, then sent."""
        EXECUTION_EVENTS.labels(type="OrderCreated").inc()
        order_id = f"{self.id_prefix}{next(self._order_numbers)}"
        self.open_orders[(signal.security_id, signal.side)] = order_id
        self.order_markets[order_id] = signal.market_id
        route = self.markets[signal.market_id]
        created = OrderCreated(
            order_id=order_id,
            correlation_id=signal.id,
            market_id=signal.market_id,
            security_id=signal.security_id,
            account=route.account,
            strategy=route.strategy,
            side=signal.side,
            price=signal.price,
            size=signal.size,
        )
        self.journal.tell(
            Append(
                event=created,
                stream=order_stream(order_id),
                dedup_key=f"created:{order_id}",
                deliver_to=self.actor_ref,
            )
        )
        self.log.info(
            "order_created",
            order_id=order_id,
            correlation_id=signal.id,
            market_id=signal.market_id,
            security_id=signal.security_id,
            side=signal.side,
            price=signal.price,
            size=signal.size,
            reason=signal.reason,
        )

    @handles(OrderCreated)
    def _order_created(self, created: OrderCreated) -> None:
        # Journaled and numbered: the order exists from here on, even before its actor runs
        # (ListRoutedOrders and early cancels cover that gap).
        self._answer(created.correlation_id, {"order_id": created.order_id})
        route = self.markets.get(created.market_id)
        if route is None:
            # Cannot happen while the reservation keeps the market from draining; if it
            # does, the order is journaled but has nowhere to go: say so loudly.
            self.log.error("order_created_for_archived_market", order_id=created.order_id)
            return
        route.supervisor.tell(SuperviseOrder(created=created))
        self._starting[created.order_id] = created

    @handles(TradingEnabled)
    def _trading_enabled(self, _message: TradingEnabled) -> None:
        self.trading_enabled = True
        self.log.info("trading_enabled")

    def _market_denial(self, market_id: str, route: _MarketRoute | None) -> str | None:
        """Why ``market_id`` takes no orders now, or None when it is the current, open one."""
        if route is None:
            return f"no position for market {market_id}"
        if route.closed:
            return f"market {market_id} is closed"
        if market_id != self.current_market_id:
            return f"market {market_id} is not the current market"
        return None

    def _denial(self, signal: TradeSignal, route: _MarketRoute | None) -> str | None:
        if not self.trading_enabled:
            return "trading waits for the startup reconciliation with the broker"
        reason = self._market_denial(signal.market_id, route)
        if reason is not None:
            return reason
        assert route is not None
        if signal.security_id not in route.definition.security_ids:
            return f"{signal.security_id} is not an instrument of {signal.market_id}"
        pending = self.open_orders.get((signal.security_id, signal.side))
        if pending is not None:
            return f"order {pending} is pending on {signal.security_id} {signal.side.value}"
        return None

    @handles(OrderAccepted, OrderRejected, OrderCancelled, CancelRejected, Fill)
    def _venue_report(self, report: VenueReport) -> None:
        EXECUTION_EVENTS.labels(type=type(report).__name__).inc()
        order = self.orders.get(report.order_id)
        if order is not None:
            self.journal.tell(
                Append(
                    event=report,
                    stream=order_stream(report.order_id),
                    dedup_key=report_key(report),
                    deliver_to=order,
                )
            )
            return
        self.log.error(
            "report_for_unknown_order",
            order_id=report.order_id,
            report_type=type(report).__name__,
        )
        if isinstance(report, Fill):
            self.bus.tell(
                FillRefused(
                    correlation_id=report.order_id,
                    fill=report,
                    reason=FillRefusal.UNKNOWN_ORDER,
                    detail=f"no order {report.order_id}",
                )
            )

    @handles(CancelOrder)
    def _cancel(self, message: CancelOrder) -> CancelDenied | None:
        """Forward to the order; a cancel for an order still starting waits for it.

        The denial is published and also returned, for a caller that asked.
        """
        if message.order_id in self._starting:
            self._early_cancels.setdefault(message.order_id, []).append(message)
            return None
        order = self.orders.get(message.order_id)
        reason = None
        if order is None:
            reason = f"no order {message.order_id}"
        elif not tell_quietly(order, message):
            reason = f"order {message.order_id} is restarting; ask again"
        if reason is None:
            return None
        denied = CancelDenied(correlation_id=message.id, order_id=message.order_id, reason=reason)
        self.bus.tell(denied)
        return denied

    @handles(ListRoutedOrders, reads_only=True)
    def _list_routed(self, _message: ListRoutedOrders) -> RoutedOrders:
        return RoutedOrders(
            running=tuple(self.orders.items()), starting=tuple(self._starting.values())
        )

    @handles(OrderClosed)
    def _order_closed(self, message: OrderClosed) -> None:
        for key, order_id in list(self.open_orders.items()):
            if order_id == message.order_id:
                del self.open_orders[key]
        self._notify_if_drained(message.market_id)

    @handles(CloseMarket)
    def _close_market(self, message: CloseMarket) -> None:
        route = self.markets.get(message.market_id)
        if route is None:
            self.log.warning("close_for_unknown_market", market_id=message.market_id)
            return
        route.closed = True
        route.notify_drained = message.notify
        if self.current_market_id == message.market_id:
            self.current_market_id = None
        self._notify_if_drained(message.market_id)

    @handles(ArchiveMarket)
    def _archive_market(self, message: ArchiveMarket) -> None:
        self.markets.pop(message.market_id, None)
        for order_id in [o for o, m in self.order_markets.items() if m == message.market_id]:
            del self.order_markets[order_id]
            self.orders.pop(order_id, None)

    def _notify_if_drained(self, market_id: str) -> None:
        route = self.markets.get(market_id)
        if route is None or not route.closed or route.notify_drained is None:
            return
        open_here = (self.order_markets.get(o) == market_id for o in self.open_orders.values())
        if any(open_here):
            return
        route.notify_drained.tell(MarketDrained(market_id=market_id))
        route.notify_drained = None


def _resolve(future: concurrent.futures.Future[Any], answer: dict[str, Any]) -> None:
    """Answer a client waiting outside the actors, unless it gave up (cancelled) already."""
    if future.set_running_or_notify_cancel():
        future.set_result(answer)
