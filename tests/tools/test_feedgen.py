"""The synthetic feed: deterministic, well-ordered, valid against its own books, and tradable."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from bridges.feed_codec import FeedRecord, read_feed
from messages.enums import BookSide
from messages.market_data import BookSnapshot, PriceChange
from messages.markets import MarketClosed, MarketOpened, MarketResolved
from tools.feedgen import SAMPLE_FEED, generate_feed, main

ARBITRAGE_BELOW = Decimal("0.98")
TICK = Decimal("0.01")


def sans_ids(records: Sequence[FeedRecord]) -> list[FeedRecord]:
    """Records with their per-process id blanked: two runs differ in nothing else."""
    return [attrs.evolve(record, id="-") for record in records]


class Books:
    """A tiny book model, a dict of price -> size per side, that checks each record it applies."""

    def __init__(self) -> None:
        self.levels: dict[str, dict[BookSide, dict[Decimal, Decimal]]] = {}
        self.sequence: dict[str, int] = {}

    def apply(self, record: BookSnapshot | PriceChange) -> None:
        security_id = record.security_id
        assert record.sequence == self.sequence.get(security_id, -1) + 1, record
        self.sequence[security_id] = record.sequence
        if isinstance(record, BookSnapshot):
            self.levels[security_id] = {
                BookSide.BID: {level.price: level.size for level in record.bids},
                BookSide.ASK: {level.price: level.size for level in record.asks},
            }
        else:
            side = self.levels[security_id][record.side]
            if record.size == 0:
                assert record.price in side, f"removes a missing level: {record}"
                del side[record.price]
            else:
                side[record.price] = record.size
        self.check(security_id)

    def check(self, security_id: str) -> None:
        bids, asks = self.levels[security_id][BookSide.BID], self.levels[security_id][BookSide.ASK]
        assert bids, f"{security_id} has no bids"
        assert asks, f"{security_id} has no asks"
        assert max(bids) < min(asks), f"{security_id} crossed: {max(bids)} >= {min(asks)}"
        for price, size in itertools.chain(bids.items(), asks.items()):
            assert 0 < price < 1, price
            assert price == price.quantize(TICK), price
            assert 10 <= size <= 500, size
            assert size == size.to_integral_value(), size

    def best_ask(self, security_id: str) -> Decimal | None:
        asks = self.levels.get(security_id, {}).get(BookSide.ASK)
        return min(asks) if asks else None


def replay(records: Sequence[FeedRecord]) -> Iterator[tuple[FeedRecord, Books]]:
    """Each record with the books as they stand after it."""
    books = Books()
    for record in records:
        if isinstance(record, BookSnapshot | PriceChange):
            books.apply(record)
        yield record, books


def arbitrage_crossings(records: Sequence[FeedRecord]) -> dict[str, int]:
    """How often per market best YES ask + best NO ask went from >= 0.98 to below it."""
    crossings: dict[str, int] = {}
    crossed: dict[str, bool] = {}
    for record, books in replay(records):
        if not isinstance(record, BookSnapshot | PriceChange):
            continue
        market_id = record.market_id
        crossings.setdefault(market_id, 0)
        ask_yes, ask_no = books.best_ask(f"{market_id}-YES"), books.best_ask(f"{market_id}-NO")
        now = ask_yes is not None and ask_no is not None and ask_yes + ask_no < ARBITRAGE_BELOW
        crossings[market_id] += now and not crossed.get(market_id, False)
        crossed[market_id] = now
    return crossings


@pytest.fixture(scope="module")
def feed() -> list[FeedRecord]:
    return generate_feed()


def test_the_same_seed_gives_the_same_feed(feed: list[FeedRecord]) -> None:
    assert sans_ids(generate_feed(seed=7)) == sans_ids(feed)


def test_another_seed_gives_another_feed(feed: list[FeedRecord]) -> None:
    assert sans_ids(generate_feed(seed=8)) != sans_ids(feed)


def test_timestamps_increase_strictly_through_the_feed(feed: list[FeedRecord]) -> None:
    stamps = [record.ts_event for record in feed]

    assert all(earlier < later for earlier, later in itertools.pairwise(stamps))
    assert stamps[0] == 1_767_225_600_000_000_000
    assert stamps[-1] < 1_767_225_600_000_000_000 + 5 * 60 * 1_000_000_000


@pytest.mark.parametrize(("markets", "updates"), [(5, 300), (3, 40), (1, 0)])
def test_each_market_opens_snapshots_updates_closes_and_resolves_in_order(
    markets: int, updates: int
) -> None:
    records = generate_feed(seed=3, markets=markets, updates_per_market=updates)
    per_market = 1 + 2 + updates + 2

    assert len(records) == markets * per_market
    for index in range(markets):
        market_id = f"btc-up-{index + 1:04d}"
        opened, yes, no, *changes, closed, resolved = records[
            index * per_market : (index + 1) * per_market
        ]
        assert isinstance(opened, MarketOpened)
        assert opened.definition.market_id == market_id
        assert opened.definition.security_ids == (f"{market_id}-YES", f"{market_id}-NO")
        assert opened.definition.payout == 1
        assert isinstance(yes, BookSnapshot)
        assert isinstance(no, BookSnapshot)
        assert (yes.security_id, yes.sequence) == (f"{market_id}-YES", 0)
        assert (no.security_id, no.sequence) == (f"{market_id}-NO", 0)
        for change in changes:
            assert isinstance(change, PriceChange | BookSnapshot)
            assert change.market_id == market_id
        assert isinstance(closed, MarketClosed)
        assert closed.market_id == market_id
        assert isinstance(resolved, MarketResolved)
        assert resolved.market_id == market_id
        assert resolved.winning_security_id in opened.definition.security_ids


def test_markets_are_consecutive_each_opening_as_the_last_one_closes(
    feed: list[FeedRecord],
) -> None:
    opened = [record.ts_event for record in feed if isinstance(record, MarketOpened)]
    closed = [record.ts_event for record in feed if isinstance(record, MarketClosed)]

    assert [later - earlier for earlier, later in itertools.pairwise(opened)] == [60 * 10**9] * 4
    gaps = [next_open - close for close, next_open in zip(closed[:-1], opened[1:], strict=True)]
    assert all(0 < gap <= 10**6 for gap in gaps)


def test_updates_are_mostly_price_changes_with_a_resync_snapshot_every_fifty_or_so(
    feed: list[FeedRecord],
) -> None:
    kinds = [type(record) for record in feed]
    snapshots_since: dict[str, int] = {}
    longest_gap = 0
    for record in feed:
        if isinstance(record, BookSnapshot):
            snapshots_since[record.security_id] = 0
        elif isinstance(record, PriceChange):
            for security_id in snapshots_since:
                snapshots_since[security_id] += security_id.startswith(record.market_id)
            longest_gap = max(longest_gap, *snapshots_since.values())

    assert kinds.count(PriceChange) > 0.9 * len(feed)
    assert kinds.count(BookSnapshot) > 5 * (2 + 300 // 60)
    assert longest_gap <= 60


def test_both_outcomes_win_across_markets() -> None:
    records = generate_feed(seed=7, markets=20, updates_per_market=60)
    winners = [
        record.winning_security_id for record in records if isinstance(record, MarketResolved)
    ]

    assert any(winner.endswith("-YES") for winner in winners)
    assert any(winner.endswith("-NO") for winner in winners)


@pytest.mark.parametrize("seed", [7, 0, 1, 2, 3, 42, 2026])
def test_every_price_change_applies_to_its_book_and_books_never_cross(seed: int) -> None:
    records = generate_feed(seed=seed)

    assert sum(1 for _ in replay(records)) == len(records)


@pytest.mark.parametrize("seed", [7, 0, 1, 2, 3, 42, 2026])
def test_every_market_offers_at_least_five_arbitrage_crossings(seed: int) -> None:
    crossings = arbitrage_crossings(generate_feed(seed=seed))

    assert len(crossings) == 5
    assert min(crossings.values()) >= 5, crossings


def test_prices_are_exact_ticks_built_without_floats(feed: list[FeedRecord]) -> None:
    prices = [record.price for record in feed if isinstance(record, PriceChange)]

    assert all(price.as_tuple().exponent == -2 for price in prices)
    assert {str(price) for price in prices} <= {f"0.{tick:02d}" for tick in range(1, 100)}


def test_the_bundled_sample_feed_is_the_default_generation(feed: list[FeedRecord]) -> None:
    assert SAMPLE_FEED.name == "sample_feed.jsonl.gz"
    assert sans_ids(list(read_feed(SAMPLE_FEED))) == sans_ids(feed)


def test_main_writes_the_feed_it_is_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "feed.jsonl.gz"

    status = main(["--seed", "3", "--markets", "2", "--updates", "40", "--out", str(out)])

    expected = generate_feed(seed=3, markets=2, updates_per_market=40)
    assert status == 0
    assert sans_ids(list(read_feed(out))) == sans_ids(expected)
    assert f"wrote {len(expected)} records" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments",
    [{"markets": -1}, {"updates_per_market": -1}, {"updates_per_market": 100_000}],
)
def test_impossible_sizes_are_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"markets|updates"):
        generate_feed(**arguments)
