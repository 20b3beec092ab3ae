"""The runtime's state as the journal says it is: a fold over journaled events.

The JournalActor keeps one of these current as it commits (it sees every event in journal
order, the same order the actors apply them in), snapshots it, and recovery rebuilds it
from the latest snapshot plus the journal's tail. Orders and positions are folded with the
very functions their actors apply events with (``apply_order_event``,
``apply_position_event``), so the fold cannot drift from them; an event it cannot fold is
a ``FoldError``, never a log line. Plain class, no threads.
"""

from __future__ import annotations

from typing import Any

import attrs

from actors.account_book import AccountBook
from actors.errors import FoldError
from actors.journal_decode import decode_trusted
from actors.order_state import Order, apply_order_event
from actors.position_accounting import PositionBook, apply_position_event
from messages.broker_events import (
    Correction,
    DealBooked,
    DealReversed,
    FeeBooked,
    OpenOrderAdopted,
    OpenOrderClosed,
    OrderRouted,
    PnlMismatch,
    PositionCorrected,
    SettlementMismatch,
)
from messages.codec import encode
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import (
    CancelRequested,
    ChargeApplied,
    FillApplied,
    MarketArchived,
    OrderCreated,
    PositionCreated,
    PositionSettlement,
    ReversalApplied,
    StepCommitted,
    StepStarted,
)
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketClosed, MarketDefinition, MarketOpened, MarketResolved
from messages.mementos import (
    MarketMemento,
    OrderMemento,
    PositionMemento,
    RuntimeStateMemento,
    VenueCommandMemento,
)
from messages.order_commands import SubmitOrder
from messages.orders import CancelRejected, OrderAccepted, OrderCancelled, OrderRejected
from messages.position_commands import ClearPending, MarkPending
from messages.risk import LimitsChanged, RiskLimits


def order_stream(order_id: str) -> str:
    return f"order:{order_id}"


def position_stream(position_id: str) -> str:
    return f"position:{position_id}"


def market_stream(market_id: str) -> str:
    return f"market:{market_id}"


RISK_STREAM = "risk"


def account_stream(account: str) -> str:
    return f"account:{account}"


def market_data_stream(market_id: str) -> str:
    return f"marketdata:{market_id}"


RUNTIME_STREAM = "runtime"


@attrs.define
class MarketRecord:
    """What the journal knows of a market's lifecycle."""

    definition: MarketDefinition
    opened_step: int
    position_id: str | None = None
    closed: bool = False
    winning_security_id: str | None = None
    archived: bool = False


