"""Polymarket's RTDS crypto prices: the documented messages read exactly, the strike of each
market, and a live feed's reference prices through a dropped connection, against an RTDS
on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

import pytest
from structlog.testing import capture_logs

from bridges.polymarket_gamma import GammaClient
from bridges.polymarket_live import FixedMarket, LiveMarketFeed, ReferenceFeed, SeriesMarkets
from bridges.polymarket_rtds import ReferenceSource, ReferenceTick, ReferenceTrack, RtdsPrices
from bridges.polymarket_ws import MarketChannelConfig
from messages.market_data import BookSnapshot, PriceChange, ReferencePrice
from messages.markets import MarketClosed, MarketOpened
from tests.bridges.polymarket_gamma_server import gamma_market, gamma_server
from tests.bridges.polymarket_rtds_server import RtdsServer
from tests.bridges.polymarket_venue import PolymarketVenue
from tests.bridges.test_polymarket_live import (
    PERIOD_S,
    SERIES,
    START_S,
    Venues,
    VirtualClock,
    data_of,
    take,
)

pytestmark = pytest.mark.timeout(30)

CHAINLINK = ReferenceSource.parse("chainlink:btc/usd")


def price_message(value: str, *, symbol: str = "btc/usd", ts: int = 1753314088395) -> str:
    """The documented Chainlink update, with ``value`` written as the JSON number given."""
    return (
        '{"topic":"crypto_prices_chainlink","type":"update","timestamp":1753314088421,'
        f'"payload":{{"symbol":"{symbol}","timestamp":{ts},"value":{value}}}}}'
    )


def test_the_subscriptions_are_the_documented_messages() -> None:
    chainlink = json.loads(CHAINLINK.subscription())
    binance = json.loads(ReferenceSource.parse("binance:BTCUSDT").subscription())

    assert chainlink == {
        "action": "subscribe",
        "subscriptions": [
            {"topic": "crypto_prices_chainlink", "type": "*", "filters": '{"symbol":"btc/usd"}'}
        ],
    }
    assert binance == {
        "action": "subscribe",
        "subscriptions": [{"topic": "crypto_prices", "type": "update", "filters": "btcusdt"}],
    }
    assert CHAINLINK.label == "chainlink:btc/usd"


@pytest.mark.parametrize(
    "spec", ["btc/usd", "chainlink:", "pyth:btc/usd", "binance:btc/usd", "chainlink:btcusd"]
)
def test_a_bad_reference_spec_says_the_form(spec: str) -> None:
    with pytest.raises(ValueError, match=r"chainlink|binance"):
        ReferenceSource.parse(spec)


@pytest.mark.parametrize(
    ("value", "price"),
    [("67234.50", "67234.50"), ("97012", "97012"), ("1.0E+5", "1.0E+5"), ("0.1", "0.1")],
)
def test_a_price_is_the_exact_decimal_of_its_json_number(value: str, price: str) -> None:
    prices = RtdsPrices(CHAINLINK)

    ticks, rejections = prices.on_frame(price_message(value))

    assert rejections == ()
    assert ticks == (ReferenceTick(ts_ns=1753314088395 * 10**6, price=Decimal(price)),)
    assert str(ticks[0].price) == price
    assert type(ticks[0].price) is Decimal


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "Expecting value"),
        ("[1]", "JSON object"),
        (price_message('"67234.5"'), "JSON number"),
        (price_message("true"), "JSON number"),
        (price_message("-1"), "positive"),
        (price_message("0"), "positive"),
        (price_message("NaN"), "NaN is not a number"),
        (price_message("1", symbol="eth/usd"), "symbol 'eth/usd'"),
        (price_message("1", ts=-5), "Unix milliseconds"),
        (price_message("1").replace('"timestamp":1753314088395', '"timestamp":"1"'), "milli"),
        ('{"topic":"comments","type":"update","payload":{}}', "topic 'comments'"),
        ('{"topic":"crypto_prices_chainlink","type":"update","payload":[]}', "payload"),
    ],
)
def test_what_is_not_the_documented_shape_is_a_rejection_with_its_reason(
    frame: str, reason: str
) -> None:
    prices = RtdsPrices(CHAINLINK)

    ticks, rejections = prices.on_frame(frame)

    assert ticks == ()
    (rejection,) = rejections
    assert reason in rejection.reason
    assert rejection.excerpt == frame[:200]
    assert prices.counts["rejected"] == 1


def test_pong_and_other_kinds_of_the_topic_are_counted_not_refused() -> None:
    prices = RtdsPrices(CHAINLINK)

    assert prices.on_frame("PONG") == ((), ())
    assert prices.on_frame('{"topic":"crypto_prices_chainlink","type":"subscribe"}') == ((), ())
    assert (prices.counts["pong"], prices.counts["ignored"], prices.counts["rejected"]) == (1, 1, 0)


def tick(seconds: int, price: str) -> ReferenceTick:
    return ReferenceTick(ts_ns=seconds * 10**9, price=Decimal(price))


def test_the_strike_is_the_first_price_at_or_after_the_markets_start() -> None:
    track = ReferenceTrack(CHAINLINK)
    track.open("m1", start_ns=100 * 10**9)

    before, at, after = (
        track.on_tick(tick(99, "10")),
        track.on_tick(tick(100, "11")),
        track.on_tick(tick(101, "12")),
    )

    assert [r.strike for r in (*before, *at, *after)] == [None, Decimal(11), Decimal(11)]
    assert [(r.market_id, r.source, r.price, r.ts_event) for r in after] == [
        ("m1", "chainlink:btc/usd", Decimal(12), 101 * 10**9)
    ]


def test_a_market_opened_late_finds_its_strike_among_the_recent_prices() -> None:
    track = ReferenceTrack(CHAINLINK)
    for second, price in ((99, "10"), (100, "11"), (101, "12")):
        assert track.on_tick(tick(second, price)) == []  # no market open: remembered only

    (first,) = track.open("m1", start_ns=100 * 10**9)
    track.close()

    assert (first.price, first.strike) == (Decimal(12), Decimal(11))
    assert track.on_tick(tick(102, "13")) == []


def references(records: list[object], market_id: str) -> list[ReferencePrice]:
    return [r for r in records if isinstance(r, ReferencePrice) and r.market_id == market_id]


def books(records: list[object], market_id: str) -> int:
    return sum(
        isinstance(r, BookSnapshot | PriceChange) and r.market_id == market_id for r in records
    )


def on_loop(venues: Venues, work: Coroutine[Any, Any, None]) -> None:
    asyncio.run_coroutine_threadsafe(work, venues.loop).result(timeout=10)


def backing_off(clock: VirtualClock) -> bool:
    """The RTDS connection dropped and waits its first backoff (0.5 s) on the clock."""
    with clock.lock:
        return any(at == clock.now + 500_000_000 for at, _future in clock.waiting)


def test_a_series_gets_each_markets_strike_through_a_dropped_rtds_connection() -> None:
    slug1, slug2 = SERIES.slug_at(START_S * 10**9), SERIES.slug_at((START_S + PERIOD_S) * 10**9)
    first = PolymarketVenue(("11", "12"), market="0xfirst", seed=1, changes=6)
    second = PolymarketVenue(("21", "22"), market="0xsecond", seed=2, changes=3)
    markets = {
        slug1: gamma_market(slug1, ("11", "12"), START_S + PERIOD_S),
        slug2: gamma_market(slug2, ("21", "22"), START_S + 2 * PERIOD_S),
    }
    script = ((START_S - 3) * 1000, "97000.10"), ((START_S + 1) * 1000, "97012.50")
    script += ((START_S + 2) * 1000, "97020"), ((START_S + 5) * 1000, "97031.125")
    rtds = RtdsServer(script=script, drop_after=2)
    clock = VirtualClock((START_S + 10) * 10**9)
    with gamma_server(markets) as (gamma_url, _asked), Venues(first, second) as venues:
        on_loop(venues, rtds.start())
        feed = LiveMarketFeed(
            SeriesMarkets(series=SERIES, gamma=GammaClient(gamma_url)),
            MarketChannelConfig(url=venues.first.url, ping_interval_s=3600),
            now_ns=clock.now_ns,
            sleep=clock.sleep,
            reference=ReferenceFeed(source=CHAINLINK, url=rtds.url),
        ).start()
        records = feed.records(poll_s=0.02)
        taken = take(records, lambda _t: backing_off(clock), "the dropped connection's backoff")
        clock.advance_to((START_S + 11) * 10**9)  # past the backoff: it connects again
        taken += take(records, lambda t: rtds.done.is_set() and first.done.is_set()
                      and books(taken + t, slug1) == data_of(first)
                      and len(references(taken + t, slug1)) >= 2, "the first market")  # fmt: skip
        clock.advance_to((START_S + PERIOD_S) * 10**9)
        taken += take(records, lambda t: any(isinstance(r, MarketOpened) and
                      r.definition.market_id == slug2 for r in t), "the second market")  # fmt: skip
        for second_s, price in ((899, "97100"), (900, "97150.25"), (901, "97160")):
            rtds.push((START_S + second_s) * 1000, price)
        taken += take(records, lambda t: len(references(taken + t, slug2)) >= 4, "its prices")
        feed.stop()
        taken += take(records, lambda _t: False, "the end")
        feed.join()
        deadline = time.monotonic() + 10
        while rtds.pings == 0:  # the PING due at the switch's moment
            assert time.monotonic() < deadline
            time.sleep(0.01)
        on_loop(venues, rtds.stop())

    subscription = json.loads(CHAINLINK.subscription())
    assert rtds.subscriptions == [subscription, subscription]
    assert feed.reference_client is not None
    assert (feed.reference_client.stats.connections, feed.reference_client.stats.failures) == (2, 1)
    in_first = references(taken, slug1)
    assert [(r.ts_event // 10**9 - START_S, r.price) for r in in_first[-2:]] == [
        (2, Decimal("97020")),
        (5, Decimal("97031.125")),
    ]
    assert all(r.strike == Decimal("97012.50") for r in in_first if r.ts_event >= START_S * 10**9)
    assert str(in_first[-1].strike) == "97012.50"
    opened2 = next(
        i
        for i, r in enumerate(taken)
        if isinstance(r, MarketOpened) and r.definition.market_id == slug2
    )
    closed1 = next(i for i, r in enumerate(taken) if isinstance(r, MarketClosed))
    assert closed1 < opened2
    assert all(taken.index(r) < closed1 for r in in_first)
    in_second = references(taken, slug2)
    assert [(r.price, r.strike) for r in in_second] == [
        (Decimal("97031.125"), None),  # the latest price, at the opening: before the start
        (Decimal("97100"), None),
        (Decimal("97150.25"), Decimal("97150.25")),
        (Decimal("97160"), Decimal("97150.25")),
    ]
    assert all(taken.index(r) > opened2 for r in in_second)


def test_a_reference_endpoint_that_is_no_url_is_logged_and_the_books_go_on() -> None:
    only = PolymarketVenue(("31", "32"), seed=4, changes=5)
    spare = PolymarketVenue(("99", "98"), changes=0)
    with Venues(only, spare) as venues, capture_logs() as logs:
        feed = LiveMarketFeed(
            FixedMarket(assets=("31", "32"), market_id="m-31"),
            MarketChannelConfig(url=venues.first.url, ping_interval_s=3600),
            reference=ReferenceFeed(source=CHAINLINK, url="ws://"),
        ).start()
        records = feed.records(poll_s=0.02)
        during = take(records, lambda t: only.done.is_set() and books(t, "m-31") == data_of(only),
                      "the market's script")  # fmt: skip
        feed.stop()
        take(records, lambda _t: False, "the end")
        feed.join()

    assert not [r for r in during if isinstance(r, ReferencePrice)]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["reference_feed_failed"]
