"""Polymarket's Real-Time Data Socket (RTDS) crypto prices as reference-price records (no I/O).

The oracle filter of seed 003 compares a BTC up/down market's books with the BTC price
itself. RTDS (``wss://ws-live-data.polymarket.com``) streams that price from two sources:
Chainlink (topic ``crypto_prices_chainlink``, symbols ``btc/usd``; the price Polymarket's
crypto markets resolve on) and Binance (topic ``crypto_prices``, symbols ``btcusdt``).

The subscription is ``{"action": "subscribe", "subscriptions": [{"topic", "type",
"filters"}]}``: Chainlink takes type ``*`` and a JSON filter ``{"symbol":"btc/usd"}``,
Binance type ``update`` and a comma-separated list of symbols. The client sends the text
``PING`` every 5 s. A price arrives as ``{"topic", "type": "update", "timestamp",
"payload": {"symbol", "timestamp", "value"}}`` with ``value`` a JSON number and
``timestamp`` Unix milliseconds: the frame is read with numbers as ``Decimal``, so no float
ever holds the price.

``ReferenceTrack`` turns the ticks into one market's ``ReferencePrice`` records; its strike
is the first price at or after the market's start (the level an up/down market resolves
against), carried on every record so a replay sees the same strike.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from bridges.polymarket_market_channel import EXCERPT_CHARS, PONG, Rejection, refuse_constant
from messages.market_data import ReferencePrice

PUBLIC_RTDS = "wss://ws-live-data.polymarket.com"
"""The public RTDS endpoint; tests and other deployments point ``--rtds-url`` elsewhere."""

PING_INTERVAL_S = 5.0
"""RTDS documents a ``PING`` every 5 s to keep the connection."""

TOPICS: Mapping[str, str] = {"chainlink": "crypto_prices_chainlink", "binance": "crypto_prices"}
"""Each source's topic."""

UPDATE = "update"
RECENT_TICKS = 256
"""Ticks kept to find a market's strike when the market opens after its start (about four
minutes of Chainlink's one tick a second)."""


@attrs.frozen
class ReferenceSource:
    """``provider:symbol``, as ``--reference`` names it: ``chainlink:btc/usd``,
    ``binance:btcusdt``."""

    provider: str
    symbol: str

    @classmethod
    def parse(cls, spec: str) -> ReferenceSource:
        """The source ``spec`` names; ValueError saying the form if it names none."""
        provider, _, symbol = spec.partition(":")
        provider, symbol = provider.strip().lower(), symbol.strip().lower()
        if provider not in TOPICS or not symbol:
            raise ValueError(
                f"--reference takes chainlink:SYMBOL (e.g. btc/usd) or binance:SYMBOL "
                f"(e.g. btcusdt), got {spec!r}"
            )
        if provider == "binance" and not symbol.isalnum():
            raise ValueError(f"a Binance symbol is lowercase letters, e.g. btcusdt: {spec!r}")
        if provider == "chainlink" and symbol.count("/") != 1:
            raise ValueError(f"a Chainlink symbol is slash-separated, e.g. btc/usd: {spec!r}")
        return cls(provider, symbol)

    @property
    def label(self) -> str:
        """The records' ``source``."""
        return f"{self.provider}:{self.symbol}"

    @property
    def topic(self) -> str:
        return TOPICS[self.provider]

    def subscription(self) -> str:
        """The first message on a connection."""
        if self.provider == "chainlink":
            entry = {
                "topic": self.topic,
                "type": "*",
                "filters": json.dumps({"symbol": self.symbol}, separators=(",", ":")),
            }
        else:
            entry = {"topic": self.topic, "type": UPDATE, "filters": self.symbol}
        return json.dumps({"action": "subscribe", "subscriptions": [entry]})


@attrs.frozen(kw_only=True)
class ReferenceTick:
    """One price of the source: ``ts_ns`` is the payload's own time."""

    ts_ns: int
    price: Decimal


class RtdsPrices:
    """The source's prices in RTDS frames; what is not the documented shape is a
    ``Rejection`` (with ``counts``), never an exception."""

    def __init__(self, source: ReferenceSource) -> None:
        self.source = source
        self.counts: Counter[str] = Counter()

    def on_frame(self, text: str) -> tuple[tuple[ReferenceTick, ...], tuple[Rejection, ...]]:
        if text == PONG:
            self.counts["pong"] += 1
            return (), ()
        try:
            message = json.loads(text, parse_float=Decimal, parse_constant=refuse_constant)
            tick = self._tick(message)
        except (ValueError, RecursionError) as error:
            self.counts["rejected"] += 1
            rejection = Rejection(reason=str(error), event_type=None, excerpt=text[:EXCERPT_CHARS])
            return (), (rejection,)
        if tick is None:
            return (), ()
        self.counts["prices"] += 1
        return (tick,), ()

    def _tick(self, message: Any) -> ReferenceTick | None:
        if not isinstance(message, dict):
            raise ValueError("an RTDS message is a JSON object")
        if message.get("topic") != self.source.topic:
            raise ValueError(f"topic {message.get('topic')!r} is not {self.source.topic!r}")
        if message.get("type") != UPDATE:
            self.counts["ignored"] += 1  # other documented kinds of the topic carry no price
            return None
        payload = message.get("payload")
        if not isinstance(payload, dict):
            raise ValueError("payload is not an object")
        if payload.get("symbol") != self.source.symbol:
            raise ValueError(f"symbol {payload.get('symbol')!r} is not {self.source.symbol!r}")
        value = payload.get("value")
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise ValueError(f"value must be a JSON number, got {value!r}")
        price = Decimal(value)
        if not price.is_finite() or price <= 0:
            raise ValueError(f"value must be a positive price, got {value!r}")
        stamp = payload.get("timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 < stamp < 10**16:
            raise ValueError(f"timestamp must be Unix milliseconds, got {stamp!r}")
        return ReferenceTick(ts_ns=stamp * 1_000_000, price=price)


class ReferenceTrack:
    """The ticks of one source as the open market's ``ReferencePrice`` records.

    A market opens with its start time; its strike is the first tick (in arrival order) at
    or after that start, looked up among the recent ticks when the market opens late, and
    fixed from then on. Between markets ticks are only remembered.
    """

    def __init__(self, source: ReferenceSource) -> None:
        self.source = source
        self.recent: deque[ReferenceTick] = deque(maxlen=RECENT_TICKS)
        self.market_id: str | None = None
        self.start_ns = 0
        self.strike: Decimal | None = None

    def open(self, market_id: str, start_ns: int) -> list[ReferencePrice]:
        """The market is open from now: its first record is the latest tick, if any."""
        self.market_id, self.start_ns = market_id, start_ns
        self.strike = next((t.price for t in self.recent if t.ts_ns >= start_ns), None)
        return [self._record(self.recent[-1])] if self.recent else []

    def close(self) -> None:
        self.market_id, self.strike = None, None

    def on_tick(self, tick: ReferenceTick) -> list[ReferencePrice]:
        self.recent.append(tick)
        if self.market_id is None:
            return []
        if self.strike is None and tick.ts_ns >= self.start_ns:
            self.strike = tick.price
        return [self._record(tick)]

    def _record(self, tick: ReferenceTick) -> ReferencePrice:
        assert self.market_id is not None
        return ReferencePrice(
            ts_event=tick.ts_ns,
            market_id=self.market_id,
            source=self.source.label,
            price=tick.price,
            strike=self.strike,
        )
