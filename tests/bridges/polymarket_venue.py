"""A market channel on 127.0.0.1 speaking Polymarket's documented protocol, for tests.

It holds each token's book as the venue does (price and size strings), answers the
subscription with the book dump (one JSON array of ``book`` messages), then sends a
seeded script: ``price_change`` messages (each change with its token, side, the level's
new size, and the best bid and ask after it), ``last_trade_price``, ``tick_size_change``
and ``best_bid_ask``, some frames a single object and some an array. ``PING`` is answered
``PONG``. ``drop_after`` messages into the first connection it closes the TCP connection
without a closing handshake, and on the next one sends the dump again and goes on.

``sent`` keeps the venue's book of the token after each ``book`` and each change it sent:
what a recording must equal, record by record.
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal
from typing import Any

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve

from messages.enums import BookSide

Book = dict[BookSide, dict[Decimal, Decimal]]


@attrs.frozen
class SentBook:
    asset: str
    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]


def _price_text(rng: random.Random, cents: int) -> str:
    """The venue writes ``.48`` as often as ``0.48``."""
    text = f"{Decimal(cents) / 100:.2f}" if cents < 100 else "1"
    return text[1:] if text.startswith("0") and rng.random() < 0.5 else text


class PolymarketVenue:
    def __init__(
        self,
        assets: tuple[str, str],
        *,
        market: str = "0xmarket",
        seed: int = 1,
        changes: int = 60,
        drop_after: int | None = None,
        ask_low: int = 51,
        others: tuple[PolymarketVenue, ...] = (),
    ) -> None:
        self.assets = assets
        self.market = market
        self.rng = random.Random(seed)
        self.books: dict[str, Book] = {a: {BookSide.BID: {}, BookSide.ASK: {}} for a in assets}
        self.timestamp = 1_700_000_000_000
        self.sent: list[SentBook] = []
        self.subscriptions: list[Any] = []
        self.pings = 0
        self.drop_after = drop_after
        self.ask_low = ask_low
        self.others = others
        """Other markets this server also streams, each to a subscription for its tokens."""
        self.frames = 0
        """Frames sent, the dump included; what a client must receive before it stops."""
        self._seed_books()
        self.script = [self._scripted(i) for i in range(changes)]
        self.done = asyncio.Event()
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = next(iter(self.server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def start(self) -> None:
        self.server = await serve(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    # -- the protocol ------------------------------------------------------------------------

    async def _serve(self, connection: ServerConnection) -> None:
        subscription = json.loads(await connection.recv())
        for venue in (self, *self.others):
            if subscription.get("assets_ids") == list(venue.assets):
                await venue._session(connection, subscription)
                return

    async def _session(self, connection: ServerConnection, subscription: Any) -> None:
        self.subscriptions.append(subscription)
        reader = asyncio.ensure_future(self._read(connection))
        try:
            await self._send(connection, [self._book_message(a) for a in self.assets])
            while self.script:
                if self.drop_after is not None and len(self.subscriptions) == 1:
                    if self.drop_after == 0:
                        assert connection.transport is not None
                        connection.transport.close()
                        return
                    self.drop_after -= 1
                await self._send(connection, self._apply(self.script.pop(0)))
            self.done.set()
            await reader
        finally:
            reader.cancel()

    async def _read(self, connection: ServerConnection) -> None:
        async for message in connection:
            if message == "PING":
                self.pings += 1
                await connection.send("PONG")

    async def _send(self, connection: ServerConnection, messages: list[dict[str, Any]]) -> None:
        payload = messages[0] if len(messages) == 1 and self.rng.random() < 0.5 else messages
        await connection.send(json.dumps(payload))
        self.frames += 1

    # -- the venue's books -------------------------------------------------------------------

    def _seed_books(self) -> None:
        for asset in self.assets:
            book = self.books[asset]
            for cents in range(self.ask_low - 11, self.ask_low - 1):
                book[BookSide.BID][Decimal(cents) / 100] = Decimal(self.rng.randint(1, 500))
            for cents in range(self.ask_low, self.ask_low + 10):
                book[BookSide.ASK][Decimal(cents) / 100] = Decimal(self.rng.randint(1, 500))

    def _book_message(self, asset: str) -> dict[str, Any]:
        self.timestamp += 1
        book = self.books[asset]
        self.sent.append(SentBook(asset, dict(book[BookSide.BID]), dict(book[BookSide.ASK])))
        levels = {
            side: [
                {"price": _price_text(self.rng, int(p * 100)), "size": str(s)}
                for p, s in sorted(book[side].items())
            ]
            for side in book
        }
        return {
            "event_type": "book",
            "asset_id": asset,
            "market": self.market,
            "bids": levels[BookSide.BID],
            "asks": levels[BookSide.ASK],
            "timestamp": str(self.timestamp),
            "hash": f"0x{self.rng.getrandbits(64):016x}",
        }

    def _scripted(self, number: int) -> list[tuple[str, Any]]:
        """One message's plan: changes (asset, side, cents, size), or another kind."""
        roll = self.rng.random()
        asset = self.rng.choice(self.assets)
        if roll < 0.1:
            return [("last_trade_price", asset)]
        if roll < 0.15:
            return [("tick_size_change", asset)]
        if roll < 0.2:
            return [("best_bid_ask", asset)]
        changes = []
        for _ in range(self.rng.randint(1, 3)):
            asset = self.rng.choice(self.assets)
            bid = self.rng.random() < 0.5
            low = self.ask_low
            cents = self.rng.randint(low - 16, low - 1) if bid else self.rng.randint(low, low + 14)
            size = 0 if self.rng.random() < 0.25 else self.rng.randint(1, 900)
            changes.append(("change", (asset, BookSide.BID if bid else BookSide.ASK, cents, size)))
        return changes

    def _apply(self, plan: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        self.timestamp += 1
        kind, detail = plan[0]
        base = {"market": self.market, "timestamp": str(self.timestamp)}
        if kind == "last_trade_price":
            return [
                {
                    **base,
                    "event_type": kind,
                    "asset_id": detail,
                    "price": ".5",
                    "size": "12.5",
                    "side": "BUY",
                    "fee_rate_bps": "0",
                }
            ]
        if kind == "tick_size_change":
            return [
                {
                    **base,
                    "event_type": kind,
                    "asset_id": detail,
                    "old_tick_size": "0.01",
                    "new_tick_size": "0.001",
                    "side": "BUY",
                }
            ]
        if kind == "best_bid_ask":
            return [
                {
                    **base,
                    "event_type": kind,
                    "asset_id": detail,
                    "best_bid": "0.49",
                    "best_ask": "0.51",
                    "spread": "0.02",
                }
            ]
        entries = []
        for _kind, (asset, side, cents, size) in plan:
            book = self.books[asset]
            price = Decimal(cents) / 100
            if size:
                book[side][price] = Decimal(size)
            else:
                book[side].pop(price, None)
            self.sent.append(SentBook(asset, dict(book[BookSide.BID]), dict(book[BookSide.ASK])))
            entries.append(
                {
                    "asset_id": asset,
                    "price": _price_text(self.rng, cents),
                    "size": str(size),
                    "side": "BUY" if side is BookSide.BID else "SELL",
                    "hash": f"0x{self.rng.getrandbits(64):016x}",
                    "best_bid": str(max(book[BookSide.BID], default=Decimal(0))),
                    "best_ask": str(min(book[BookSide.ASK], default=Decimal(1))),
                }
            )
        return [{**base, "event_type": "price_change", "price_changes": entries}]
