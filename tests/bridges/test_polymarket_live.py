"""Live Polymarket books as a feed: a series of consecutive markets switched at their end
times, against a Gamma API and a market channel on 127.0.0.1, on the test's clock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bridges.feed_codec import FeedRecord
from bridges.polymarket_gamma import GammaClient, MarketSeries
from bridges.polymarket_live import FixedMarket, LiveMarketFeed, SeriesMarkets
from bridges.polymarket_ws import MarketChannelConfig
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketOpened
from tests.bridges.polymarket_gamma_server import gamma_market, gamma_server
from tests.bridges.polymarket_venue import PolymarketVenue

pytestmark = pytest.mark.timeout(30)

START_S = 1_759_320_900
PERIOD_S = 900
SERIES = MarketSeries(template="btc-updown-15m-{start}", period_s=PERIOD_S)


class VirtualClock:
    """The feed's time of day and its ``sleep``, moved by the test from its own thread."""

    def __init__(self, now_ns: int) -> None:
        self.now = now_ns
        self.lock = threading.Lock()
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []

    def now_ns(self) -> int:
        with self.lock:
            return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self.lock:
            self.waiting.append((self.now + int(seconds * 1e9), future))
        await future

    def advance_to(self, now_ns: int) -> None:
        with self.lock:
            self.now = now_ns
            due = [(at, f) for at, f in self.waiting if at <= now_ns]
            self.waiting = [(at, f) for at, f in self.waiting if at > now_ns]
        for _at, future in due:
            future.get_loop().call_soon_threadsafe(_resolve, future)

    def sleepers(self) -> int:
        with self.lock:
            return len(self.waiting)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Venues:
    """Two markets' channels on one server, on a loop of its own thread."""

    def __init__(self, first: PolymarketVenue, second: PolymarketVenue) -> None:
        self.first, self.second = first, second
        first.others = (second,)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Venues:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.first.start(), self.loop).result(timeout=10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.first.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def take(
    records: Iterator[FeedRecord | None],
    until: Callable[[list[FeedRecord]], bool],
    what: str,
) -> list[FeedRecord]:
    """Records until ``until(taken)`` holds at a gap (bounded by the test's timeout)."""
    taken: list[FeedRecord] = []
    deadline = time.monotonic() + 20
    for record in records:
        if record is not None:
            taken.append(record)
        elif until(taken):
            return taken
        assert time.monotonic() < deadline, f"never happened: {what}"
    return taken


def data_of(venue: PolymarketVenue) -> int:
    return len(venue.sent)


def all_of(venue: PolymarketVenue, plus: int) -> Callable[[list[FeedRecord]], bool]:
    """Once the venue sent its whole script and ``plus`` more records than its data came."""
    return lambda taken: venue.done.is_set() and len(taken) >= data_of(venue) + plus


def test_a_series_switches_markets_at_their_end_times_with_a_new_connection_each() -> None:
    slug1, slug2 = SERIES.slug_at(START_S * 10**9), SERIES.slug_at((START_S + PERIOD_S) * 10**9)
    first = PolymarketVenue(("11", "12"), market="0xfirst", seed=1, changes=12)
    second = PolymarketVenue(("21", "22"), market="0xsecond", seed=2, changes=9)
    markets = {
        slug1: gamma_market(slug1, ("11", "12"), START_S + PERIOD_S),
        slug2: gamma_market(slug2, ("21", "22"), START_S + 2 * PERIOD_S),
    }
    clock = VirtualClock((START_S + 10) * 10**9)
    with gamma_server(markets) as (gamma_url, asked), Venues(first, second) as venues:
        feed = LiveMarketFeed(
            SeriesMarkets(series=SERIES, gamma=GammaClient(gamma_url)),
            MarketChannelConfig(url=venues.first.url, ping_interval_s=3600),
            now_ns=clock.now_ns,
            sleep=clock.sleep,
        ).start()
        records = feed.records(poll_s=0.02)
        during_first = take(records, all_of(first, 1), "the first market")
        clock.advance_to((START_S + PERIOD_S) * 10**9)
        during_second = take(records, all_of(second, 2), "the second market")
        feed.stop()
        after = take(records, lambda _taken: False, "the end")
        feed.join()

    assert asked == [slug1, slug2]
    assert feed.markets == [slug1, slug2]
    assert first.subscriptions == [{"assets_ids": ["11", "12"], "type": "market"}]
    assert second.subscriptions == [{"assets_ids": ["21", "22"], "type": "market"}]
    opened, *data1 = during_first
    assert isinstance(opened, MarketOpened)
    assert opened.definition.market_id == slug1
    assert opened.definition.security_ids == ("11", "12")
    assert len(data1) == data_of(first)
    assert all(isinstance(r, BookSnapshot | PriceChange) and r.market_id == slug1 for r in data1)
    closed1, opened2, *data2 = during_second
    assert isinstance(closed1, MarketClosed)
    assert closed1.market_id == slug1
    assert isinstance(opened2, MarketOpened)
    assert opened2.definition.market_id == slug2
    assert len(data2) == data_of(second)
    (closed2,) = after
    assert isinstance(closed2, MarketClosed)
    assert closed2.market_id == slug2


def test_a_fixed_market_lasts_until_the_feed_is_stopped() -> None:
    only = PolymarketVenue(("31", "32"), seed=4, changes=5)
    spare = PolymarketVenue(("99", "98"), changes=0)
    with Venues(only, spare) as venues:
        feed = LiveMarketFeed(
            FixedMarket(assets=("31", "32"), market_id="m-31"),
            MarketChannelConfig(url=venues.first.url, ping_interval_s=3600),
        ).start()
        records = feed.records(poll_s=0.02)
        during = take(records, all_of(only, 1), "the market's script")
        feed.stop()
        after = take(records, lambda _taken: False, "the end")
        feed.join()

    assert isinstance(during[0], MarketOpened)
    assert len(during) == 1 + data_of(only)
    assert [type(r) for r in after] == [MarketClosed]
