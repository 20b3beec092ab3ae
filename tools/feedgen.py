"""A synthetic feed of consecutive binary markets, for demos, replays and tests.

Each market is a short "will BTC be up in this window" market (seed 000's market switching):
it opens, its YES and NO books get a snapshot, then level changes follow a seeded random walk
of the YES probability, with a full snapshot every ~50 updates per instrument to resync, until
the market closes and resolves on where the walk ended. The next market opens as it closes.

A dozen or so times a market, one instrument's book is dislocated: a seller sweeps its top
bids and offers several ticks lower for a few updates, so best YES ask + best NO ask drops
below 0.98 and a synthetic-arbitrage strategy (seed 003) has something to trade.

All randomness comes from one ``random.Random(seed)`` and all arithmetic is on integer ticks
and shares, so a seed gives the same feed on every platform.
"""

from __future__ import annotations

import argparse
import random
import sys
from decimal import Decimal
from pathlib import Path

import attrs

from bridges.feed_codec import FeedRecord, write_feed
from messages.enums import BookSide, Outcome
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import (
    Instrument,
    MarketClosed,
    MarketDefinition,
    MarketOpened,
    MarketResolved,
)

SAMPLE_FEED = Path(__file__).parent / "data" / "sample_feed.jsonl.gz"
"""The bundled feed: ``generate_feed()`` with its defaults."""

TICKS = 100
"""Ticks per unit of payout: prices are multiples of 0.01 strictly between 0 and 1."""

_NS = 1_000_000_000
_MS = 1_000_000

# The shape of the simulation. Pairs are inclusive (low, high) ranges drawn with randint;
# "odds" of n mean a chance of 1 in n per update.
_MIN_SIZE, _MAX_SIZE = 10, 500
_P_LOW, _P_HIGH = 70, 930
"""Bounds of the YES probability walk, in per-mille: books keep room below and above."""
_P_MOVE_ODDS = 3
_P_STEP = 4
_SPREADS = (1, 3)
_DEPTHS = (3, 5)
_RESHAPE_ODDS = 25
_SNAPSHOT_EVERY = (40, 60)
_DISLOCATIONS = (10, 16)
_UPDATES_PER_DISLOCATION = 18
"""Room one dislocation needs to play out; a short market gets fewer."""
_DISLOCATION_HOLD = (1, 3)
_FIX_PERCENT = 75
"""How often an update moves a book towards its quote rather than churning a level."""


def generate_feed(
    *,
    seed: int = 7,
    markets: int = 5,
    updates_per_market: int = 300,
    start_ns: int = 1_767_225_600_000_000_000,
    market_seconds: int = 60,
) -> list[FeedRecord]:
    """Consecutive binary markets to demo, replay and test against without a venue.

    Deterministic for ``seed``: the same arguments give the same records (ids aside).

    Each market spans ``market_seconds`` from ``start_ns`` on: ``market_opened``, a snapshot
    per instrument, ``updates_per_market`` updates (price changes and resync snapshots), then
    ``market_closed`` and ``market_resolved``. ``ts_event`` increases strictly throughout.
    """
    if markets < 0 or updates_per_market < 0:
        raise ValueError("markets and updates_per_market must be >= 0")
    market_ns = market_seconds * _NS
    if market_ns // (updates_per_market + 1) <= 3 * _MS:
        raise ValueError(f"{updates_per_market} updates do not fit in {market_seconds} s")
    rng = random.Random(seed)
    records: list[FeedRecord] = []
    for index in range(markets):
        market = _Market(rng, f"btc-up-{index + 1:04d}", start_ns + index * market_ns)
        records.extend(market.run(updates_per_market, market_ns))
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's options, for ``python -m tools.feedgen`` and ``tradeactors feedgen``."""
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--markets", type=int, default=5, help="consecutive markets (default 5)")
    parser.add_argument("--updates", type=int, default=300, help="updates per market (default 300)")
    parser.add_argument("--out", type=Path, required=True, help="output; .gz means gzip")


