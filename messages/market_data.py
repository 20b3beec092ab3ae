"""Order-book data: full snapshots, incremental changes, and the market snapshot actors share."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import BookSide, Outcome
from messages.fields import (
    enum_field,
    id_field,
    non_negative_decimal,
    positive_decimal,
    text_field,
    ts_init_field,
    tuple_of,
)


@attrs.frozen(kw_only=True, slots=True)
class BookLevel:
    """One price level: total size resting at ``price``."""

    price: Decimal = non_negative_decimal()
    size: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class BookSnapshot:
    """The venue's full book for one instrument; replaces whatever was known before."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()
    security_id: str = text_field()
    sequence: int = attrs.field(validator=attrs.validators.instance_of(int))
    bids: tuple[BookLevel, ...] = tuple_of(BookLevel)
    asks: tuple[BookLevel, ...] = tuple_of(BookLevel)


@attrs.frozen(kw_only=True, slots=True)
class PriceChange:
    """One level changed: ``size`` is the new total at ``price``; zero removes the level.

    ``sequence`` follows the instrument's last snapshot or change by exactly one; a gap means
    an update was lost and the book is no longer synced until the next snapshot.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()
    security_id: str = text_field()
    sequence: int = attrs.field(validator=attrs.validators.instance_of(int))
    side: BookSide = enum_field(BookSide)
    price: Decimal = non_negative_decimal()
    size: Decimal = non_negative_decimal()


@attrs.frozen(kw_only=True, slots=True)
class ReferencePrice:
    """A price from outside the market's books, the oracle input of seed 003's strategy (the
    BTC spot price for a BTC up/down market): a feed record, journaled with the market's data.

    ``strike`` is the level the market resolves against (YES wins above it), when known.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()
    source: str = text_field()
    price: Decimal = positive_decimal()
    strike: Decimal | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(Decimal)),
    )


@attrs.frozen(kw_only=True, slots=True)
class InstrumentBook:
    """An immutable view of one instrument's book inside a MarketSnapshot.

    Bids are best (highest) first, asks best (lowest) first.
    """

    security_id: str = text_field()
    outcome: Outcome = enum_field(Outcome)
    bids: tuple[BookLevel, ...] = tuple_of(BookLevel)
    asks: tuple[BookLevel, ...] = tuple_of(BookLevel)
    synced: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    sequence: int = attrs.field(validator=attrs.validators.instance_of(int))

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of the best bid and ask; None unless both sides are quoted."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


@attrs.frozen(kw_only=True, slots=True)
class MarketSnapshot:
    """Everything known about one market's books at one moment, published by its MarketActor.

    ``reference`` is the market's latest ReferencePrice, None until the feed brings one.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    ts_event: int = attrs.field(validator=attrs.validators.instance_of(int))
    market_id: str = text_field()
    version: int = attrs.field(validator=attrs.validators.instance_of(int))
    books: tuple[InstrumentBook, ...] = tuple_of(InstrumentBook)
    reference: ReferencePrice | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(ReferencePrice)),
    )

    @property
    def synced(self) -> bool:
        """True when every instrument's book is synced, the precondition for trading on it."""
        return all(book.synced for book in self.books)

    def book(self, security_id: str) -> InstrumentBook:
        for book in self.books:
            if book.security_id == security_id:
                return book
        raise KeyError(security_id)

    def book_for(self, outcome: Outcome) -> InstrumentBook:
        for book in self.books:
            if book.outcome is outcome:
                return book
        raise KeyError(outcome)
