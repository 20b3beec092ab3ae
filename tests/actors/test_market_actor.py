"""MarketActor: books per instrument, sync status, immutable snapshots to subscribers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.market import MarketActor
from messages.enums import BookSide
from messages.market_data import MarketSnapshot
from messages.queries import GetSnapshot
from messages.subscriptions import Subscribe
from tests.stubs import book, change, collector, definition, wait_for

pytestmark = pytest.mark.timeout(10)


def _is_snapshot(version: int):
    return lambda m: isinstance(m, MarketSnapshot) and m.version == version


def test_each_instrument_has_its_own_book_and_the_market_is_synced_once_both_are() -> None:
    market = MarketActor.start(definition())
    sub, inbox = collector()
    market.tell(Subscribe(subscriber=sub))
    initial = wait_for(inbox, _is_snapshot(0))
    assert not initial.synced

    market.tell(book("m1-YES", bids=(("0.40", "100"),), asks=(("0.42", "50"),)))
    first = wait_for(inbox, _is_snapshot(1))
    assert first.book("m1-YES").synced
    assert not first.book("m1-NO").synced
    assert not first.synced

    market.tell(book("m1-NO", bids=(("0.57", "80"),), asks=(("0.59", "60"),)))
    second = wait_for(inbox, _is_snapshot(2))
    assert second.synced
    assert second.book("m1-YES").best_ask.price == Decimal("0.42")
    assert second.book("m1-NO").mid == Decimal("0.58")


def test_a_price_change_updates_one_level_and_publishes_a_new_snapshot() -> None:
    market = MarketActor.start(definition())
    sub, inbox = collector()
    market.tell(Subscribe(subscriber=sub))
    market.tell(book("m1-YES", asks=(("0.42", "50"), ("0.43", "70"))))
    market.tell(change("m1-YES", BookSide.ASK, "0.42", "0", sequence=1))
    snapshot = wait_for(inbox, _is_snapshot(2))
    assert snapshot.book("m1-YES").best_ask.price == Decimal("0.43")


def test_a_sequence_gap_unsyncs_the_book_until_the_next_snapshot() -> None:
    market = MarketActor.start(definition())
    sub, inbox = collector()
    market.tell(Subscribe(subscriber=sub))
    market.tell(book("m1-YES", asks=(("0.42", "50"),)))
    market.tell(change("m1-YES", BookSide.ASK, "0.42", "10", sequence=5))
    gapped = wait_for(inbox, _is_snapshot(2))
    assert not gapped.book("m1-YES").synced
    market.tell(book("m1-YES", asks=(("0.44", "5"),), sequence=6))
    resynced = wait_for(inbox, _is_snapshot(3))
    assert resynced.book("m1-YES").synced


def test_data_for_an_unknown_instrument_is_dropped_and_the_market_keeps_working() -> None:
    market = MarketActor.start(definition())
    market.tell(book("m2-YES", asks=(("0.42", "50"),)))
    market.tell(book("m1-YES", asks=(("0.42", "50"),)))
    snapshot = market.ask(GetSnapshot(), timeout=5)
    assert snapshot.version == 1
    assert market.is_alive()
