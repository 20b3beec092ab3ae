"""MarketSupervisor: spawns each market's actors and performs the market switch (seed 000).

On a journaled MarketOpened it journals the fresh position's creation, starts its
PositionActor and tells the ExecutionActor the new ref *before* it spawns the MarketActor,
so no book (and therefore no signal, no order) for the new market exists before execution
knows the position to route it to. On resolution it settles the position once the closed
market has no open order left, then archives it.

It is a ``Supervisor`` (supervisors/kernel/supervisor.py): each market's MarketActor and
PositionActor and each order's OrderActor are its dynamic children (one_for_one,
permanent), so a crashed one is restarted without disturbing any other market. The
restarted actor rebuilds itself from the journal before it takes a message and re-points
its journal stream (``Route``); the supervisor then re-wires it (market data, strategies)
and tells execution the new ref, so nobody holds a dead one.
"""

from __future__ import annotations

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
from messages.enums import PositionStatus
from messages.journal import MarketArchived, PositionCreated, PositionSettlement
from messages.journal_protocol import Append
from messages.market_commands import ArchiveMarket, CloseMarket, SwitchMarket
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import (
    MarketClosed,
    MarketDefinition,
    MarketDrained,
    MarketOpened,
    MarketResolved,
)
from messages.mementos import OrderMemento
from messages.positions import PositionArchived, PositionSettled, PositionSnapshot
from messages.queries import ListPositions, PositionRefs
from messages.subscriptions import Subscribe, Unsubscribe
from messages.supervision import AdoptOrders, OrderStarted, PositionRestarted, SuperviseOrder
from supervisors.assembly.recovery import market_loader, order_loader, position_loader
from supervisors.kernel.base import handles, tell_quietly
from supervisors.kernel.child_spec import ChildFactory, ChildSpec, SupervisedContext
from supervisors.kernel.errors import ChildStartError
from supervisors.kernel.protocol import AddChild, ChildRefused, RemoveChild
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler
from supervisors.kernel.supervisor import Supervisor


@attrs.define
class RestoredMarket:
    """A live market as recovery rebuilt it; the supervisor takes ownership of its objects."""

    definition: MarketDefinition
    position: PositionBook | None
    books: dict[str, OrderBook]
    closed: bool
    winning_security_id: str | None


@attrs.define
class _MarketChildren:
    definition: MarketDefinition
    market: pykka.ActorRef[Any]
    position: pykka.ActorRef[Any]
    position_id: str
    orders: set[str] = attrs.field(factory=set)
    drained: bool = False
    winning_security_id: str | None = None


def _position_child(definition: MarketDefinition) -> str:
    return f"position:{definition.market_id}"


def _market_child(definition: MarketDefinition) -> str:
    return f"market:{definition.market_id}"


def _order_child(order_id: str) -> str:
    return f"order:{order_id}"


