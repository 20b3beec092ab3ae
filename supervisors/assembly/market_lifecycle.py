"""MarketLifecycleActor: opens, switches, settles and archives markets (seed 000).

On a journaled MarketOpened it journals the fresh position's creation, has the position's
PositionActor started and tells the ExecutionActor the new ref *before* it has the
MarketActor started, so no book (and therefore no signal, no order) for the new market
exists before execution knows the position to route it to. On resolution it settles the
position once the closed market has no open order left, then archives it.

It supervises nothing: each market's MarketActor and PositionActor and each order's
OrderActor are children of a plain kernel ``Supervisor`` (``children``, one_for_one,
permanent), which this actor grows and shrinks with ``AddChild`` and ``RemoveChild`` told
with a ``reply_to``: its handlers never block on an ask (only ``on_start`` waits, for the
recovered markets). Until every reply it waits for is in, the lifecycle and market-data
messages it gets wait in a backlog and are handled afterwards in arrival order, so they
are handled as if each start were instant. A child that crashes is
restarted alone by that supervisor: it rebuilds itself from the journal before it takes a
message and re-points its journal stream (``Route``); the supervisor's ``ChildRestarted``
then tells this actor the new ref, and it re-wires it (market data, strategies) and tells
execution, so nobody holds a dead one.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pykka

from actors.journal_store import StoreFactory
from actors.market import MarketActor
from actors.order import OrderActor
from actors.order_book import OrderBook
from actors.order_state import Order
from actors.position import PositionActor
from actors.position_accounting import PositionBook
from actors.runtime_state import market_stream, order_from_created, position_stream
from messages.enums import MarketPhase, PositionStatus
from messages.journal import MarketArchived, PositionCreated, PositionSettlement
from messages.journal_protocol import Append
from messages.market_commands import ArchiveMarket, CloseMarket, SwitchMarket
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import (
    MarketClosed,
    MarketDefinition,
    MarketDrained,
    MarketOpened,
    MarketResolved,
)
from messages.mementos import OrderMemento
from messages.orders import OrderSnapshot
from messages.positions import PositionArchived, PositionSettled, PositionSnapshot
from messages.queries import ListMarkets, ListPositions, MarketState, MarketStates, PositionRefs
from messages.subscriptions import Subscribe, Unsubscribe
from messages.supervision import (
    AdoptOrders,
    OrderStarted,
    PositionRestarted,
    ReviveOrder,
    StopOrder,
    SuperviseOrder,
)
from supervisors.assembly.recovery import market_loader, order_loader, position_loader
from supervisors.kernel.base import RuntimeActor, handles, tell_quietly
from supervisors.kernel.child_spec import ChildFactory, ChildSpec, SupervisedContext
from supervisors.kernel.errors import ChildStartError
from supervisors.kernel.events import (
    ChildAbandoned,
    ChildRestarted,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    ChildTerminated,
    IntensityExceeded,
)
from supervisors.kernel.protocol import (
    AddChild,
    AddChildReply,
    ChildInfo,
    ChildRefused,
    RemoveChild,
    RemoveChildReply,
)
from supervisors.kernel.supervised import Supervised

Ref = pykka.ActorRef[Any]


@attrs.define
class RestoredMarket:
    """A live market as recovery rebuilt it; the lifecycle actor takes ownership of its
    objects."""

    definition: MarketDefinition
    position: PositionBook | None
    books: dict[str, OrderBook]
    closed: bool
    winning_security_id: str | None
    reference: ReferencePrice | None = None


@attrs.frozen(kw_only=True)
class _Ports:
    """What the children's factories use. They run in the children supervisor's thread, so
    they read only this, never the lifecycle actor's changing state."""

    lifecycle: Ref
    execution: Ref
    venue: Ref
    bus: Ref
    journal: Ref
    stores: StoreFactory
    index: Ref | None


@attrs.define
class _OrderChild:
    ref: Ref
    position: Ref
    """The position the order's spec starts every incarnation with."""


@attrs.define
class _Market:
    """One live market: its children's current refs (None until started) and its progress."""

    definition: MarketDefinition
    position_id: str
    position: Ref | None = None
    market: Ref | None = None
    orders: dict[str, _OrderChild] = attrs.field(factory=dict)
    drained: bool = False
    closed: bool = False
    winning_security_id: str | None = None

    def state(self) -> MarketState:
        if self.winning_security_id is not None:
            phase = MarketPhase.RESOLVED
        else:
            phase = MarketPhase.CLOSED if self.closed else MarketPhase.OPEN
        return MarketState(
            market_id=self.definition.market_id,
            phase=phase,
            winning_security_id=self.winning_security_id,
        )


