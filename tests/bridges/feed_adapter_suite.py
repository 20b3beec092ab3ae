"""What every venue adapter's feed must be, whatever the venue: the shared suite.

A market-data adapter (Polymarket's market channel, the synthetic generator, the next
venue's) turns what a venue says into feed records. The runtime relies on these rules, so
an adapter's tests run ``assert_valid_feed`` on a feed it produced against its venue's
protocol, and ``assert_books_match`` where the venue's own books are known:

- every record survives the feed codec unchanged (what is recorded replays);
- a market's data comes after its ``market_opened`` and before its ``market_closed``, names
  one of its instruments, and no market is opened twice while it is open; its resolution
  (which may follow the close) names one of its instruments;
- each instrument's first record is a ``book_snapshot``; after it, ``sequence`` grows by
  exactly one per record, except that a snapshot may jump (it resyncs the book);
- prices are exact ``Decimal`` within ``[0, payout]``, sizes exact and never negative,
  a snapshot's levels best first with no price twice and no crossed book;
- ``ts_event`` never goes backwards within an instrument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs

from actors.order_book import OrderBook
from bridges.feed_codec import FeedRecord, decode_record, encode_record
from messages.enums import BookSide, Outcome
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketDefinition, MarketOpened, MarketResolved


def assert_valid_feed(records: Sequence[FeedRecord]) -> None:
    open_markets: dict[str, MarketDefinition] = {}
    closed: dict[str, MarketDefinition] = {}
    sequences: dict[str, int] = {}
    last_ts: dict[str, int] = {}
    for number, record in enumerate(records):
        where = f"record {number} ({type(record).__name__})"
        again = decode_record(encode_record(record))
        assert _fields(again) == _fields(record), f"{where} does not survive the codec"
        if isinstance(record, MarketOpened):
            market_id = record.definition.market_id
            assert market_id not in open_markets, f"{where}: {market_id} opened twice"
            open_markets[market_id] = record.definition
        elif isinstance(record, MarketClosed):
            assert record.market_id in open_markets, f"{where}: {record.market_id} is not open"
            closed[record.market_id] = open_markets.pop(record.market_id)
        elif isinstance(record, MarketResolved):
            definition = open_markets.get(record.market_id) or closed.get(record.market_id)
            assert definition is not None, f"{where}: {record.market_id} was never opened"
            assert record.winning_security_id in definition.security_ids, f"{where}: no such leg"
        else:
            definition = open_markets.get(record.market_id)
            assert definition is not None, f"{where}: data for {record.market_id}, not open"
            assert record.security_id in definition.security_ids, f"{where}: foreign instrument"
            _check_data(record, definition.payout, sequences, where)
            previous = last_ts.get(record.security_id, record.ts_event)
            assert record.ts_event >= previous, f"{where}: ts_event went backwards"
            last_ts[record.security_id] = record.ts_event


def assert_books_match(
    records: Iterable[FeedRecord],
    expected: Sequence[tuple[str, Mapping[Decimal, Decimal], Mapping[Decimal, Decimal]]],
) -> None:
    """Replayed through the runtime's own ``OrderBook``, the feed's data records leave each
    instrument's book as the venue's was after the message each came from: ``expected`` is
    (security, bids, asks) per data record, in order."""
    books: dict[str, OrderBook] = {}
    data = [r for r in records if isinstance(r, BookSnapshot | PriceChange)]
    assert len(data) == len(expected), f"{len(data)} data records for {len(expected)} books"
    for number, (record, (security_id, bids, asks)) in enumerate(zip(data, expected, strict=True)):
        assert record.security_id == security_id, f"data record {number}: another instrument"
        book = books.setdefault(
            security_id, OrderBook(security_id=security_id, outcome=Outcome.YES)
        )
        if isinstance(record, BookSnapshot):
            book.apply_snapshot(record)
        else:
            book.apply_change(record)
        view = book.view()
        assert book.synced, f"data record {number}: the book is not synced"
        assert {level.price: level.size for level in view.bids} == dict(bids), number
        assert {level.price: level.size for level in view.asks} == dict(asks), number


def _check_data(
    record: BookSnapshot | PriceChange, payout: Decimal, sequences: dict[str, int], where: str
) -> None:
    previous = sequences.get(record.security_id)
    if isinstance(record, BookSnapshot):
        assert previous is None or record.sequence > previous, f"{where}: sequence went back"
        for side, levels in ((BookSide.BID, record.bids), (BookSide.ASK, record.asks)):
            prices = [level.price for level in levels]
            assert len(set(prices)) == len(prices), f"{where}: a price twice on the {side}"
            best_first = sorted(prices, reverse=side is BookSide.BID)
            assert prices == best_first, f"{where}: {side} levels not best first"
            for level in levels:
                _check_number(level.price, payout, where)
                assert level.size > 0, f"{where}: a level of size {level.size}"
        if record.bids and record.asks:
            assert record.bids[0].price < record.asks[0].price, f"{where}: a crossed book"
    else:
        assert previous is not None, f"{where}: a change before the instrument's first book"
        assert record.sequence == previous + 1, (
            f"{where}: sequence {record.sequence} after {previous}"
        )
        _check_number(record.price, payout, where)
        assert record.size >= 0, f"{where}: a negative size"
    sequences[record.security_id] = record.sequence


def _check_number(price: Decimal, payout: Decimal, where: str) -> None:
    assert type(price) is Decimal, f"{where}: {price!r} is not a Decimal"
    assert Decimal(0) <= price <= payout, f"{where}: price {price} outside [0, {payout}]"


def _fields(record: FeedRecord) -> dict[str, object]:
    """A record's content, without what every process generates again (id, ts_init)."""
    return {
        field.name: getattr(record, field.name)
        for field in attrs.fields(type(record))
        if field.name not in ("id", "ts_init")
    }