class RuntimeState:
    """Orders, positions and markets of a run, rebuilt event by event."""

    def memento(self) -> RuntimeStateMemento:
        """The whole state as immutable data, for a journal snapshot."""
        return RuntimeStateMemento(
            seq=self.seq,
            orders=tuple(order.memento() for order in self.orders.values()),
            positions=tuple(book.memento() for book in self.positions.values()),
            markets=tuple(
                MarketMemento(
                    definition=record.definition,
                    opened_step=record.opened_step,
                    position_id=record.position_id,
                    closed=record.closed,
                    winning_security_id=record.winning_security_id,
                    archived=record.archived,
                )
                for record in self.markets.values()
            ),
            order_count=self.order_count,
            step=self.step,
            step_atomic=self.step_atomic,
            committed_step=self.committed_step,
            record_step=self.record_step,
            step_open=self.step_open,
            account_legs=self.accounts.memento(),
            account_deals=self.accounts.deals,
            account_cash=self.accounts.cash_memento(),
            routed=tuple(self.routed.values()),
            adopted=tuple(self.adopted.values()),
            risk_limits=self.risk_limits,
            venue_commands=None if self.venue_commands is None else tuple(self.venue_commands),
        )

    @classmethod
    def from_memento(cls, memento: RuntimeStateMemento) -> RuntimeState:
        state = cls()
        state.seq = memento.seq
        for order_memento in memento.orders:
            order = Order.from_memento(order_memento)
            state.orders[order.order_id] = order
            state.order_markets[order.order_id] = order.market_id
        for position_memento in memento.positions:
            book = PositionBook.from_memento(position_memento)
            state.positions[book.position_id] = book
        for market in memento.markets:
            state.markets[market.definition.market_id] = MarketRecord(
                definition=market.definition,
                opened_step=market.opened_step,
                position_id=market.position_id,
                closed=market.closed,
                winning_security_id=market.winning_security_id,
                archived=market.archived,
            )
        state.order_count = memento.order_count
        state.step = memento.step
        state.step_atomic = memento.step_atomic
        state.committed_step = memento.committed_step
        state.record_step = memento.record_step
        state.step_open = memento.step_open
        state.accounts = AccountBook.from_memento(
            memento.account_legs, memento.account_deals, memento.account_cash
        )
        state.routed = {routed.order_no: routed for routed in memento.routed}
        state.adopted = {adopted.order_no: adopted for adopted in memento.adopted}
        state.risk_limits = memento.risk_limits
        state.venue_commands = (
            None if memento.venue_commands is None else list(memento.venue_commands)
        )
        return state

    def __init__(self) -> None:
        self.seq = 0
        self.orders: dict[str, Order] = {}
        self.positions: dict[str, PositionBook] = {}
        self.markets: dict[str, MarketRecord] = {}
        self.order_markets: dict[str, str] = {}
        self.order_count = 0
        self.step = -1
        self.step_atomic = False
        self.committed_step = -1
        self.record_step = -1
        self.step_open = False
        """Between an atomic StepStarted (a feed record's or a client unit's) and its
        StepCommitted; unit numbers need no order, so this is a flag, not a comparison."""
        self.accounts = AccountBook()
        self.routed: dict[str, OrderRouted] = {}
        self.adopted: dict[str, OpenOrderAdopted] = {}
        self.risk_limits: RiskLimits | None = None
        self.venue_commands: list[VenueCommandMemento] | None = []
        """The live markets' orders and cancels by feed step, for the venue's rebuild; None
        when restored from a snapshot older than this fold (the rebuild reads the journal)."""

    @property
    def in_step(self) -> bool:
        """True between an atomic StepStarted and its StepCommitted: a snapshot must wait."""
        return self.step_open

    @property
    def resume_step(self) -> int:
        """The first feed record a restarted run must feed.

        After an atomic (lockstep) step the next one (a torn one was voided, so it is fed
        again). After a paced step, the next one if its record reached the journal, else
        that record again (its StepStarted and the record itself can be committed apart):
        stale book changes are ignored and lifecycle records are idempotent.
        """
        if self.step < 0:
            return 0
        if self.step_atomic or self.record_step == self.step:
            return self.step + 1
        return self.step

    def memento_of(self, stream: str) -> OrderMemento | PositionMemento | None:
        """The order's or position's memento for its stream; None if the state has none."""
        kind, _, key = stream.partition(":")
        if kind == "position" and (book := self.positions.get(key)) is not None:
            return book.memento()
        if kind == "order" and (order := self.orders.get(key)) is not None:
            return order.memento()
        return None

    def live_markets(self) -> list[MarketRecord]:
        return [record for record in self.markets.values() if not record.archived]

    def apply(self, seq: int, stream: str, event: Any) -> None:
        """Fold one committed event into the state.

        Raises ``FoldError`` (the cause chained) for a kind the fold has no handler for or
        an event its handler cannot apply. The state is then unusable: its owner fails
        (the journal actor) or stops (recovery), and nothing may snapshot it.
        """
        self.seq = seq
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise FoldError(seq, stream, type(event).__name__, "no fold handler for this kind")
        try:
            handler(self, stream, event)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            raise FoldError(seq, stream, type(event).__name__, reason) from error

    def _market_opened(self, _stream: str, event: MarketOpened) -> None:
        self.record_step = self.step
        definition = event.definition
        self.markets.setdefault(
            definition.market_id, MarketRecord(definition=definition, opened_step=self.step)
        )

    def _market_closed(self, _stream: str, event: MarketClosed) -> None:
        """A feed record: for a market never opened the supervisor logs an error, and so
        it changes nothing here either."""
        self.record_step = self.step
        record = self.markets.get(event.market_id)
        if record is not None:
            record.closed = True

    def _market_resolved(self, _stream: str, event: MarketResolved) -> None:
        """A feed record: an unknown market or winner is logged and ignored by the
        supervisor, and ignored here."""
        self.record_step = self.step
        record = self.markets.get(event.market_id)
        if record is not None and event.winning_security_id in record.definition.security_ids:
            record.winning_security_id = event.winning_security_id

    def _market_archived(self, _stream: str, event: MarketArchived) -> None:
        """A settled market is final: drop its orders, and its position's fill history.

        Nothing can reach them any more, and keeping every fill of every past market would
        make each snapshot (and each recovery) grow with the length of the run.
        """
        record = self.markets[event.market_id]
        record.archived = True
        if self.venue_commands is not None:
            self.venue_commands = [c for c in self.venue_commands if c.market_id != event.market_id]
        for order_id in [o for o, m in self.order_markets.items() if m == event.market_id]:
            del self.order_markets[order_id]
            del self.orders[order_id]
        book = self.positions.get(record.position_id or "")
        if book is not None:
            self.positions[book.position_id] = PositionBook.from_memento(
                attrs.evolve(book.memento(), fills=())
            )

    def _position_created(self, _stream: str, event: PositionCreated) -> None:
        self.positions[event.position_id] = PositionBook(
            position_id=event.position_id,
            market_id=event.market_id,
            account=event.account,
            strategy=event.strategy,
            security_ids=event.security_ids,
        )
        market = self.markets.get(event.market_id)
        if market is not None:
            market.position_id = event.position_id

    def _position_event(self, stream: str, event: Any) -> None:
        apply_position_event(self.positions[stream.removeprefix("position:")], event)

    def _order_created(self, _stream: str, event: OrderCreated) -> None:
        self.orders[event.order_id] = order_from_created(event)
        self.order_markets[event.order_id] = event.market_id
        self.order_count += 1
        if self.venue_commands is not None:
            self.venue_commands.append(
                VenueCommandMemento(step=self.step, market_id=event.market_id, created=event)
            )

    def _order_event(self, stream: str, event: Any) -> None:
        order = self.orders.get(stream.removeprefix("order:"))
        if order is None:
            # An archived market's order: dropped from the fold, final, and its actor gone.
            return
        if isinstance(event, CancelRequested) and self.venue_commands is not None:
            self.venue_commands.append(
                VenueCommandMemento(step=self.step, market_id=order.market_id, cancel=event)
            )
        apply_order_event(order, event)

    def _market_data(self, _stream: str, _event: Any) -> None:
        """Book data is journaled for the MarketActors; the orders and positions ignore it."""
        self.record_step = self.step

    def _order_routed(self, _stream: str, event: OrderRouted) -> None:
        self.routed[event.order_no] = event

    def _deal_booked(self, _stream: str, event: DealBooked) -> None:
        self.accounts.book(event)

    def _fee_booked(self, _stream: str, event: FeeBooked) -> None:
        self.accounts.charge(event)

    def _position_corrected(self, _stream: str, event: PositionCorrected) -> None:
        self.accounts.correct(event)

    def _deal_reversed(self, _stream: str, event: DealReversed) -> None:
        self.accounts.reverse(event)

    def _open_order_adopted(self, _stream: str, event: OpenOrderAdopted) -> None:
        self.adopted[event.order_no] = event

    def _open_order_closed(self, _stream: str, event: OpenOrderClosed) -> None:
        self.adopted.pop(event.order_no, None)

    def _limits_changed(self, _stream: str, event: LimitsChanged) -> None:
        self.risk_limits = event.limits

    def _correction(
        self, _stream: str, _event: Correction | PnlMismatch | SettlementMismatch
    ) -> None:
        """The audit record of a reconciliation change or alert; its effect (if any) is its
        own event."""

    def _step_started(self, _stream: str, event: StepStarted) -> None:
        self.step = event.step
        self.step_atomic = event.atomic
        self.step_open = event.atomic

    def _step_committed(self, _stream: str, event: StepCommitted) -> None:
        self.committed_step = event.step
        self.step_open = False