def position_child(market_id: str) -> str:
    return f"position:{market_id}"


def market_child(market_id: str) -> str:
    return f"market:{market_id}"


def order_child(order_id: str) -> str:
    return f"order:{order_id}"


def _position_factory(ports: _Ports, book: PositionBook) -> ChildFactory:
    """Start the position from ``book`` first, from the journal on every restart."""
    first_start = True

    def start(context: SupervisedContext) -> Ref:
        nonlocal first_start
        source: PositionBook | Callable[[], tuple[PositionBook, int]] = book
        if not first_start:
            source = position_loader(ports.stores, book.position_id, ports.journal)
        first_start = False
        return PositionActor.start(
            source,
            bus=ports.bus,
            parent=ports.lifecycle,
            journal=ports.journal,
            index=ports.index,
            supervision=context,
        )

    return start


def _market_factory(
    ports: _Ports,
    definition: MarketDefinition,
    books: dict[str, OrderBook] | None,
    reference: ReferencePrice | None = None,
) -> ChildFactory:
    """Start the market with ``books`` (and its reference price) first, from its journaled
    data on every restart."""
    first_start = True

    def start(context: SupervisedContext) -> Ref:
        nonlocal first_start
        if first_start:
            first_start = False
            return MarketActor.start(
                definition, books, journal=ports.journal, reference=reference, supervision=context
            )
        source = market_loader(ports.stores, definition)
        return MarketActor.start(definition, source, journal=ports.journal, supervision=context)

    return start


def _order_factory(
    ports: _Ports, order_id: str, order: Order | None, position: Ref, position_id: str
) -> ChildFactory:
    """Start the order as given first (if given), from the journal on every restart."""
    first: Order | None = order

    def start(context: SupervisedContext) -> Ref:
        nonlocal first
        source: Order | Callable[[], tuple[Order, int]] = (
            first if first is not None else order_loader(ports.stores, order_id, ports.journal)
        )
        first = None
        return OrderActor.start(
            source,
            position=position,
            position_id=position_id,
            execution=ports.execution,
            venue=ports.venue,
            bus=ports.bus,
            journal=ports.journal,
            supervision=context,
        )

    return start


Reply = ChildInfo | ChildRefused | bool
"""What a told ``AddChild`` (the child's info, or the refusal) or ``RemoveChild`` (whether
the child was there) comes back with."""

_START_ASK_S = 15.0
"""How long ``on_start`` waits for an answer: longer than a child may take to start or stop
(5 s each), so the supervisor always answers first."""

_IN_ORDER = frozenset(
    {
        MarketOpened,
        BookSnapshot,
        PriceChange,
        ReferencePrice,
        MarketClosed,
        MarketResolved,
        MarketDrained,
        PositionSettled,
        SuperviseOrder,
        StopOrder,
        ReviveOrder,
    }
)
"""What waits in the backlog while a reply is due: each may need a child started before."""


