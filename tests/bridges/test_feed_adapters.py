"""The shared feed suite (tests/bridges/feed_adapter_suite.py) on every adapter we have: the
synthetic generator, the bundled sample, and a Polymarket recording across a dropped
connection; and the suite's own rules, each shown to catch what it is for."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import attrs
import pytest

from bridges.feed_codec import FeedRecord, decode_record, read_feed
from bridges.polymarket_market_channel import MarketChannelSession
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from tests.bridges.feed_adapter_suite import assert_books_match, assert_valid_feed
from tests.bridges.polymarket_venue import PolymarketVenue
from tools.cli import sample_feed_path
from tools.feedgen import generate_feed
from tools.record import FeedRecorder

pytestmark = pytest.mark.timeout(30)

ASSETS = ("71", "72")


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_the_synthetic_generator_makes_valid_feeds(seed: int) -> None:
    assert_valid_feed(generate_feed(seed=seed, markets=3, updates_per_market=80))


def test_the_bundled_sample_is_a_valid_feed() -> None:
    assert_valid_feed(list(read_feed(sample_feed_path())))


def test_a_polymarket_recording_is_a_valid_feed_with_the_venues_books() -> None:
    out = io.StringIO()

    async def main() -> PolymarketVenue:
        venue = PolymarketVenue(ASSETS, seed=11, changes=120, drop_after=40)
        await venue.start()
        session = MarketChannelSession(ASSETS, market_id="pm-1")
        recorder = FeedRecorder(out, session)
        recorder.write(session.open_if_known(1))
        client = MarketChannelClient(
            MarketChannelConfig(
                assets=ASSETS, url=venue.url, ping_interval_s=3600, backoff_initial_s=0
            ),
            on_frame=recorder.on_frame,
            on_lost=session.books.connection_lost,
        )
        stop = asyncio.Event()
        task = asyncio.ensure_future(client.run(stop))
        for _ in range(2_000):
            if venue.done.is_set() and client.stats.frames == venue.frames:
                break
            await asyncio.sleep(0.005)
        stop.set()
        await task
        recorder.write(session.close(2))
        await venue.stop()
        return venue

    venue = asyncio.run(main())
    records = [decode_record(line) for line in out.getvalue().splitlines()]

    assert_valid_feed(records)
    assert_books_match(records, [(s.asset, s.bids, s.asks) for s in venue.sent])


def _feed() -> list[FeedRecord]:
    return generate_feed(seed=2, markets=1, updates_per_market=10)


def _first(records: list[FeedRecord], kind: type) -> int:
    return next(i for i, r in enumerate(records) if isinstance(r, kind))


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda r: r.pop(0), "data for btc-up-0001, not open"),
        (lambda r: r.insert(1, r[0]), "opened twice"),
        (lambda r: r.pop(_first(r, BookSnapshot)), "a change before the instrument's first book"),
        (
            lambda r: r.__setitem__(
                i := _first(r, PriceChange), attrs.evolve(r[i], sequence=r[i].sequence + 1)
            ),
            "sequence",
        ),
        (
            lambda r: r.__setitem__(
                i := _first(r, PriceChange), attrs.evolve(r[i], price=Decimal(2))
            ),
            "outside [0, 1]",
        ),
        (
            lambda r: r.__setitem__(
                i := _first(r, BookSnapshot),
                attrs.evolve(r[i], bids=tuple(reversed(r[i].bids))),
            ),
            "not best first",
        ),
        (
            lambda r: r.__setitem__(
                i := _first(r, BookSnapshot),
                attrs.evolve(
                    r[i], bids=(BookLevel(price=Decimal("0.99"), size=Decimal(1)), *r[i].bids)
                ),
            ),
            "a crossed book",
        ),
    ],
)
def test_the_suite_catches_each_broken_rule(break_it: object, message: str) -> None:
    records = _feed()
    assert_valid_feed(records)
    break_it(records)  # type: ignore[operator]

    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        assert_valid_feed(records)
