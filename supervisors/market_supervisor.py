"""MarketSupervisor: spawns each market's actors and performs the market switch (seed 000).

On MarketOpened it spawns a fresh PositionActor and tells the ExecutionActor the new ref
*before* it spawns the MarketActor, so no book (and therefore no signal, no order) for the
new market exists before execution knows the position to route it to. On resolution it
settles the position once the closed market has no open order left, then archives it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from actors.base import RuntimeActor, handles
from actors.market import MarketActor
from actors.position import PositionActor
from messages.commands import (
    ArchiveMarket,
    CloseMarket,
    ListMarkets,
    ListPositions,
    MarketDrained,
    PositionRefs,
    SettlePosition,
    Subscribe,
    SwitchMarket,
)
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketDefinition, MarketOpened, MarketResolved
from messages.positions import PositionArchived, PositionSettled, PositionSnapshot


@attrs.define
class _MarketChildren:
    definition: MarketDefinition
    market: pykka.ActorRef[Any]
    position: pykka.ActorRef[Any]
    drained: bool = False
    resolution: MarketResolved | None = None


class MarketSupervisor(RuntimeActor):
    """Owns the per-market actors; the feed's records all pass through here, in order."""

    kind = "market_supervisor"

    def __init__(
        self,
        *,
        execution: pykka.ActorRef[Any],
        venue: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
        strategies: tuple[tuple[pykka.ActorRef[Any], str], ...] = (),
        account: str = "paper",
    ) -> None:
        super().__init__()
        self.execution = execution
        self.venue = venue
        self.bus = bus
        self.strategies = strategies
        self.account = account
        self.children: dict[str, _MarketChildren] = {}
        self.archived: list[PositionSnapshot] = []

    @handles(MarketOpened)
    def _opened(self, message: MarketOpened) -> None:
        definition = message.definition
        if definition.market_id in self.children:
            self.log.error("market_opened_twice", market_id=definition.market_id)
            return
        strategy_name = self.strategies[0][1] if self.strategies else "default"
        position = PositionActor.start(
            definition,
            bus=self.bus,
            account=self.account,
            strategy=strategy_name,
            parent=self.actor_ref,
        )
        self.execution.tell(SwitchMarket(definition=definition, position=position))
        self.venue.tell(message)
        market = MarketActor.start(definition)
        # The venue hears each book first: an order a strategy sends on that book then
        # always reaches the venue after the book it was priced on, which keeps a replay
        # of the same feed deterministic.
        market.tell(Subscribe(subscriber=self.venue))
        market.tell(Subscribe(subscriber=position))
        for strategy, _name in self.strategies:
            position.tell(Subscribe(subscriber=strategy))
            market.tell(Subscribe(subscriber=strategy))
        self.children[definition.market_id] = _MarketChildren(
            definition=definition, market=market, position=position
        )
        self.bus.tell(message)
        self.log.info("market_opened", market_id=definition.market_id)

    @handles(BookSnapshot, PriceChange)
    def _market_data(self, message: BookSnapshot | PriceChange) -> None:
        children = self.children.get(message.market_id)
        if children is None:
            self.log.error("market_data_for_unknown_market", market_id=message.market_id)
            return
        children.market.tell(message)

    @handles(MarketClosed)
    def _closed(self, message: MarketClosed) -> None:
        if message.market_id not in self.children:
            self.log.error("close_for_unknown_market", market_id=message.market_id)
            return
        self.venue.tell(message)
        self.execution.tell(CloseMarket(market_id=message.market_id, notify=self.actor_ref))
        self.bus.tell(message)
        self.log.info("market_closed", market_id=message.market_id)

    @handles(MarketResolved)
    def _resolved(self, message: MarketResolved) -> None:
        children = self.children.get(message.market_id)
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
        children.resolution = message
        self.bus.tell(message)
        self._settle_when_ready(children)

    @handles(MarketDrained)
    def _drained(self, message: MarketDrained) -> None:
        children = self.children.get(message.market_id)
        if children is not None:
            children.drained = True
            self._settle_when_ready(children)

    @handles(PositionSettled)
    def _position_settled(self, message: PositionSettled) -> None:
        market_id = message.position.market_id
        children = self.children.pop(market_id, None)
        if children is None:
            return
        self.execution.tell(ArchiveMarket(market_id=market_id))
        children.market.stop(block=False)
        children.position.stop(block=False)
        self.archived.append(message.position)
        self.bus.tell(PositionArchived(position=message.position))
        self.log.info("market_archived", market_id=market_id)

    @handles(ListPositions)
    def _list_positions(self, _message: ListPositions) -> PositionRefs:
        return PositionRefs(
            live=tuple((m, c.position) for m, c in self.children.items()),
            archived=tuple(self.archived),
        )

    @handles(ListMarkets)
    def _list_markets(self, _message: ListMarkets) -> tuple[tuple[str, Any], ...]:
        return tuple((m, c.market) for m, c in self.children.items())

    def on_stop(self) -> None:
        for children in self.children.values():
            children.market.stop(block=False)
            children.position.stop(block=False)

    def _settle_when_ready(self, children: _MarketChildren) -> None:
        if children.resolution is None or not children.drained:
            return
        children.position.tell(
            SettlePosition(
                market_id=children.definition.market_id,
                winning_security_id=children.resolution.winning_security_id,
                payout=children.definition.payout,
            )
        )
