"""The order book of one instrument, kept in step with the feed by sequence number.

A plain class with no threads: the MarketActor owns one per instrument, feeds it snapshots
and changes, and publishes ``view()`` whenever an apply reports a change.
"""

from __future__ import annotations

from decimal import Decimal

from messages.enums import BookSide, Outcome
from messages.market_data import BookLevel, BookSnapshot, InstrumentBook, PriceChange


class OrderBook:
    """Bids and asks of one instrument as ``price -> total size``, plus its sync state.

    The book is synced from the first snapshot until a sequence gap shows that a change was
    lost; from then on changes are ignored until the next snapshot replaces the book.
    """

    def __init__(self, *, security_id: str, outcome: Outcome) -> None:
        self.security_id = security_id
        self.outcome = outcome
        self._synced = False
        self._sequence = -1
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        # Sorted sides and the whole view are cached: view() runs after every change, and a
        # change touches one side only.
        self._sorted_bids: tuple[BookLevel, ...] | None = None
        self._sorted_asks: tuple[BookLevel, ...] | None = None
        self._view: InstrumentBook | None = None

    @property
    def synced(self) -> bool:
        """Whether the levels can be trusted: False before a snapshot and after a gap."""
        return self._synced

    @property
    def sequence(self) -> int:
        """The last applied sequence number, -1 before the first snapshot."""
        return self._sequence

    def apply_snapshot(self, snapshot: BookSnapshot) -> bool:
        """Replace both sides with the venue's full book; this is the only way to resync.

        A snapshot is authoritative whatever its sequence. If it lists a price twice, the
        later level wins. Always returns True, since the book or its sync state changed.
        """
        if snapshot.security_id != self.security_id:
            raise ValueError(
                f"snapshot for {snapshot.security_id} applied to the book of {self.security_id}"
            )
        self._bids = {level.price: level.size for level in snapshot.bids}
        self._asks = {level.price: level.size for level in snapshot.asks}
        self._sorted_bids = None
        self._sorted_asks = None
        self._view = None
        self._sequence = snapshot.sequence
        self._synced = True
        return True

    def apply_change(self, change: PriceChange) -> bool:
        """Apply the next change in sequence and report whether the published view must change.

        Stale changes and changes while unsynced are ignored (False). A gap unsyncs the book
        without applying the change (True, the sync state changed). An in-sequence change
        that leaves the level as it was advances the sequence but returns False.
        """
        if change.security_id != self.security_id:
            raise ValueError(
                f"change for {change.security_id} applied to the book of {self.security_id}"
            )
        if not self._synced or change.sequence <= self._sequence:
            return False
        self._view = None
        if change.sequence > self._sequence + 1:
            self._synced = False
            return True
        self._sequence = change.sequence
        levels = self._bids if change.side is BookSide.BID else self._asks
        if levels.get(change.price, Decimal(0)) == change.size:
            return False
        if change.size:
            levels[change.price] = change.size
        else:
            del levels[change.price]
        if change.side is BookSide.BID:
            self._sorted_bids = None
        else:
            self._sorted_asks = None
        return True

    def view(self) -> InstrumentBook:
        """An immutable view to publish: bids best (highest) first, asks best (lowest) first.

        The same object is returned until the next change, so calling it after every apply
        costs a sort only for the side that changed.
        """
        if self._view is None:
            if self._sorted_bids is None:
                self._sorted_bids = _levels(self._bids, descending=True)
            if self._sorted_asks is None:
                self._sorted_asks = _levels(self._asks, descending=False)
            self._view = InstrumentBook(
                security_id=self.security_id,
                outcome=self.outcome,
                bids=self._sorted_bids,
                asks=self._sorted_asks,
                synced=self._synced,
                sequence=self._sequence,
            )
        return self._view


def _levels(sizes: dict[Decimal, Decimal], *, descending: bool) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(price=price, size=sizes[price]) for price in sorted(sizes, reverse=descending)
    )