class MarketLifecycleActor(Supervised, RuntimeActor):
    """Owns the markets' life; feed records reach it through the journal, in order.

    ``children`` is the supervisor of the per-market actors; a restarted one rebuilds itself
    from a journal store that ``stores`` opens for it.
    """

    kind = "market_lifecycle"

    def __init__(
        self,
        *,
        children: Ref,
        execution: Ref,
        venue: Ref,
        bus: Ref,
        journal: Ref,
        stores: StoreFactory,
        strategies: tuple[tuple[Ref, str], ...] = (),
        account: str = "paper",
        restored: Sequence[RestoredMarket] = (),
        restored_orders: tuple[OrderMemento, ...] = (),
        restored_closed: tuple[OrderSnapshot, ...] = (),
        archived: Sequence[PositionSnapshot] = (),
        archived_markets: Sequence[MarketState] = (),
        index: Ref | None = None,
        risk: Ref | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.children = children
        self.index = index
        self.risk = risk
        self.execution = execution
        self.venue = venue
        self.bus = bus
        self.journal = journal
        self.strategies = strategies
        self.account = account
        self.ports = _Ports(
            lifecycle=self.actor_ref,
            execution=execution,
            venue=venue,
            bus=bus,
            journal=journal,
            stores=stores,
            index=index,
        )
        self.markets: dict[str, _Market] = {}
        self.archived: list[PositionSnapshot] = list(archived)
        self.archived_markets: list[MarketState] = list(archived_markets)
        self._order_markets: dict[str, str] = {}
        self._restored = list(restored)
        self._restored_orders = restored_orders
        self._restored_closed = restored_closed
        self._awaiting: dict[str, Callable[[Reply], None]] = {}
        self._backlog: collections.deque[Callable[[], None]] = collections.deque()
        self._starting = False

    def on_start(self) -> None:
        """Start every recovered market's actors (execution told), then their orders' (none
        for a closed order whose effects the journal holds: execution keeps its snapshot),
        then settle or close what recovery found settled or closed.

        Here, before this actor takes any message, it asks the children supervisor and waits
        for each answer (the supervisor never asks back): the root starts the next child
        (the reconciler, whose reports execution routes to these orders) only once this one
        is set up, so all of them must run by then.
        """
        self.children.tell(Subscribe(subscriber=self.actor_ref, welcome=False))
        restored, self._restored = self._restored, []
        orders, self._restored_orders = self._restored_orders, ()
        closed, self._restored_closed = self._restored_closed, ()
        self._starting = True
        for market in restored:
            entry = self._enter(market.definition, market.position)
            entry.winning_security_id = market.winning_security_id
            entry.closed = market.closed
            book = market.position or self._create_position(entry)
            self._spawn(entry, book, market.books, market.reference)
        self.execution.tell(AdoptOrders(orders=orders, closed=closed))
        for snapshot in closed:
            self._order_markets[snapshot.order_id] = snapshot.market_id
        for memento in orders:
            order = Order.from_memento(memento)
            self._start_order(order.order_id, order.market_id, order, submit=False)
        for market in restored:
            self._settle_or_close(market)
        self._starting = False

    def on_receive(self, message: Any) -> Any:
        if type(message) in _IN_ORDER and (self._awaiting or self._backlog):
            self.handled += 1
            handler = self._dispatch[type(message)]
            self._backlog.append(lambda: handler(self, message))
            return None
        return super().on_receive(message)

    # -- replies from the children supervisor -------------------------------------------------

    def _add(self, spec: ChildSpec, then: Callable[[Reply], None]) -> None:
        if self._starting:
            then(self.children.ask(AddChild(spec=spec), block=True, timeout=_START_ASK_S))
            return
        request = AddChild(spec=spec, reply_to=self.actor_ref)
        self._awaiting[request.id] = then
        self.children.tell(request)

    def _remove(self, child_id: str, then: Callable[[Reply], None] = lambda _removed: None) -> None:
        if self._starting:
            removed = self.children.ask(
                RemoveChild(child_id=child_id), block=True, timeout=_START_ASK_S
            )
            then(removed)
            return
        request = RemoveChild(child_id=child_id, reply_to=self.actor_ref)
        self._awaiting[request.id] = then
        self.children.tell(request)

    @handles(AddChildReply)
    def _child_added(self, reply: AddChildReply) -> None:
        self._answered(reply.correlation_id, reply.answer)

    @handles(RemoveChildReply)
    def _child_removed(self, reply: RemoveChildReply) -> None:
        self._answered(reply.correlation_id, reply.removed)

    def _answered(self, correlation_id: str, answer: Reply) -> None:
        then = self._awaiting.pop(correlation_id, None)
        if then is None:
            self.log.error("reply_to_no_request", correlation_id=correlation_id)
            return
        then(answer)
        self._work_off()

    def _work_off(self) -> None:
        """Handle the backlog, in order, until it is empty or a step waits for a reply."""
        while not self._awaiting and self._backlog:
            self._backlog.popleft()()

    def _next(self, step: Callable[[], None]) -> None:
        """Run ``step`` once the replies due are in, before anything else in the backlog."""
        if self._awaiting:
            self._backlog.appendleft(step)
        else:
            step()

    # -- starting a market ---------------------------------------------------------------------

    @handles(MarketOpened)
    def _opened(self, message: MarketOpened) -> None:
        definition = message.definition
        if definition.market_id in self.markets:
            self.log.error("market_opened_twice", market_id=definition.market_id)
            return
        self.venue.tell(message)
        entry = self._enter(definition, None)
        self._spawn(entry, self._create_position(entry), None, announce=message)

    @property
    def _strategy_name(self) -> str:
        return self.strategies[0][1] if self.strategies else "default"

    def _enter(self, definition: MarketDefinition, book: PositionBook | None) -> _Market:
        """Known before its children start: one that dies at once is re-wired from here."""
        position_id = (
            book.position_id
            if book is not None
            else f"{definition.market_id}/{self.account}/{self._strategy_name}"
        )
        entry = _Market(definition=definition, position_id=position_id)
        self.markets[definition.market_id] = entry
        return entry

    def _create_position(self, entry: _Market) -> PositionBook:
        """Journal a fresh position for the market and return its (empty) book."""
        definition = entry.definition
        strategy_name = self._strategy_name
        self.journal.tell(
            Append(
                event=PositionCreated(
                    position_id=entry.position_id,
                    market_id=definition.market_id,
                    account=self.account,
                    strategy=strategy_name,
                    security_ids=definition.security_ids,
                ),
                stream=position_stream(entry.position_id),
                dedup_key=f"position:{entry.position_id}",
            )
        )
        return PositionBook(
            position_id=entry.position_id,
            market_id=definition.market_id,
            account=self.account,
            strategy=strategy_name,
            security_ids=definition.security_ids,
        )

    def _spawn(
        self,
        entry: _Market,
        book: PositionBook,
        books: dict[str, OrderBook] | None,
        reference: ReferencePrice | None = None,
        announce: MarketOpened | None = None,
    ) -> None:
        """The position first, execution told its ref, and only then the market."""
        self._start_position(entry, book)
        self._next(lambda: self._start_market(entry, books, reference, announce))

    def _start_position(self, entry: _Market, book: PositionBook) -> None:
        market_id = entry.definition.market_id

        def started(answer: Reply) -> None:
            position = _started_ref(answer, f"position of {market_id}")
            entry.position = position
            self.execution.tell(
                SwitchMarket(
                    definition=entry.definition,
                    position=position,
                    position_id=book.position_id,
                    account=book.account,
                    strategy=book.strategy,
                    supervisor=self.actor_ref,
                )
            )

        spec = ChildSpec(id=position_child(market_id), start=_position_factory(self.ports, book))
        self._add(spec, started)

    def _start_market(
        self,
        entry: _Market,
        books: dict[str, OrderBook] | None,
        reference: ReferencePrice | None,
        announce: MarketOpened | None,
    ) -> None:
        definition = entry.definition

        def started(answer: Reply) -> None:
            market = _started_ref(answer, f"market {definition.market_id}")
            entry.market = market
            self._wire(entry, market, first_start=True)
            if announce is not None:
                self.bus.tell(announce)
                self.log.info("market_opened", market_id=definition.market_id)

        spec = ChildSpec(
            id=market_child(definition.market_id),
            start=_market_factory(self.ports, definition, books, reference),
        )
        self._add(spec, started)

    def _wire(self, entry: _Market, market: Ref, *, first_start: bool) -> None:
        """Subscribe the market's readers. The venue hears each book first: an order a
        strategy sends on that book then always reaches the venue after the book it was
        priced on, which keeps a replay of the same feed deterministic. A restarted market
        re-publishes its book to the strategies, which skip one they evaluated."""
        tell_quietly(market, Subscribe(subscriber=self.venue))
        if entry.position is not None:
            tell_quietly(market, Subscribe(subscriber=entry.position))
        for watcher in (self.index, self.risk):
            if watcher is not None:
                tell_quietly(market, Subscribe(subscriber=watcher))
        for strategy, _name in self.strategies:
            if first_start and entry.position is not None:
                tell_quietly(entry.position, Subscribe(subscriber=strategy))
            tell_quietly(market, Subscribe(subscriber=strategy, welcome=not first_start))

    # -- orders --------------------------------------------------------------------------------

    @handles(SuperviseOrder)
    def _supervise_order(self, message: SuperviseOrder) -> None:
        created = message.created
        self._start_order(created.order_id, created.market_id, order_from_created(created))

    @handles(StopOrder)
    def _stop_order(self, message: StopOrder) -> None:
        """A closed, quiesced order: its thread goes; its market is kept for a revival."""
        entry = self.markets.get(self._order_markets.get(message.order_id, ""))
        if entry is None or entry.orders.pop(message.order_id, None) is None:
            return
        self._remove(order_child(message.order_id))

    @handles(ReviveOrder)
    def _revive_order(self, message: ReviveOrder) -> None:
        """A late report for a stopped order: its actor again, rebuilt from the journal."""
        market_id = self._order_markets.get(message.order_id)
        if market_id is None:
            self.log.error("revive_for_unknown_order", order_id=message.order_id)
            return
        self._start_order(message.order_id, market_id, None, submit=False)

    def _start_order(
        self, order_id: str, market_id: str, order: Order | None, *, submit: bool = True
    ) -> None:
        """Start an order as a child of its market (from the journal when ``order`` is
        None); execution gets the ref once it runs."""
        entry = self.markets.get(market_id)
        if entry is None or entry.position is None:
            self.log.error("order_for_unknown_market", order_id=order_id)
            return
        position = entry.position

        def started(answer: Reply) -> None:
            if not isinstance(answer, ChildInfo) or answer.ref is None:
                self.log.error("order_did_not_start", order_id=order_id, detail=str(answer))
                return
            entry.orders[order_id] = _OrderChild(ref=answer.ref, position=position)
            self._order_markets[order_id] = market_id
            self.execution.tell(OrderStarted(order_id=order_id, ref=answer.ref, submit=submit))

        factory = _order_factory(self.ports, order_id, order, position, entry.position_id)
        self._add(ChildSpec(id=order_child(order_id), start=factory), started)

    # -- restarts ------------------------------------------------------------------------------

    @handles(ChildRestarted)
    def _child_restarted(self, event: ChildRestarted) -> None:
        kind, _, name = event.child_id.partition(":")
        if kind == "position":
            self._rewire_position(name, event.ref)
        elif kind == "market":
            self._rewire_market(name, event.ref)
        elif kind == "order":
            self._rewire_order(name, event.ref)

    @handles(
        ChildStarted,
        ChildTerminated,
        ChildStopped,
        ChildAbandoned,
        ChildStartFailed,
        IntensityExceeded,
        reads_only=True,
    )
    def _supervision_event(self, _event: object) -> None:
        """Only a restart replaces a ref this actor hands out; the bus shows the rest."""

    def _rewire_position(self, market_id: str, position: Ref) -> None:
        entry = self.markets.get(market_id)
        if entry is None:
            return
        # A market that is itself restarting subscribes the current position when it is back.
        if entry.market is not None and entry.position is not None:
            tell_quietly(entry.market, Unsubscribe(subscriber=entry.position))
        entry.position = position
        if entry.market is not None:
            tell_quietly(entry.market, Subscribe(subscriber=position))
        for strategy, _name in self.strategies:
            tell_quietly(position, Subscribe(subscriber=strategy))
        # Execution dead means the core is restarting, this actor with it; the next one
        # tells the new execution every position afresh.
        restarted = PositionRestarted(market_id=market_id, position=position)
        tell_quietly(self.execution, restarted)
        # Every order of the market addresses its fills to the new position directly; one
        # that is itself restarting is told when its restart is reported.
        for order in entry.orders.values():
            tell_quietly(order.ref, restarted)
        self.log.info("position_restarted", market_id=market_id)

    def _rewire_market(self, market_id: str, market: Ref) -> None:
        entry = self.markets.get(market_id)
        if entry is None:
            return
        entry.market = market
        self._wire(entry, market, first_start=False)
        self.log.info("market_restarted", market_id=market_id)

    def _rewire_order(self, order_id: str, ref: Ref) -> None:
        entry = self.markets.get(self._order_markets.get(order_id, ""))
        order = entry.orders.get(order_id) if entry is not None else None
        if entry is None or order is None:
            return
        order.ref = ref
        tell_quietly(self.execution, OrderStarted(order_id=order_id, ref=ref, submit=False))
        if entry.position is not None and entry.position != order.position:
            # Its spec started it with a position that has been restarted since.
            tell_quietly(
                ref,
                PositionRestarted(market_id=entry.definition.market_id, position=entry.position),
            )
        self.log.info("order_restarted", order_id=order_id)

    # -- market data and the end of a market ---------------------------------------------------

    @handles(BookSnapshot, PriceChange, ReferencePrice)
    def _market_data(self, message: BookSnapshot | PriceChange | ReferencePrice) -> None:
        entry = self.markets.get(message.market_id)
        if entry is None or entry.market is None:
            self.log.error("market_data_for_unknown_market", market_id=message.market_id)
            return
        # A dead market rebuilds from the journal, where this record already is.
        tell_quietly(entry.market, message)

    @handles(MarketClosed)
    def _closed(self, message: MarketClosed) -> None:
        if message.market_id not in self.markets:
            self.log.error("close_for_unknown_market", market_id=message.market_id)
            return
        self.markets[message.market_id].closed = True
        self.venue.tell(message)
        self.execution.tell(CloseMarket(market_id=message.market_id, notify=self.actor_ref))
        self.bus.tell(message)
        self.log.info("market_closed", market_id=message.market_id)

    @handles(MarketResolved)
    def _resolved(self, message: MarketResolved) -> None:
        entry = self.markets.get(message.market_id)
        if entry is None:
            self.log.error("resolution_for_unknown_market", market_id=message.market_id)
            return
        if message.winning_security_id not in entry.definition.security_ids:
            self.log.error(
                "resolution_for_unknown_instrument",
                market_id=message.market_id,
                winning_security_id=message.winning_security_id,
            )
            return
        entry.winning_security_id = message.winning_security_id
        self.bus.tell(message)
        self._settle_when_ready(entry)

    @handles(MarketDrained)
    def _drained(self, message: MarketDrained) -> None:
        entry = self.markets.get(message.market_id)
        if entry is not None:
            entry.drained = True
            self._settle_when_ready(entry)

    @handles(PositionSettled)
    def _position_settled(self, message: PositionSettled) -> None:
        self._archive(message.position.market_id, message.position)

    @handles(ListPositions, reads_only=True)
    def _list_positions(self, _message: ListPositions) -> PositionRefs:
        return PositionRefs(
            live=tuple(
                (market_id, entry.position)
                for market_id, entry in self.markets.items()
                if entry.position is not None
            ),
            archived=tuple(self.archived),
        )

    @handles(ListMarkets, reads_only=True)
    def _list_markets(self, _message: ListMarkets) -> MarketStates:
        live = (entry.state() for entry in self.markets.values())
        return MarketStates(markets=(*self.archived_markets, *live))

    def _settle_or_close(self, market: RestoredMarket) -> None:
        """What recovery found settled is archived; what it found closed is closed again."""
        market_id = market.definition.market_id
        if market.position is not None and market.position.status is PositionStatus.SETTLED:
            self._archive(market_id, market.position.snapshot())
        elif market.closed:
            self.execution.tell(CloseMarket(market_id=market_id, notify=self.actor_ref))

    def _settle_when_ready(self, entry: _Market) -> None:
        if entry.winning_security_id is None or not entry.drained or entry.position is None:
            return
        self.journal.tell(
            Append(
                event=PositionSettlement(
                    position_id=entry.position_id,
                    market_id=entry.definition.market_id,
                    winning_security_id=entry.winning_security_id,
                    payout=entry.definition.payout,
                ),
                stream=position_stream(entry.position_id),
                dedup_key=f"settle:{entry.position_id}",
                deliver_to=entry.position,
            )
        )

    def _archive(self, market_id: str, final: PositionSnapshot) -> None:
        entry = self.markets.pop(market_id, None)
        if entry is None:
            return
        self.journal.tell(
            Append(
                event=MarketArchived(market_id=market_id),
                stream=market_stream(market_id),
                dedup_key=f"archived:{market_id}",
            )
        )
        self.execution.tell(ArchiveMarket(market_id=market_id))
        self._remove(market_child(market_id))
        for order_id in entry.orders:
            self._remove(order_child(order_id))
        for order_id in [o for o, m in self._order_markets.items() if m == market_id]:
            del self._order_markets[order_id]
        self.archived.append(final)
        self.archived_markets.append(entry.state())
        # The replies come in the order asked: after the last one, all of them have stopped.
        self._remove(position_child(market_id), lambda _removed: self._archived(market_id, final))

    def _archived(self, market_id: str, final: PositionSnapshot) -> None:
        """Once its actors have stopped, the index and the bus hear that it is gone."""
        archived = PositionArchived(position=final)
        if self.index is not None:
            tell_quietly(self.index, archived)
        self.bus.tell(archived)
        self.log.info("market_archived", market_id=market_id)


def _started_ref(answer: Reply, what: str) -> Ref:
    """The started child's ref; a market whose child cannot start fails this actor, and the
    core restarts from the journal."""
    if not isinstance(answer, ChildInfo) or answer.ref is None:
        raise ChildStartError(f"{what} did not start: {answer}")
    return answer.ref
