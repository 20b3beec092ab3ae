"""MarketActor: one per market; owns its instruments' books and publishes MarketSnapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.order_book import OrderBook
from actors.runtime_state import market_data_stream
from messages.journal_protocol import Route
from messages.market_data import BookSnapshot, MarketSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketDefinition
from messages.queries import GetSnapshot
from messages.refs import Recipient
from supervisors.kernel.base import PublishingActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised


def empty_books(definition: MarketDefinition) -> dict[str, OrderBook]:
    """One empty, unsynced book per instrument of the market."""
    return {
        instrument.security_id: OrderBook(
            security_id=instrument.security_id, outcome=instrument.outcome
        )
        for instrument in definition.instruments
    }


BooksLoader = Callable[[], tuple[dict[str, OrderBook], int, int, ReferencePrice | None]]
"""Rebuilds a market's books from the journal: (books, last ts_event, journal seq covered,
latest reference price)."""


class MarketActor(Supervised, PublishingActor):
    """Applies book snapshots, price changes and reference prices; every change publishes a
    fresh snapshot.

    Data for an instrument the market does not have is logged and dropped: it cannot be
    applied to any book, and a feed bug must not kill the market. A market started after a
    process restart is handed books warmed from the feed; one restarted by its supervisor
    rebuilds them from the journal (a ``BooksLoader``) and re-points its stream. The latest
    reference price comes back the same two ways (``reference``, or the loader).
    """

    kind = "market"

    def __init__(
        self,
        definition: MarketDefinition,
        books: dict[str, OrderBook] | BooksLoader | None = None,
        *,
        journal: pykka.ActorRef[Any] | None = None,
        reference: ReferencePrice | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(market_id=definition.market_id, supervision=supervision)
        self.definition = definition
        self._source = books
        self.journal = journal
        self.books = books if isinstance(books, dict) else empty_books(definition)
        self.reference = reference
        self.version = 0
        self.ts_event = 0
        self._snapshot = self._build_snapshot()

    def on_start(self) -> None:
        """Rebuild the books from the journal first when restarted with a loader."""
        if not callable(self._source):
            return
        self.books, self.ts_event, covered, self.reference = self._source()
        self._snapshot = self._build_snapshot()
        if self.journal is not None:
            self.journal.tell(
                Route(
                    stream=market_data_stream(self.definition.market_id),
                    subscriber=self.actor_ref,
                    after_seq=covered,
                )
            )

    def welcome(self, subscriber: Recipient) -> None:
        tell_quietly(subscriber, self._snapshot)

    @handles(GetSnapshot, reads_only=True)
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

    @handles(ReferencePrice)
    def _reference_price(self, message: ReferencePrice) -> None:
        if message.market_id != self.definition.market_id:
            self.log.error("reference_price_for_other_market", data_market_id=message.market_id)
            return
        self.reference = message
        self._changed(max(self.ts_event, message.ts_event))

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
            reference=self.reference,
        )
