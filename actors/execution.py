"""ExecutionActor: turns trade signals into orders and routes venue reports to them."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pykka

from actors.execution_book import Denial, ExecutionBook, MarketRoute
from actors.metrics import EXECUTION_EVENTS
from actors.runtime_state import order_stream, position_stream, submit_for
from messages.client_requests import AwaitMarket, SubmitSignal
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import OrderCreated
from messages.journal_protocol import Append, Forward
from messages.market_commands import ArchiveMarket, CloseMarket, SwitchMarket
from messages.markets import MarketDrained
from messages.order_commands import CancelOrder
from messages.orders import (
    CancelDenied,
    CancelRejected,
    FillChargeRefused,
    FillRefusal,
    FillRefused,
    FillReversalRefused,
    OrderAccepted,
    OrderCancelled,
    OrderClosed,
    OrderDenied,
    OrderRejected,
)
from messages.position_commands import MarkPending
from messages.queries import ListRoutedOrders, RoutedOrders
from messages.reconciliation import TradingEnabled
from messages.risk import CheckSignal, RiskApproved, RiskDenied
from messages.signals import TradeSignal
from messages.supervision import (
    AdoptOrders,
    OrderQuiesced,
    OrderStarted,
    PositionRestarted,
    QuiesceOrder,
    ReviveOrder,
    StopOrder,
    SuperviseOrder,
)
from supervisors.kernel.base import RuntimeActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised

VenueReport = (
    OrderAccepted
    | OrderRejected
    | OrderCancelled
    | CancelRejected
    | Fill
    | FillReversed
    | FillCharged
)


def report_key(report: VenueReport) -> str:
    """The dedup key of a venue report: each can happen once per order (or per fill)."""
    if isinstance(report, Fill):
        return f"fill:{report.fill_id}"
    if isinstance(report, FillReversed):
        return f"reversed:{report.fill_id}"
    if isinstance(report, FillCharged):
        return f"charged:{report.fill_id}"
    return f"{type(report).__name__}:{report.order_id}"


class ExecutionActor(Supervised, RuntimeActor):
    """Signal → journaled OrderCreated → supervised OrderActor → pending flag → venue.

    Execution holds a position ref per market it has been told about, replaced only by the
    market lifecycle actor's SwitchMarket, so orders of a new market never reach an old position.
    A signal goes only to its own (market, account, strategy) position: what it leaves
    unnamed is taken from the market's position before risk judges it, and a signal naming
    another account or strategy is denied. Whether its market is still the current one is
    checked again when risk approves, the moment the order is created.
    It refuses a second order on a (security, side) while one is open: the pending-flag guard
    of seed 003, enforced here where it cannot race. Venue reports go through the journal to
    the order they belong to, so none is applied before it is durable. The decisions are the
    ``ExecutionBook``'s; this shell receives, tells and resolves clients' futures.
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
        self.book = ExecutionBook(
            id_prefix=id_prefix,
            first_order_number=first_order_number,
            trading_enabled=trading_enabled,
        )
        self.risk = risk
        self.venue = venue
        self.bus = bus
        self.journal = journal
        self._answers: dict[str, concurrent.futures.Future[dict[str, str]]] = {}
        self._market_waiters: dict[str, list[concurrent.futures.Future[dict[str, Any]]]] = {}

    @handles(AdoptOrders)
    def _adopt_orders(self, message: AdoptOrders) -> None:
        self.book.adopt(message.orders, message.closed)

    @handles(OrderStarted)
    def _order_started(self, message: OrderStarted) -> None:
        started = self.book.started(message.order_id, message.ref)
        if message.submit and started.created is not None:
            self._submit(started.created)
        for held in started.held:
            if isinstance(held, CancelOrder):
                self._cancel(held)
            else:
                self._venue_report(held)
        if started.retire and self.book.retire(message.order_id) is not None:
            self._quiesce(message.order_id, message.ref)

    def _submit(self, created: OrderCreated) -> None:
        """The order runs: mark the side pending on its position, then send it."""
        route = self.book.markets[created.market_id]
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
        self.book.switch(
            MarketRoute(
                definition=message.definition,
                position=message.position,
                position_id=message.position_id,
                account=message.account,
                strategy=message.strategy,
                supervisor=message.supervisor,
            )
        )
        self.log.info("market_switched", market_id=market_id)
        for waiter in self._market_waiters.pop(market_id, ()):
            _resolve(waiter, {"opened": True})

    @handles(AwaitMarket)
    def _await_market(self, message: AwaitMarket) -> None:
        """Answer once the market takes orders; a market known but not trading is refused."""
        if message.market_id not in self.book.markets:
            # A client that gave up (its future cancelled) is forgotten here, not kept.
            waiting = self._market_waiters.setdefault(message.market_id, [])
            waiting[:] = [w for w in waiting if not w.cancelled()]
            waiting.append(message.answer)
            return
        reason = self.book.market_denial(message.market_id)
        _resolve(message.answer, {"opened": True} if reason is None else {"refused": reason})

    @handles(PositionRestarted)
    def _position_restarted(self, message: PositionRestarted) -> None:
        if self.book.replace_position(message.market_id, message.position):
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
        admitted = self.book.admit(signal)
        if isinstance(admitted, Denial):
            self._deny(admitted)
            return
        if self.risk is None:
            self._create(admitted)
            return
        # Risk answers by a tell, and this mailbox goes on meanwhile: the book holds the side.
        open_orders = self.book.reserve_for_risk(admitted)
        self.risk.tell(
            CheckSignal(signal=admitted, open_orders=open_orders, reply_to=self.actor_ref)
        )

    @handles(RiskApproved)
    def _risk_approved(self, message: RiskApproved) -> None:
        decision = self.book.risk_approved(message.signal.id)
        if isinstance(decision, Denial):
            self._deny(decision)
        elif decision is not None:
            self._create(decision)

    @handles(RiskDenied)
    def _risk_denied(self, message: RiskDenied) -> None:
        denial = self.book.risk_denied(message.signal.id, message.reason)
        if denial is not None:
            self._deny(denial)

    def _deny(self, denial: Denial) -> None:
        signal, reason = denial.signal, denial.reason
        if denial.misaddressed:
            EXECUTION_EVENTS.labels(type="SignalForAnotherPosition").inc()
            self.log.warning(
                "signal_for_another_position",
                market_id=signal.market_id,
                correlation_id=signal.id,
                account=signal.account,
                strategy=signal.strategy,
                position_id=self.book.markets[signal.market_id].position_id,
            )
        EXECUTION_EVENTS.labels(type="OrderDenied").inc()
        self.log.info(
            "signal_denied", market_id=signal.market_id, correlation_id=signal.id, reason=reason
        )
        self.bus.tell(OrderDenied(correlation_id=signal.id, signal=signal, reason=reason))
        self._answer(signal.id, {"denied": reason})

    def _create(self, signal: TradeSignal) -> None:
        """The signal becomes an order: journaled first, then supervised, then sent."""
        EXECUTION_EVENTS.labels(type="OrderCreated").inc()
        # A client waits on the answer to its own signal: a strategy's has no one waiting.
        created = self.book.create(signal, manual=signal.id in self._answers)
        order_id = created.order_id
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
        route = self.book.begin(created)
        if route is None:
            # Cannot happen while the reservation keeps the market from draining; if it
            # does, the order is journaled but has nowhere to go: say so loudly.
            self.log.error("order_created_for_archived_market", order_id=created.order_id)
            return
        route.supervisor.tell(SuperviseOrder(created=created))

    @handles(TradingEnabled)
    def _trading_enabled(self, _message: TradingEnabled) -> None:
        self.book.trading_enabled = True
        self.log.info("trading_enabled")

    @handles(
        OrderAccepted,
        OrderRejected,
        OrderCancelled,
        CancelRejected,
        Fill,
        FillReversed,
        FillCharged,
    )
    def _venue_report(self, report: VenueReport) -> None:
        EXECUTION_EVENTS.labels(type=type(report).__name__).inc()
        order = self.book.orders.get(report.order_id)
        if order is None and self.book.hold(report.order_id, report):
            return
        supervisor = None if order is not None else self.book.revive(report.order_id, report)
        if supervisor is not None:
            self.log.info("order_revived", order_id=report.order_id, kind=type(report).__name__)
            supervisor.tell(ReviveOrder(order_id=report.order_id))
            return
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
        elif isinstance(report, FillReversed):
            self.bus.tell(
                FillReversalRefused(
                    correlation_id=report.order_id,
                    reversal=report,
                    reason=FillRefusal.UNKNOWN_ORDER,
                    detail=f"no order {report.order_id}",
                )
            )
        elif isinstance(report, FillCharged):
            self.bus.tell(
                FillChargeRefused(
                    correlation_id=report.order_id,
                    charge=report,
                    reason=FillRefusal.UNKNOWN_ORDER,
                    detail=f"no order {report.order_id}",
                )
            )

    @handles(CancelOrder)
    def _cancel(self, message: CancelOrder) -> CancelDenied | None:
        """Forward to the order; a cancel for an order still starting waits for it.

        The denial is published and also returned, for a caller that asked.
        """
        if self.book.hold(message.order_id, message):
            return None
        order = self.book.orders.get(message.order_id)
        closed = self.book.closed.get(message.order_id)
        reason = None
        if closed is not None:
            # What its actor would answer (``Order.cancel_refusal``): a closed order is closed.
            reason = f"order is {closed.status.name}"
            self.log.info("cancel_denied", order_id=message.order_id, reason=reason)
        elif order is None:
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
            running=(*self.book.orders.items(), *self.book.retiring.items()),
            starting=tuple(self.book.starting.values()),
            closed=tuple(self.book.closed.values()),
        )

    @handles(OrderClosed)
    def _order_closed(self, message: OrderClosed) -> None:
        order = self.book.order_closed(message.order_id)
        if order is not None:
            self._quiesce(message.order_id, order)
        self._notify_if_drained(message.market_id)

    def _quiesce(self, order_id: str, order: Any) -> None:
        """Through the journal, so the order hears it after every event routed to it."""
        self.journal.tell(Forward(message=QuiesceOrder(order_id=order_id), deliver_to=order))

    @handles(OrderQuiesced)
    def _order_quiesced(self, message: OrderQuiesced) -> None:
        """Stop the closed order's actor; revive it at once if a report came meanwhile."""
        supervisor, revive = self.book.quiesced(message.order_id, message.snapshot)
        if supervisor is None:
            return
        supervisor.tell(StopOrder(order_id=message.order_id))
        if revive:
            supervisor.tell(ReviveOrder(order_id=message.order_id))

    @handles(CloseMarket)
    def _close_market(self, message: CloseMarket) -> None:
        if not self.book.close(message.market_id, message.notify):
            self.log.warning("close_for_unknown_market", market_id=message.market_id)
            return
        self._notify_if_drained(message.market_id)

    @handles(ArchiveMarket)
    def _archive_market(self, message: ArchiveMarket) -> None:
        self.book.archive(message.market_id)

    def _notify_if_drained(self, market_id: str) -> None:
        notify = self.book.drained(market_id)
        if notify is not None:
            notify.tell(MarketDrained(market_id=market_id))


def _resolve(future: concurrent.futures.Future[Any], answer: dict[str, Any]) -> None:
    """Answer a client waiting outside the actors, unless it gave up (cancelled) already."""
    if future.set_running_or_notify_cancel():
        future.set_result(answer)
