"""MarketActor: one per market; owns its instruments' books and publishes MarketSnapshots."""

from __future__ import annotations

from typing import Any

import pykka

from actors.base import PublishingActor, handles, tell_quietly
from actors.order_book import OrderBook
from messages.commands import GetSnapshot
from messages.market_data import BookSnapshot, MarketSnapshot, PriceChange
from messages.markets import MarketDefinition


def empty_books(definition: MarketDefinition) -> dict[str, OrderBook]:
    """One empty, unsynced book per instrument of the market."""
    return {
        instrument.security_id: OrderBook(
            security_id=instrument.security_id, outcome=instrument.outcome
        )
        for instrument in definition.instruments
    }


class MarketActor(PublishingActor):
    """Applies book snapshots and price changes; every change publishes a fresh snapshot.

    Data for an instrument the market does not have is logged and dropped: it cannot be
    applied to any book, and a feed bug must not kill the market. A restarted market is
    handed books already warmed from the feed (``books``).
    """

    kind = "market"

    def __init__(
        self, definition: MarketDefinition, books: dict[str, OrderBook] | None = None
    ) -> None:
        super().__init__(market_id=definition.market_id)
        self.definition = definition
        self.books = books if books is not None else empty_books(definition)
        self.version = 0
        self.ts_event = 0
        self._snapshot = self._build_snapshot()

    def welcome(self, subscriber: pykka.ActorRef[Any]) -> None:
        tell_quietly(subscriber, self._snapshot)

    @handles(GetSnapshot)
    def _get_snapshot(self, _message: GetSnapshot) -> MarketSnapshot:
        return self._snapshot

    @handles(BookSnapshot)
    def _book_snapshot(self, message: BookSnapshot) -> None:
        book = self._book_for(message)
        if book is not None and book.apply_snapshot(message):
            self._changed(message.ts_event)

    @handles(PriceChange)
    def _price_change(self, message: PriceChange) -> None:
        book = self._book_for(message)
        if book is None:
            return
        was_synced = book.synced
        if book.apply_change(message):
            self._changed(message.ts_event)
        if was_synced and not book.synced:
            self.log.warning(
                "book_unsynced", security_id=message.security_id, sequence=message.sequence
            )

    def _book_for(self, message: BookSnapshot | PriceChange) -> OrderBook | None:
        book = self.books.get(message.security_id)
        if book is None or message.market_id != self.definition.market_id:
            self.log.error(
                "market_data_for_unknown_instrument",
                security_id=message.security_id,
                data_market_id=message.market_id,
            )
            return None
        return book

    def _changed(self, ts_event: int) -> None:
        self.version += 1
        self.ts_event = ts_event
        self._snapshot = self._build_snapshot()
        self.publish(self._snapshot)

    def _build_snapshot(self) -> MarketSnapshot:
        return MarketSnapshot(
            ts_event=self.ts_event,
            market_id=self.definition.market_id,
            version=self.version,
            books=tuple(book.view() for book in self.books.values()),
        )