class MarketSupervisor(Supervisor):
    """Owns the per-market actors; feed records reach it through the journal, in order.

    A restarted actor rebuilds itself from a journal store that ``stores`` opens for it.
    """

    kind = "market_supervisor"

    def __init__(
        self,
        *,
        execution: pykka.ActorRef[Any],
        venue: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
        journal: pykka.ActorRef[Any],
        stores: StoreFactory,
        strategies: tuple[tuple[pykka.ActorRef[Any], str], ...] = (),
        account: str = "paper",
        restored: Sequence[RestoredMarket] = (),
        restored_orders: tuple[OrderMemento, ...] = (),
        archived: Sequence[PositionSnapshot] = (),
        max_restarts: int = 10,
        period_s: float = 5.0,
        events: pykka.ActorRef[Any] | None = None,
        index: pykka.ActorRef[Any] | None = None,
        risk: pykka.ActorRef[Any] | None = None,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(
            name="markets",
            max_restarts=max_restarts,
            period_s=period_s,
            events=events,
            scheduler=scheduler,
            supervision=supervision,
        )
        self.stores = stores
        self.index = index
        self.risk = risk
        self.execution = execution
        self.venue = venue
        self.bus = bus
        self.journal = journal
        self.strategies = strategies
        self.account = account
        self.markets: dict[str, _MarketChildren] = {}
        self.archived: list[PositionSnapshot] = list(archived)
        self._restored = list(restored)
        self._restored_orders = restored_orders

    def on_start(self) -> None:
        super().on_start()
        restored, self._restored = self._restored, []
        for market in restored:
            book = market.position or self._create_position(market.definition)
            self._spawn(market.definition, book, market.books)
        self.execution.tell(AdoptOrders(orders=self._restored_orders))
        for memento in self._restored_orders:
            self._start_order(Order.from_memento(memento), submit=False)
        self._restored_orders = ()
        for market in restored:
            children = self.markets[market.definition.market_id]
            children.winning_security_id = market.winning_security_id
            if market.position is not None and market.position.status is PositionStatus.SETTLED:
                self._archive(market.definition.market_id, market.position.snapshot())
            elif market.closed:
                self.execution.tell(
                    CloseMarket(market_id=market.definition.market_id, notify=self.actor_ref)
                )

    @handles(MarketOpened)
    def _opened(self, message: MarketOpened) -> None:
        definition = message.definition
        if definition.market_id in self.markets:
            self.log.error("market_opened_twice", market_id=definition.market_id)
            return
        self.venue.tell(message)
        self._spawn(definition, self._create_position(definition), None)
        self.bus.tell(message)
        self.log.info("market_opened", market_id=definition.market_id)

    def _create_position(self, definition: MarketDefinition) -> PositionBook:
        """Journal a fresh position for the market and return its (empty) book."""
        strategy_name = self.strategies[0][1] if self.strategies else "default"
        position_id = f"{definition.market_id}/{self.account}/{strategy_name}"
        self.journal.tell(
            Append(
                event=PositionCreated(
                    position_id=position_id,
                    market_id=definition.market_id,
                    account=self.account,
                    strategy=strategy_name,
                    security_ids=definition.security_ids,
                ),
                stream=position_stream(position_id),
                dedup_key=f"position:{position_id}",
            )
        )
        return PositionBook(
            position_id=position_id,
            market_id=definition.market_id,
            account=self.account,
            strategy=strategy_name,
            security_ids=definition.security_ids,
        )

    def _spawn(
        self,
        definition: MarketDefinition,
        book: PositionBook,
        books: dict[str, OrderBook] | None,
    ) -> None:
        started = self._add_child(
            AddChild(
                spec=ChildSpec(id=_position_child(definition), start=self._position_factory(book))
            )
        )
        if isinstance(started, ChildRefused) or started.ref is None:
            raise ChildStartError(f"position of {definition.market_id} did not start: {started}")
        position = started.ref
        self.execution.tell(
            SwitchMarket(
                definition=definition,
                position=position,
                position_id=book.position_id,
                account=book.account,
                strategy=book.strategy,
                supervisor=self.actor_ref,
            )
        )
        started_market = self._add_child(
            AddChild(
                spec=ChildSpec(
                    id=_market_child(definition), start=self._market_factory(definition, books)
                )
            )
        )
        if isinstance(started_market, ChildRefused) or started_market.ref is None:
            raise ChildStartError(f"market {definition.market_id} did not start: {started_market}")
        market = started_market.ref
        # Known before it is wired: a market or position that dies at once (its restart
        # runs on this thread, after this handler) is re-wired from this entry.
        self.markets[definition.market_id] = _MarketChildren(
            definition=definition, market=market, position=position, position_id=book.position_id
        )
        # The venue hears each book first: an order a strategy sends on that book then
        # always reaches the venue after the book it was priced on, which keeps a replay
        # of the same feed deterministic.
        tell_quietly(market, Subscribe(subscriber=self.venue))
        tell_quietly(market, Subscribe(subscriber=position))
        for watcher in (self.index, self.risk):
            if watcher is not None:
                tell_quietly(market, Subscribe(subscriber=watcher))
        for strategy, _name in self.strategies:
            tell_quietly(position, Subscribe(subscriber=strategy))
            tell_quietly(market, Subscribe(subscriber=strategy, welcome=False))

    def _position_factory(self, book: PositionBook) -> ChildFactory:
        """Start the position from ``book`` first, from the journal on every restart.

        Runs in this supervisor's thread (the library calls it), so it may re-wire directly.
        """
        first_start = True

        def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
            nonlocal first_start
            if first_start:
                first_start = False
                return PositionActor.start(
                    book,
                    bus=self.bus,
                    parent=self.actor_ref,
                    journal=self.journal,
                    index=self.index,
                    supervision=context,
                )
            position = PositionActor.start(
                position_loader(self.stores, book.position_id, self.journal),
                bus=self.bus,
                parent=self.actor_ref,
                journal=self.journal,
                index=self.index,
                supervision=context,
            )
            self._rewire(book.market_id, position)
            return position

        return start

    @handles(SuperviseOrder)
    def _supervise_order(self, message: SuperviseOrder) -> None:
        self._start_order(order_from_created(message.created), submit=True)

    def _start_order(self, order: Order, *, submit: bool) -> None:
        """Start an order as a child of its market; execution gets the ref once it runs."""
        children = self.markets.get(order.market_id)
        if children is None:
            self.log.error("order_for_unknown_market", order_id=order.order_id)
            return
        spec = ChildSpec(id=_order_child(order.order_id), start=self._order_factory(order))
        started = self._add_child(AddChild(spec=spec))
        if isinstance(started, ChildRefused) or started.ref is None:
            self.log.error("order_did_not_start", order_id=order.order_id, detail=str(started))
            return
        children.orders.add(order.order_id)
        self.execution.tell(OrderStarted(order_id=order.order_id, ref=started.ref, submit=submit))

    def _order_factory(self, order: Order) -> ChildFactory:
        """Start the order as given first, from the journal on every restart."""
        first_start = True

        def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
            nonlocal first_start
            children = self.markets[order.market_id]
            source: Order | Callable[[], tuple[Order, int]] = order
            if not first_start:
                source = order_loader(self.stores, order.order_id, self.journal)
            ref = OrderActor.start(
                source,
                position=children.position,
                position_id=children.position_id,
                execution=self.execution,
                venue=self.venue,
                bus=self.bus,
                journal=self.journal,
                supervision=context,
            )
            if not first_start:
                tell_quietly(
                    self.execution, OrderStarted(order_id=order.order_id, ref=ref, submit=False)
                )
                self.log.info("order_restarted", order_id=order.order_id)
            first_start = False
            return ref

        return start

    def _market_factory(
        self, definition: MarketDefinition, books: dict[str, OrderBook] | None
    ) -> ChildFactory:
        """Start the market with ``books`` first, from its journaled data on every restart."""
        first_start = True

        def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
            nonlocal first_start
            if first_start:
                first_start = False
                return MarketActor.start(
                    definition, books, journal=self.journal, supervision=context
                )
            market = MarketActor.start(
                definition,
                market_loader(self.stores, definition),
                journal=self.journal,
                supervision=context,
            )
            self._rewire_market(definition.market_id, market)
            return market

        return start

    def _rewire_market(self, market_id: str, market: pykka.ActorRef[Any]) -> None:
        """A restarted market re-publishes its book; the strategies skip one they evaluated."""
        children = self.markets.get(market_id)
        if children is None:
            return
        children.market = market
        # One that died at once is re-wired by its next restart.
        tell_quietly(market, Subscribe(subscriber=self.venue))
        tell_quietly(market, Subscribe(subscriber=children.position))
        for watcher in (self.index, self.risk):
            if watcher is not None:
                tell_quietly(market, Subscribe(subscriber=watcher))
        for strategy, _name in self.strategies:
            tell_quietly(market, Subscribe(subscriber=strategy))
        self.log.info("market_restarted", market_id=market_id)

    def _rewire(self, market_id: str, position: pykka.ActorRef[Any]) -> None:
        children = self.markets.get(market_id)
        if children is None:
            return
        # A market that is itself restarting subscribes the current position when it is back.
        tell_quietly(children.market, Unsubscribe(subscriber=children.position))
        children.position = position
        tell_quietly(children.market, Subscribe(subscriber=position))
        for strategy, _name in self.strategies:
            tell_quietly(position, Subscribe(subscriber=strategy))
        # Execution dead means the core is restarting, this supervisor with it; the next
        # one tells the new execution every position afresh.
        restarted = PositionRestarted(market_id=market_id, position=position)
        tell_quietly(self.execution, restarted)
        # Every order of the market addresses its fills to the new position directly; one
        # that is itself restarting takes ``children.position`` when it starts again.
        for order_id in children.orders:
            order = self.children.get(_order_child(order_id))
            if order is not None and order.ref is not None:
                tell_quietly(order.ref, restarted)
        self.log.info("position_restarted", market_id=market_id)

    @handles(BookSnapshot, PriceChange)
    def _market_data(self, message: BookSnapshot | PriceChange) -> None:
        children = self.markets.get(message.market_id)
        if children is None:
            self.log.error("market_data_for_unknown_market", market_id=message.market_id)
            return
        # A dead market rebuilds from the journal, where this record already is.
        tell_quietly(children.market, message)

    @handles(MarketClosed)
    def _closed(self, message: MarketClosed) -> None:
        if message.market_id not in self.markets:
            self.log.error("close_for_unknown_market", market_id=message.market_id)
            return
        self.venue.tell(message)
        self.execution.tell(CloseMarket(market_id=message.market_id, notify=self.actor_ref))
        self.bus.tell(message)
        self.log.info("market_closed", market_id=message.market_id)

    @handles(MarketResolved)
    def _resolved(self, message: MarketResolved) -> None:
        children = self.markets.get(message.market_id)
        if children is None:
            self.log.error("resolution_for_unknown_market", market_id=message.market_id)
            return
        if message.winning_security_id not in children.definition.security_ids:
            self.log.error(
                "resolution_for_unknown_instrument",
                market_id=message.market_id,
                winning_security_id=message.winning_security_id,
            )
            return
        children.winning_security_id = message.winning_security_id
        self.bus.tell(message)
        self._settle_when_ready(children)

    @handles(MarketDrained)
    def _drained(self, message: MarketDrained) -> None:
        children = self.markets.get(message.market_id)
        if children is not None:
            children.drained = True
            self._settle_when_ready(children)

    @handles(PositionSettled)
    def _position_settled(self, message: PositionSettled) -> None:
        self._archive(message.position.market_id, message.position)

    @handles(ListPositions, reads_only=True)
    def _list_positions(self, _message: ListPositions) -> PositionRefs:
        return PositionRefs(
            live=tuple((m, c.position) for m, c in self.markets.items()),
            archived=tuple(self.archived),
        )

    def _settle_when_ready(self, children: _MarketChildren) -> None:
        if children.winning_security_id is None or not children.drained:
            return
        market_id = children.definition.market_id
        self.journal.tell(
            Append(
                event=PositionSettlement(
                    position_id=children.position_id,
                    market_id=market_id,
                    winning_security_id=children.winning_security_id,
                    payout=children.definition.payout,
                ),
                stream=position_stream(children.position_id),
                dedup_key=f"settle:{children.position_id}",
                deliver_to=children.position,
            )
        )

    def _archive(self, market_id: str, final: PositionSnapshot) -> None:
        children = self.markets.pop(market_id, None)
        if children is None:
            return
        self.journal.tell(
            Append(
                event=MarketArchived(market_id=market_id),
                stream=market_stream(market_id),
                dedup_key=f"archived:{market_id}",
            )
        )
        self.execution.tell(ArchiveMarket(market_id=market_id))
        self._remove_child(RemoveChild(child_id=_market_child(children.definition)))
        for order_id in children.orders:
            self._remove_child(RemoveChild(child_id=_order_child(order_id)))
        self._remove_child(RemoveChild(child_id=_position_child(children.definition)))
        self.archived.append(final)
        archived = PositionArchived(position=final)
        if self.index is not None:
            tell_quietly(self.index, archived)
        self.bus.tell(archived)
        self.log.info("market_archived", market_id=market_id)
