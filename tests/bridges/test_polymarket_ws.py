"""The market channel client and the recorder against a real WebSocket server on 127.0.0.1
that speaks Polymarket's protocol (tests/bridges/polymarket_venue.py)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from actors.order_book import OrderBook
from bridges.feed_codec import decode_record
from bridges.polymarket_market_channel import MarketChannelBooks, MarketChannelSession
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from messages.enums import BookSide, Outcome
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketOpened
from tests.bridges.polymarket_venue import PolymarketVenue
from tools.record import FeedRecorder

pytestmark = pytest.mark.timeout(30)

ASSETS = ("1111", "2222")


class VirtualSleep:
    """``sleep`` for the client: it returns when the test has advanced time past it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waiting: list[tuple[float, asyncio.Future[None]]] = []
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((self.now + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for due, future in list(self.waiting):
            if due <= self.now and not future.done():
                future.set_result(None)
                self.waiting.remove((due, future))


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition`` holds (bounded: the test's timeout)."""
    for _ in range(2_000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())


def test_a_recording_equals_the_venues_books_after_every_message_across_a_dropped_connection() -> (
    None
):
    out = io.StringIO()

    async def main() -> None:
        venue = PolymarketVenue(ASSETS, seed=3, changes=80, drop_after=25)
        await venue.start()
        session = MarketChannelSession(ASSETS)
        books = session.books
        recorder = FeedRecorder(out, session)
        config = MarketChannelConfig(
            assets=ASSETS, url=venue.url, ping_interval_s=3600, backoff_initial_s=0
        )
        client = MarketChannelClient(
            config, on_frame=recorder.on_frame, on_lost=books.connection_lost
        )
        stop = asyncio.Event()
        task = asyncio.ensure_future(client.run(stop))
        await until(lambda: venue.done.is_set() and client.stats.frames == venue.frames, "all")
        stop.set()
        await task
        recorder.write(session.close(0))
        await venue.stop()
        assert client.stats.connections == 2
        assert client.stats.failures == 1
        assert venue.subscriptions == [{"assets_ids": list(ASSETS), "type": "market"}] * 2
        assert books.counts["rejected"] == 0
        records = [decode_record(line) for line in out.getvalue().splitlines()]
        opened, *data, closed = records
        assert isinstance(opened, MarketOpened)
        assert isinstance(closed, MarketClosed)
        assert opened.definition.market_id == venue.market == closed.market_id
        assert [(i.security_id, i.outcome) for i in opened.definition.instruments] == [
            (ASSETS[0], Outcome.YES),
            (ASSETS[1], Outcome.NO),
        ]
        assert len(data) == len(venue.sent)
        ours = {
            asset: OrderBook(security_id=asset, outcome=outcome)
            for asset, outcome in zip(ASSETS, (Outcome.YES, Outcome.NO), strict=True)
        }
        for record, sent in zip(data, venue.sent, strict=True):
            assert isinstance(record, BookSnapshot | PriceChange)
            assert record.security_id == sent.asset
            book = ours[sent.asset]
            if isinstance(record, BookSnapshot):
                book.apply_snapshot(record)
            else:
                book.apply_change(record)
            assert book.synced
            assert _levels(book, BookSide.BID) == sent.bids
            assert _levels(book, BookSide.ASK) == sent.asks

    run(main)


def _levels(book: OrderBook, side: BookSide) -> dict[Decimal, Decimal]:
    view = book.view()
    levels = view.bids if side is BookSide.BID else view.asks
    return {level.price: level.size for level in levels}


def test_the_client_pings_every_ten_seconds_of_its_clock_and_hears_pong() -> None:
    async def main() -> None:
        venue = PolymarketVenue(ASSETS, changes=0)
        await venue.start()
        sleep = VirtualSleep()
        books = MarketChannelBooks(ASSETS)
        client = MarketChannelClient(
            MarketChannelConfig(assets=ASSETS, url=venue.url),
            on_frame=lambda text: books.on_frame(text) and None,
            on_lost=books.connection_lost,
            sleep=sleep,
        )
        stop = asyncio.Event()
        task = asyncio.ensure_future(client.run(stop))
        await until(lambda: client.stats.frames == 1 and sleep.waiting != [], "the dump")
        sleep.advance(9.999)
        await asyncio.sleep(0.05)
        assert venue.pings == 0
        sleep.advance(0.001)
        await until(lambda: books.counts["pong"] == 1, "a PONG for the first PING")
        sleep.advance(10)
        await until(lambda: books.counts["pong"] == 2, "a PONG for the second PING")
        assert venue.pings == client.stats.pings == 2
        assert sleep.asked == [10.0, 10.0, 10.0]
        stop.set()
        await task
        await venue.stop()

    run(main)


def test_a_venue_that_cannot_be_reached_is_retried_with_exponential_backoff_capped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lost: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()
        delays: list[float] = []

        async def sleep(seconds: float) -> None:
            delays.append(seconds)
            if len(delays) == 8:
                stop.set()

        client = MarketChannelClient(
            MarketChannelConfig(
                assets=ASSETS, url=f"ws://127.0.0.1:{port}", backoff_initial_s=0.5,
                backoff_max_s=8,
            ),
            on_frame=lambda _text: None,
            on_lost=lambda: lost.append(1),
            sleep=sleep,
        )  # fmt: skip
        await client.run(stop)
        assert delays == [0.5, 1, 2, 4, 8, 8, 8, 8]
        assert client.stats.connections == 0
        assert client.stats.failures == 8

    run(main)
    assert len(lost) == 8


def test_the_recorder_writes_nothing_for_a_market_it_never_heard_of() -> None:
    out = io.StringIO()
    session = MarketChannelSession(ASSETS)
    recorder = FeedRecorder(out, session)

    recorder.on_frame("PONG")
    recorder.on_frame(json.dumps({"event_type": "nonsense"}))
    recorder.write(session.close(1))

    assert out.getvalue() == ""
    assert session.books.counts["rejected"] == 1
