"""A market's reference price comes back with its books: from its journaled data when the
market restarts alone, and in the snapshot it publishes before any new record."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.journal_store import NewEntry
from actors.market import MarketActor
from actors.runtime_state import market_data_stream
from bridges.journal_memory import MemoryJournal
from messages.codec import encode, kind_of
from messages.market_data import MarketSnapshot, ReferencePrice
from messages.queries import GetSnapshot
from supervisors.assembly.recovery import market_loader, recover_books
from tests.stubs import book, definition

pytestmark = pytest.mark.timeout(10)


def _reference(price: str, ts: int) -> ReferencePrice:
    return ReferencePrice(
        ts_event=ts, market_id="m1", source="BTC-USD", price=Decimal(price), strike=Decimal(97000)
    )


def _journal() -> MemoryJournal:
    journal = MemoryJournal()
    records = [
        book("m1-YES", bids=(("0.40", "10"),), asks=(("0.45", "10"),), ts=1),
        _reference("96900", 2),
        book("m1-NO", bids=(("0.50", "10"),), asks=(("0.55", "10"),), ts=3),
        _reference("97100", 4),
    ]
    journal.writer().append(
        [
            NewEntry(stream=market_data_stream("m1"), kind=kind_of(r), payload=encode(r), ts_ns=n)
            for n, r in enumerate(records, start=1)
        ]
    )
    return journal


def test_the_markets_journaled_data_rebuilds_its_latest_reference_price() -> None:
    books, ts_event, covered, reference = recover_books(_journal().writer(), definition("m1"))

    assert reference is not None
    assert (reference.price, reference.ts_event) == (Decimal(97100), 4)
    assert (ts_event, covered) == (4, 4)
    assert books["m1-NO"].view().best_ask is not None


def test_a_market_restarted_from_its_journal_publishes_the_reference_it_had() -> None:
    market = MarketActor.start(definition("m1"), market_loader(_journal(), definition("m1")))
    try:
        snapshot = market.ask(GetSnapshot(), timeout=5)
    finally:
        market.stop()

    assert isinstance(snapshot, MarketSnapshot)
    assert snapshot.reference is not None
    assert snapshot.reference.price == Decimal(97100)
