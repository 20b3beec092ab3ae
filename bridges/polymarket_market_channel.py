"""Polymarket's CLOB market channel, translated into the project's feed records (no I/O).

The channel pushes JSON text frames, each one message object or an array of them (the book
dump after a subscription is an array): ``book`` (a token's whole book), ``price_change``
(a ``price_changes`` array of level updates, each with its token, side, new size and the
venue's best bid and ask after it), ``last_trade_price`` and ``tick_size_change``; and
``PONG`` as plain text, the answer to our ``PING``. Prices and sizes are strings such as
``".48"``: they become ``Decimal`` straight from the string, and a number where a string
belongs is refused (JSON numbers are read as ``Decimal``, so no float ever exists).

Each token is one instrument (``security_id`` = the token id). The records' ``sequence`` is
ours, one per token and record, because the channel has none: a token's book is unsynced
from the start and after a lost connection until its next ``book``, and the changes that
come meanwhile are dropped (counted), since they change a book we do not hold. A change
after which our best bid or ask differs from the venue's says our book diverged: the token
is unsynced until its next ``book``, and the divergence is a rejection with both prices.

What is not a record is a value too: a ``Rejection`` says which message was refused and
why, for the caller to log and count.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from messages.enums import BookSide, Outcome
from messages.market_data import BookLevel, BookSnapshot, PriceChange
from messages.markets import Instrument, MarketClosed, MarketDefinition, MarketOpened

PUBLIC_MARKET_CHANNEL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
"""The public market channel; tests and other deployments point ``--ws-url`` elsewhere."""

PING = "PING"
PONG = "PONG"
EXCERPT_CHARS = 200
"""How much of a refused message a rejection keeps, for the log line."""

VENUE_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
"""A non-negative decimal as the venue writes it: ``"30"``, ``"0.48"``, ``".48"``."""

SIDES: Mapping[str, BookSide] = {"BUY": BookSide.BID, "SELL": BookSide.ASK}
"""A change's ``side`` names the book side of its level: buy orders rest on the bid."""

IGNORED_EVENTS = frozenset({"best_bid_ask", "new_market", "market_resolved"})
"""Documented messages a feed has no record for (custom features); counted, not refused."""

FeedData = BookSnapshot | PriceChange


def subscription(assets: Sequence[str]) -> str:
    """The first message on a connection: the tokens to stream, on the market channel."""
    return json.dumps({"assets_ids": list(assets), "type": "market"})


class VenueMessageError(ValueError):
    """A message that does not have the documented shape."""


@attrs.frozen(kw_only=True)
class Rejection:
    """A message, or one change in it, that was refused; ``excerpt`` is the start of it."""

    reason: str
    event_type: str | None
    excerpt: str


@attrs.frozen(kw_only=True)
class LastTrade:
    price: Decimal
    size: Decimal
    side: BookSide
    ts_event: int


@attrs.frozen(kw_only=True)
class Translation:
    """What one frame became: feed records in arrival order, and what was refused."""

    records: tuple[FeedData, ...] = ()
    rejections: tuple[Rejection, ...] = ()


@attrs.define
class _TokenBook:
    bids: dict[Decimal, Decimal] = attrs.field(factory=dict)
    asks: dict[Decimal, Decimal] = attrs.field(factory=dict)
    sequence: int = 0
    synced: bool = False

    def side(self, side: BookSide) -> dict[Decimal, Decimal]:
        return self.bids if side is BookSide.BID else self.asks

    def best(self, side: BookSide) -> Decimal | None:
        levels = self.side(side)
        if not levels:
            return None
        return max(levels) if side is BookSide.BID else min(levels)


