"""The market channel's messages, as Polymarket documents them, into feed records."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bridges.polymarket_market_channel import MarketChannelBooks, subscription
from messages.enums import BookSide
from messages.market_data import BookLevel, BookSnapshot, PriceChange

pytestmark = pytest.mark.timeout(10)

YES, NO = "7132104567925221259462638553270691275033272857194253228963137931245558399256", "9"
MARKET = "0xbd31dc8a20211944f6b70f31557f1001557b59905b7738480ca09bd4532f84af"


def book(asset: str = YES, **extra: Any) -> dict[str, Any]:
    return {
        "event_type": "book",
        "asset_id": asset,
        "market": MARKET,
        "bids": [{"price": ".48", "size": "30"}, {"price": ".49", "size": "20"}],
        "asks": [{"price": ".52", "size": "25"}, {"price": "0.53", "size": "60"}],
        "timestamp": "123456789000",
        "hash": "0x0",
        **extra,
    }


def change(asset: str = YES, **fields: str) -> dict[str, Any]:
    entry = {"asset_id": asset, "price": "0.5", "size": "200", "side": "BUY", "hash": "0x1"}
    return {
        "event_type": "price_change",
        "market": MARKET,
        "price_changes": [{**entry, **fields}],
        "timestamp": "123456789001",
    }


def frame(message: Any) -> str:
    return json.dumps(message)


def test_a_book_becomes_a_snapshot_of_exact_decimals_best_first_named_by_the_channel() -> None:
    books = MarketChannelBooks((YES, NO))

    translation = books.on_frame(frame(book()))

    assert translation.rejections == ()
    (snapshot,) = translation.records
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.market_id, snapshot.security_id, snapshot.sequence) == (MARKET, YES, 1)
    assert snapshot.ts_event == 123456789000 * 1_000_000
    assert snapshot.bids == (
        BookLevel(price=Decimal("0.49"), size=Decimal(20)),
        BookLevel(price=Decimal("0.48"), size=Decimal(30)),
    )
    assert snapshot.asks[0] == BookLevel(price=Decimal("0.52"), size=Decimal(25))
    assert books.synced(YES)
    assert not books.synced(NO)


def test_a_frame_may_hold_an_array_and_the_given_market_id_wins() -> None:
    books = MarketChannelBooks((YES, NO), market_id="btc-up-1")

    translation = books.on_frame(frame([book(YES), book(NO, bids=[], asks=[])]))

    assert [(r.market_id, r.security_id) for r in translation.records] == [
        ("btc-up-1", YES),
        ("btc-up-1", NO),
    ]
    assert books.counts["book"] == 2


def test_price_changes_follow_the_book_in_sequence_and_size_zero_removes_the_level() -> None:
    books = MarketChannelBooks((YES, NO))
    books.on_frame(frame(book()))
    message = change()
    message["price_changes"].append(
        {"asset_id": YES, "price": ".52", "size": "0", "side": "SELL", "hash": "0x2"}
    )

    translation = books.on_frame(frame(message))

    assert translation.rejections == ()
    first, second = translation.records
    assert isinstance(first, PriceChange)
    assert isinstance(second, PriceChange)
    assert (first.side, first.price, first.size, first.sequence) == (
        BookSide.BID,
        Decimal("0.5"),
        Decimal(200),
        2,
    )
    assert (second.side, second.price, second.size, second.sequence) == (
        BookSide.ASK,
        Decimal("0.52"),
        Decimal(0),
        3,
    )
    assert books.levels(YES, BookSide.ASK) == {Decimal("0.53"): Decimal(60)}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"price": 0.5}, 'price must be a decimal string like ".48"'),
        ({"size": "-5"}, "size is not a non-negative decimal"),
        ({"size": "1e3"}, "size is not a non-negative decimal"),
        ({"side": "HOLD"}, "side must be BUY or SELL"),
        ({"asset_id": "123"}, "is not one we subscribed to"),
    ],
)
def test_a_bad_change_is_refused_with_its_reason_and_the_others_still_apply(
    fields: dict[str, Any], reason: str
) -> None:
    books = MarketChannelBooks((YES, NO))
    books.on_frame(frame(book()))
    message = change(**fields)
    message["price_changes"].append({**change()["price_changes"][0], "price": ".47"})

    translation = books.on_frame(frame(message))

    (rejection,) = translation.rejections
    assert reason in rejection.reason
    assert rejection.event_type == "price_change"
    assert [r.price for r in translation.records] == [Decimal("0.47")]  # type: ignore[union-attr]
    assert books.counts["rejected"] == 1


def test_a_json_number_never_becomes_a_float_and_is_refused_where_a_string_belongs() -> None:
    books = MarketChannelBooks((YES, NO))

    translation = books.on_frame(
        '{"event_type":"book","asset_id":"9","market":"m",'
        '"bids":[{"price":0.1,"size":"1"}],"asks":[],"timestamp":"1"}'
    )

    (rejection,) = translation.rejections
    assert "price must be a decimal string" in rejection.reason
    assert "Decimal('0.1')" in rejection.reason
    assert translation.records == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        (
            '{"event_type": "book", "asset_id": "9", "market": "m", "bids": [], "asks": [], '
            '"timestamp": NaN}',
            "not JSON",
        ),
        ('["x"]', "a message is a JSON object"),
        ('{"market": "m"}', "no event_type"),
        ('{"event_type": "order_filled", "market": "m"}', "unknown event_type 'order_filled'"),
        (
            '{"event_type": "book", "asset_id": "9", "market": "m", "bids": [], "asks": [], '
            '"timestamp": 17}',
            "timestamp must be milliseconds as a string",
        ),
        (
            '{"event_type": "book", "asset_id": "9", "market": "m", "bids": {}, "asks": [], '
            '"timestamp": "1"}',
            "bids is not an array",
        ),
    ],
)
def test_what_is_not_the_documented_protocol_is_a_rejection_never_an_exception(
    text: str, reason: str
) -> None:
    books = MarketChannelBooks((YES, NO))

    translation = books.on_frame(text)

    (rejection,) = translation.rejections
    assert reason in rejection.reason
    assert translation.records == ()
    assert books.counts["rejected"] == 1


def test_pong_and_the_documented_extras_are_counted_not_refused() -> None:
    books = MarketChannelBooks((YES, NO))
    books.on_frame(frame(book()))
    extras = [
        {"event_type": "best_bid_ask", "market": MARKET, "asset_id": YES, "best_bid": ".49",
         "best_ask": ".52", "spread": ".03", "timestamp": "1"},
        {"event_type": "last_trade_price", "market": MARKET, "asset_id": YES, "price": ".5",
         "size": "12.5", "side": "SELL", "fee_rate_bps": "0", "timestamp": "2"},
        {"event_type": "tick_size_change", "market": MARKET, "asset_id": YES,
         "old_tick_size": "0.01", "new_tick_size": "0.001", "side": "BUY", "timestamp": "3"},
    ]  # fmt: skip

    assert books.on_frame("PONG").records == ()
    translation = books.on_frame(frame(extras))

    assert translation.rejections == ()
    assert translation.records == ()
    assert books.counts["pong"] == 1
    assert books.counts["ignored:best_bid_ask"] == 1
    assert books.tick_sizes[YES] == Decimal("0.001")
    trade = books.last_trades[YES]
    assert (trade.price, trade.size, trade.side) == (Decimal("0.5"), Decimal("12.5"), BookSide.ASK)


def test_changes_before_a_book_and_after_a_lost_connection_are_dropped_until_the_next_book() -> (
    None
):
    books = MarketChannelBooks((YES, NO))

    assert books.on_frame(frame(change())).records == ()
    books.on_frame(frame(book()))
    assert len(books.on_frame(frame(change())).records) == 1
    books.connection_lost()
    assert books.on_frame(frame(change(price=".4"))).records == ()
    assert books.counts["unsynced_dropped"] == 2
    again = books.on_frame(frame(book()))

    (snapshot,) = again.records
    assert books.synced(YES)
    assert snapshot.sequence == 3  # type: ignore[union-attr]


def test_a_change_whose_best_price_differs_from_the_venues_unsyncs_the_book() -> None:
    books = MarketChannelBooks((YES, NO))
    books.on_frame(frame(book()))

    agreed = books.on_frame(frame(change(best_bid="0.5", best_ask=".52")))
    diverged = books.on_frame(frame(change(price=".3", best_bid="0.51")))

    assert agreed.rejections == ()
    assert len(agreed.records) == 1
    (rejection,) = diverged.rejections
    assert "our best_bid 0.5, the venue's 0.51" in rejection.reason
    assert not books.synced(YES)
    assert books.on_frame(frame(change(price=".31"))).records == ()


def test_the_subscription_is_the_documented_market_channel_message() -> None:
    assert json.loads(subscription((YES, NO))) == {"assets_ids": [YES, NO], "type": "market"}