def encode_state(state: RuntimeState) -> str:
    """A snapshot payload: the state's memento as codec JSON."""
    return encode(state.memento())


def decode_state(payload: str) -> RuntimeState:
    """The state a snapshot payload holds."""
    memento = decode_trusted("RuntimeStateMemento", payload)
    assert isinstance(memento, RuntimeStateMemento)
    return RuntimeState.from_memento(memento)


def order_from_created(event: OrderCreated) -> Order:
    """A new order exactly as OrderCreated describes it."""
    return Order(
        order_id=event.order_id,
        correlation_id=event.correlation_id,
        market_id=event.market_id,
        security_id=event.security_id,
        account=event.account,
        strategy=event.strategy,
        side=event.side,
        price=event.price,
        size=event.size,
        manual=event.manual,
    )


def submit_for(created: OrderCreated) -> SubmitOrder:
    """The venue command for a journaled order: what execution sends, and a replay resends."""
    return SubmitOrder(
        correlation_id=created.correlation_id,
        order_id=created.order_id,
        market_id=created.market_id,
        security_id=created.security_id,
        side=created.side,
        price=created.price,
        size=created.size,
    )


_HANDLERS: dict[type, Any] = {
    MarketOpened: RuntimeState._market_opened,
    MarketClosed: RuntimeState._market_closed,
    MarketResolved: RuntimeState._market_resolved,
    MarketArchived: RuntimeState._market_archived,
    PositionCreated: RuntimeState._position_created,
    MarkPending: RuntimeState._position_event,
    ClearPending: RuntimeState._position_event,
    FillApplied: RuntimeState._position_event,
    ReversalApplied: RuntimeState._position_event,
    ChargeApplied: RuntimeState._position_event,
    PositionSettlement: RuntimeState._position_event,
    OrderCreated: RuntimeState._order_created,
    Fill: RuntimeState._order_event,
    FillReversed: RuntimeState._order_event,
    FillCharged: RuntimeState._order_event,
    OrderAccepted: RuntimeState._order_event,
    OrderRejected: RuntimeState._order_event,
    OrderCancelled: RuntimeState._order_event,
    CancelRejected: RuntimeState._order_event,
    CancelRequested: RuntimeState._order_event,
    StepStarted: RuntimeState._step_started,
    BookSnapshot: RuntimeState._market_data,
    PriceChange: RuntimeState._market_data,
    ReferencePrice: RuntimeState._market_data,
    StepCommitted: RuntimeState._step_committed,
    OrderRouted: RuntimeState._order_routed,
    DealBooked: RuntimeState._deal_booked,
    FeeBooked: RuntimeState._fee_booked,
    PositionCorrected: RuntimeState._position_corrected,
    DealReversed: RuntimeState._deal_reversed,
    OpenOrderAdopted: RuntimeState._open_order_adopted,
    OpenOrderClosed: RuntimeState._open_order_closed,
    Correction: RuntimeState._correction,
    PnlMismatch: RuntimeState._correction,
    SettlementMismatch: RuntimeState._correction,
    LimitsChanged: RuntimeState._limits_changed,
}