def run(args: argparse.Namespace) -> int:
    """Write the feed ``args`` describe; 2 (and why, on stderr) if they describe none."""
    try:
        records = generate_feed(
            seed=args.seed, markets=args.markets, updates_per_market=args.updates
        )
    except ValueError as exc:
        sys.stderr.write(f"tradeactors feedgen: {exc}\n")
        return 2
    count = write_feed(records, args.out)
    sys.stdout.write(f"wrote {count} records to {args.out}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write a synthetic feed file, e.g. to regenerate the bundled sample feed."""
    parser = argparse.ArgumentParser(prog="python -m tools.feedgen", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _price(tick: int) -> Decimal:
    """Exact, and always two places: tick 50 is 0.50, as a venue prints it."""
    return Decimal(tick).scaleb(-2)


@attrs.frozen
class _Quote:
    """Where an instrument's book is heading: its best bid and best ask, in ticks."""

    best_bid: int
    best_ask: int

    def best(self, side: BookSide) -> int:
        return self.best_bid if side is BookSide.BID else self.best_ask


_Change = tuple[BookSide, int, int]
"""One level change in ticks and shares: (side, price, new size); size 0 removes the level."""


class _Book:
    """One instrument's book as the feed has published it, in ticks and shares."""

    def __init__(self, security_id: str, rng: random.Random) -> None:
        self.security_id = security_id
        self.sequence = 0
        self.levels: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
        self.spread = rng.randint(*_SPREADS)

    def best(self, side: BookSide) -> int:
        prices = self.levels[side]
        return max(prices) if side is BookSide.BID else min(prices)

    def deepest(self, side: BookSide) -> int:
        prices = self.levels[side]
        return min(prices) if side is BookSide.BID else max(prices)

    def beyond(self, side: BookSide) -> int | None:
        """The next price behind the deepest level, if it is still inside (0, 1)."""
        tick = self.deepest(side) + (-1 if side is BookSide.BID else 1)
        return tick if 0 < tick < TICKS else None

    def resync(self, quote: _Quote, rng: random.Random) -> None:
        """Jump straight to ``quote`` with 3-5 levels a side, keeping sizes of levels that stay."""
        for side in BookSide:
            step = -1 if side is BookSide.BID else 1
            ticks = range(quote.best(side), quote.best(side) + step * rng.randint(*_DEPTHS), step)
            old = self.levels[side]
            self.levels[side] = {
                tick: old.get(tick) or _new_size(rng) for tick in ticks if 0 < tick < TICKS
            }

    def apply(self, change: _Change) -> None:
        side, tick, size = change
        if size:
            self.levels[side][tick] = size
        else:
            del self.levels[side][tick]
        self.sequence += 1

    def next_fix(self, quote: _Quote, rng: random.Random) -> _Change | None:
        """The next change that moves this book towards ``quote``; None once it is there.

        The top of book goes first (that is what a strategy sees), then the depth back into
        3-5 levels. No change ever crosses the book or empties a side.
        """
        bid, ask = self.best(BookSide.BID), self.best(BookSide.ASK)
        if ask > quote.best_ask:
            if bid >= quote.best_ask:
                return self._remove(BookSide.BID, bid, quote, rng)
            return BookSide.ASK, quote.best_ask, _new_size(rng)
        if bid < quote.best_bid:
            if ask <= quote.best_bid:
                return self._remove(BookSide.ASK, ask, quote, rng)
            return BookSide.BID, quote.best_bid, _new_size(rng)
        if ask < quote.best_ask:
            return self._remove(BookSide.ASK, ask, quote, rng)
        if bid > quote.best_bid:
            return self._remove(BookSide.BID, bid, quote, rng)
        for side in BookSide:
            count = len(self.levels[side])
            if count > _DEPTHS[1]:
                return side, self.deepest(side), 0
            if count < _DEPTHS[0] and (tick := self.beyond(side)) is not None:
                return side, tick, _new_size(rng)
        return None

    def churn(self, rng: random.Random) -> _Change:
        """The everyday noise of a book: mostly a new size at a level, sometimes depth."""
        side = rng.choice(tuple(BookSide))
        levels = self.levels[side]
        action = rng.randrange(10)
        if action == 0 and len(levels) < _DEPTHS[1] and (tick := self.beyond(side)) is not None:
            return side, tick, _new_size(rng)
        if action == 1 and len(levels) > _DEPTHS[0]:
            return side, self.deepest(side), 0
        tick = rng.choice(sorted(levels))
        size = rng.randint(_MIN_SIZE, _MAX_SIZE - 1)
        return side, tick, size + 1 if size >= levels[tick] else size

    def _remove(self, side: BookSide, tick: int, quote: _Quote, rng: random.Random) -> _Change:
        if len(self.levels[side]) > 1:
            return side, tick, 0
        return side, quote.best(side), _new_size(rng)

    def snapshot(self, market_id: str, ts_event: int) -> BookSnapshot:
        return BookSnapshot(
            ts_event=ts_event,
            market_id=market_id,
            security_id=self.security_id,
            sequence=self.sequence,
            bids=self._book_levels(BookSide.BID),
            asks=self._book_levels(BookSide.ASK),
        )

    def _book_levels(self, side: BookSide) -> tuple[BookLevel, ...]:
        levels = self.levels[side]
        return tuple(
            BookLevel(price=_price(tick), size=Decimal(levels[tick]))
            for tick in sorted(levels, reverse=side is BookSide.BID)
        )


def _new_size(rng: random.Random) -> int:
    return rng.randint(_MIN_SIZE, _MAX_SIZE)


class _Market:
    """One market's simulation: the probability walk, both books and the dislocations."""

    def __init__(self, rng: random.Random, market_id: str, open_ns: int) -> None:
        self.rng = rng
        self.market_id = market_id
        self.open_ns = open_ns
        self.p = rng.randint(400, 600)
        self.books = (_Book(f"{market_id}-YES", rng), _Book(f"{market_id}-NO", rng))
        self.shift = [0, 0]
        self.dislocations_due = 0
        self.dislocated: int | None = None
        self.hold = 0

    def run(self, updates: int, market_ns: int) -> list[FeedRecord]:
        rng = self.rng
        definition = MarketDefinition(
            market_id=self.market_id,
            instruments=tuple(
                Instrument(security_id=book.security_id, outcome=outcome)
                for book, outcome in zip(self.books, Outcome, strict=True)
            ),
            payout=Decimal(1),
        )
        records: list[FeedRecord] = [MarketOpened(ts_event=self.open_ns, definition=definition)]
        for index, book in enumerate(self.books):
            book.resync(self.quote(index), rng)
            records.append(book.snapshot(self.market_id, self.open_ns + (index + 1) * _MS))
        step = market_ns // (updates + 1)
        dislocation_starts = self._schedule_dislocations(updates)
        next_snapshot = [rng.randint(*_SNAPSHOT_EVERY) // 2, rng.randint(*_SNAPSHOT_EVERY)]
        for update in range(updates):
            ts_event = self.open_ns + (update + 1) * step + rng.randrange(step // 2)
            self._walk()
            self.dislocations_due += update in dislocation_starts
            self._dislocate()
            due = [index for index in (0, 1) if next_snapshot[index] <= update]
            if due:
                next_snapshot[due[0]] = update + rng.randint(*_SNAPSHOT_EVERY)
                records.append(self._resync(due[0], ts_event))
            else:
                records.append(self._change(ts_event))
            self._settle_dislocation()
        close_ns = self.open_ns + market_ns
        winner = self.books[0] if self.p > 500 else self.books[1]
        records.append(MarketClosed(ts_event=close_ns - 2, market_id=self.market_id))
        records.append(
            MarketResolved(
                ts_event=close_ns - 1,
                market_id=self.market_id,
                winning_security_id=winner.security_id,
            )
        )
        return records

    def quote(self, index: int) -> _Quote:
        """Where instrument ``index`` (0 YES, 1 NO) should be quoted now."""
        fair_yes = (self.p + 5) // 10
        center = (fair_yes if index == 0 else TICKS - fair_yes) - self.shift[index]
        best_bid = center - self.books[index].spread // 2
        return _Quote(best_bid=best_bid, best_ask=best_bid + self.books[index].spread)

    def _schedule_dislocations(self, updates: int) -> set[int]:
        count = min(self.rng.randint(*_DISLOCATIONS), updates // _UPDATES_PER_DISLOCATION)
        if count == 0:
            return set()
        slot = updates // count
        return {n * slot + self.rng.randrange(slot // 3 + 1) for n in range(count)}

    def _walk(self) -> None:
        rng = self.rng
        if rng.randrange(_P_MOVE_ODDS) == 0:
            p = self.p + rng.randint(-_P_STEP, _P_STEP)
            if p < _P_LOW:
                p = 2 * _P_LOW - p
            elif p > _P_HIGH:
                p = 2 * _P_HIGH - p
            self.p = p
        if rng.randrange(_RESHAPE_ODDS) == 0:
            index = rng.randrange(2)
            if index != self.dislocated:
                self.books[index].spread = rng.randint(*_SPREADS)

    def _dislocate(self) -> None:
        """Push one book down until the two best asks sum to 0.94-0.97 (a seller's sweep).

        Waits while another dislocation runs or the books have not recovered from the last.
        """
        asks = sum(book.best(BookSide.ASK) for book in self.books)
        if not self.dislocations_due or self.dislocated is not None or asks <= TICKS:
            return
        fair_yes = (self.p + 5) // 10
        roomy = [index for index, center in enumerate((fair_yes, TICKS - fair_yes)) if center >= 35]
        index = self.rng.choice(roomy)
        quoted_asks = self.quote(0).best_ask + self.quote(1).best_ask
        self.shift[index] = quoted_asks - TICKS + 2 + self.rng.randint(1, 4)
        self.dislocated = index
        self.dislocations_due -= 1
        self.hold = self.rng.randint(*_DISLOCATION_HOLD)

    def _settle_dislocation(self) -> None:
        """Count the hold down once the dislocated ask is on the book, then let it recover."""
        index = self.dislocated
        if index is None:
            return
        if self.books[index].best(BookSide.ASK) == self.quote(index).best_ask:
            self.hold -= 1
        if self.hold == 0:
            self.shift[index] = 0
            self.dislocated = None

    def _change(self, ts_event: int) -> PriceChange:
        index, change = self._pick_change()
        book = self.books[index]
        book.apply(change)
        side, tick, size = change
        return PriceChange(
            ts_event=ts_event,
            market_id=self.market_id,
            security_id=book.security_id,
            sequence=book.sequence,
            side=side,
            price=_price(tick),
            size=Decimal(size),
        )

    def _pick_change(self) -> tuple[int, _Change]:
        """A dislocation in progress goes first; otherwise mostly fixes, sometimes churn."""
        rng = self.rng
        if self.dislocated is not None:
            fix = self.books[self.dislocated].next_fix(self.quote(self.dislocated), rng)
            if fix is not None:
                return self.dislocated, fix
        fixes = [
            (index, fix)
            for index, book in enumerate(self.books)
            if (fix := book.next_fix(self.quote(index), rng)) is not None
        ]
        if fixes and rng.randrange(100) < _FIX_PERCENT:
            return rng.choice(fixes)
        index = rng.randrange(2)
        return index, self.books[index].churn(rng)

    def _resync(self, index: int, ts_event: int) -> BookSnapshot:
        book = self.books[index]
        book.resync(self.quote(index), self.rng)
        book.sequence += 1
        return book.snapshot(self.market_id, ts_event)


if __name__ == "__main__":
    sys.exit(main())