class MarketChannelBooks:
    """The books of one market's tokens as the channel describes them, and their records.

    ``market_id`` names the market in the records; when it is None the channel's own
    ``market`` field (the condition id) of the first message names it.
    """

    def __init__(self, assets: Sequence[str], *, market_id: str | None = None) -> None:
        if not assets or len(set(assets)) != len(assets):
            raise ValueError(f"the tokens of a market must be distinct and given: {assets}")
        self.market_id = market_id
        self.assets = tuple(assets)
        self._books = {asset: _TokenBook() for asset in assets}
        self.tick_sizes: dict[str, Decimal] = {}
        self.last_trades: dict[str, LastTrade] = {}
        self.counts: Counter[str] = Counter()
        """Messages by what became of them: the event type when applied, ``pong``,
        ``ignored:<type>``, ``unsynced_dropped`` and ``rejected``."""

    def synced(self, asset: str) -> bool:
        return self._books[asset].synced

    def levels(self, asset: str, side: BookSide) -> dict[Decimal, Decimal]:
        """A copy of one side of a token's book: price → size."""
        return dict(self._books[asset].side(side))

    def connection_lost(self) -> None:
        """Every book is unsynced until its next ``book``: what came meanwhile is unknown."""
        for book in self._books.values():
            book.synced = False

    def on_frame(self, text: str) -> Translation:
        """Translate one text frame; never raises on what the venue sent."""
        if text == PONG:
            self.counts["pong"] += 1
            return Translation()
        try:
            decoded = json.loads(text, parse_float=Decimal, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as error:
            return self._rejected(
                Rejection(
                    reason=f"not JSON: {error}", event_type=None, excerpt=text[:EXCERPT_CHARS]
                )
            )
        messages = decoded if isinstance(decoded, list) else [decoded]
        records: list[FeedData] = []
        rejections: list[Rejection] = []
        for message in messages:
            self._message(message, records, rejections)
        return Translation(records=tuple(records), rejections=tuple(rejections))

    # -- one message -------------------------------------------------------------------------

    def _message(self, message: Any, records: list[FeedData], rejections: list[Rejection]) -> None:
        event_type = message.get("event_type") if isinstance(message, dict) else None
        try:
            if not isinstance(message, dict):
                raise VenueMessageError("a message is a JSON object")
            if not isinstance(event_type, str):
                raise VenueMessageError("no event_type")
            self._adopt_market(message)
            if event_type == "book":
                records.append(self._book(message))
            elif event_type == "price_change":
                self._price_changes(message, records, rejections)
            elif event_type == "last_trade_price":
                self._last_trade(message)
            elif event_type == "tick_size_change":
                self._tick_size(message)
            elif event_type in IGNORED_EVENTS:
                self.counts[f"ignored:{event_type}"] += 1
                return
            else:
                raise VenueMessageError(f"unknown event_type {event_type!r}")
            self.counts[event_type] += 1
        except VenueMessageError as error:
            rejections.append(self._rejection(str(error), event_type, message))

    def _adopt_market(self, message: dict[str, Any]) -> None:
        if self.market_id is None:
            self.market_id = _text(message, "market")

    def _book(self, message: dict[str, Any]) -> BookSnapshot:
        asset = self._asset(message)
        bids = _levels(message, "bids", "buys")
        asks = _levels(message, "asks", "sells")
        book = self._books[asset]
        book.bids, book.asks = bids, asks
        book.sequence += 1
        book.synced = True
        return BookSnapshot(
            ts_event=_timestamp_ns(message),
            market_id=self._market(),
            security_id=asset,
            sequence=book.sequence,
            bids=tuple(BookLevel(price=p, size=bids[p]) for p in sorted(bids, reverse=True)),
            asks=tuple(BookLevel(price=p, size=asks[p]) for p in sorted(asks)),
        )

    def _price_changes(
        self, message: dict[str, Any], records: list[FeedData], rejections: list[Rejection]
    ) -> None:
        changes = message.get("price_changes")
        if not isinstance(changes, list):
            raise VenueMessageError("price_changes is not an array")
        ts_event = _timestamp_ns(message)
        for change in changes:
            try:
                record = self._change(change, ts_event)
            except VenueMessageError as error:
                rejections.append(self._rejection(str(error), "price_change", change))
                continue
            if record is not None:
                records.append(record)

    def _change(self, change: Any, ts_event: int) -> PriceChange | None:
        if not isinstance(change, dict):
            raise VenueMessageError("a price change is a JSON object")
        asset = self._asset(change)
        side = _side(change)
        price = _decimal(change, "price")
        size = _decimal(change, "size")
        book = self._books[asset]
        if not book.synced:
            self.counts["unsynced_dropped"] += 1
            return None
        levels = book.side(side)
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        book.sequence += 1
        self._check_best(asset, book, change)
        return PriceChange(
            ts_event=ts_event,
            market_id=self._market(),
            security_id=asset,
            sequence=book.sequence,
            side=side,
            price=price,
            size=size,
        )

    def _check_best(self, asset: str, book: _TokenBook, change: dict[str, Any]) -> None:
        """The venue's best prices after the change must be ours; else ours diverged."""
        for side, key in ((BookSide.BID, "best_bid"), (BookSide.ASK, "best_ask")):
            if key not in change:
                continue
            venue_best = _decimal(change, key)
            ours = book.best(side)
            if ours is not None and ours != venue_best:
                book.synced = False
                raise VenueMessageError(
                    f"book of {asset} diverged: our {key} {ours}, the venue's {venue_best};"
                    " unsynced until its next book"
                )

    def _last_trade(self, message: dict[str, Any]) -> None:
        asset = self._asset(message)
        self.last_trades[asset] = LastTrade(
            price=_decimal(message, "price"),
            size=_decimal(message, "size"),
            side=_side(message),
            ts_event=_timestamp_ns(message),
        )

    def _tick_size(self, message: dict[str, Any]) -> None:
        asset = self._asset(message)
        tick = _decimal(message, "new_tick_size")
        if not tick:
            raise VenueMessageError("new_tick_size is zero")
        self.tick_sizes[asset] = tick

    # -- helpers -----------------------------------------------------------------------------

    def _asset(self, message: dict[str, Any]) -> str:
        asset = _text(message, "asset_id")
        if asset not in self._books:
            raise VenueMessageError(f"asset_id {asset[:80]!r} is not one we subscribed to")
        return asset

    def _market(self) -> str:
        if self.market_id is None:
            raise VenueMessageError("no market id yet")
        return self.market_id

    def _rejection(self, reason: str, event_type: str | None, message: Any) -> Rejection:
        self.counts["rejected"] += 1
        return Rejection(
            reason=reason,
            event_type=event_type if isinstance(event_type, str) else None,
            excerpt=json.dumps(message, default=str)[:EXCERPT_CHARS],
        )

    def _rejected(self, rejection: Rejection) -> Translation:
        self.counts["rejected"] += 1
        return Translation(rejections=(rejection,))


class MarketChannelSession:
    """One market's records from its channel frames: its ``MarketOpened`` first (once the
    market's id is known), the books' records in arrival order, its ``MarketClosed`` last.

    The first token is the YES leg, the second the NO leg.
    """

    def __init__(self, assets: tuple[str, str], *, market_id: str | None = None) -> None:
        self.books = MarketChannelBooks(assets, market_id=market_id)
        self.opened = False
        self.closed = False
        self.last_ts = 0

    def open_if_known(self, now_ns: int) -> list[MarketOpened]:
        market_id = self.books.market_id
        if self.opened or market_id is None:
            return []
        yes, no = self.books.assets
        self.opened = True
        self.last_ts = max(self.last_ts, now_ns)
        definition = MarketDefinition(
            market_id=market_id,
            instruments=(
                Instrument(security_id=yes, outcome=Outcome.YES),
                Instrument(security_id=no, outcome=Outcome.NO),
            ),
        )
        return [MarketOpened(ts_event=now_ns, definition=definition)]

    def on_frame(self, text: str) -> tuple[list[MarketOpened | FeedData], Translation]:
        """The records one frame adds (the opening first, if this frame named the market),
        and the frame's translation, whose rejections the caller logs."""
        translation = self.books.on_frame(text)
        if not translation.records or self.closed:
            return [], translation
        records: list[MarketOpened | FeedData] = []
        records.extend(self.open_if_known(translation.records[0].ts_event))
        records.extend(translation.records)
        self.last_ts = max(self.last_ts, translation.records[-1].ts_event)
        return records, translation

    def close(self, now_ns: int) -> list[MarketClosed]:
        """The market's closing, at or after its last record; nothing if it never opened."""
        if not self.opened or self.closed or self.books.market_id is None:
            return []
        self.closed = True
        return [MarketClosed(ts_event=max(now_ns, self.last_ts), market_id=self.books.market_id)]


def log_rejections(log: Any, translation: Translation) -> None:
    """One error line per refused message, with its reason and start."""
    for rejection in translation.rejections:
        log.error(
            "venue_message_rejected",
            venue="polymarket",
            reason=rejection.reason,
            event_type=rejection.event_type,
            excerpt=rejection.excerpt,
        )


def refuse_constant(text: str) -> Any:
    """For ``json.loads``: ``NaN`` and ``Infinity`` are refused, not made floats."""
    raise ValueError(f"{text} is not a number")


def _text(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise VenueMessageError(f"{key} is not a non-empty string")
    return value


def _decimal(message: dict[str, Any], key: str) -> Decimal:
    value = message.get(key)
    if not isinstance(value, str):
        raise VenueMessageError(f'{key} must be a decimal string like ".48", got {value!r}')
    if not VENUE_DECIMAL.fullmatch(value):
        raise VenueMessageError(f"{key} is not a non-negative decimal: {value[:40]!r}")
    return Decimal(value)


def _side(message: dict[str, Any]) -> BookSide:
    side = message.get("side")
    if not isinstance(side, str) or side.upper() not in SIDES:
        raise VenueMessageError(f"side must be BUY or SELL, got {side!r}")
    return SIDES[side.upper()]


def _timestamp_ns(message: dict[str, Any]) -> int:
    value = message.get("timestamp")
    if not isinstance(value, str) or not value.isdigit() or len(value) > 16:
        raise VenueMessageError(f"timestamp must be milliseconds as a string, got {value!r}")
    return int(value) * 1_000_000


def _levels(message: dict[str, Any], key: str, old_key: str) -> dict[Decimal, Decimal]:
    """One side of a book (``bids``/``asks``; the older ``buys``/``sells`` too)."""
    levels = message.get(key, message.get(old_key))
    if not isinstance(levels, list):
        raise VenueMessageError(f"{key} is not an array")
    book: dict[Decimal, Decimal] = {}
    for level in levels:
        if not isinstance(level, dict):
            raise VenueMessageError(f"a level of {key} is not an object")
        price, size = _decimal(level, "price"), _decimal(level, "size")
        if price in book:
            raise VenueMessageError(f"{key} lists the price {price} twice")
        if size:
            book[price] = size
    return book
