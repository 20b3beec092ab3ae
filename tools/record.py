"""``tradeactors record polymarket``: a market's books from the venue, into a feed file.

The file is the project's feed format, so ``tradeactors run --feed FILE`` replays it like
any other: a ``market_opened`` with the two tokens (outcomes YES and NO, in the order
given; the market id is ``--market-id``, else the channel's ``market`` field), then every
``book_snapshot`` and ``price_change`` in arrival order, and a ``market_closed`` when the
recording stops (Ctrl-C, SIGTERM or ``--duration``). Each line is written as it arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import IO

import structlog

from bridges.feed_codec import FeedRecord, encode_record, open_feed_writer
from bridges.polymarket_market_channel import (
    PUBLIC_MARKET_CHANNEL,
    MarketChannelBooks,
    Translation,
)
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from messages.enums import Outcome
from messages.markets import Instrument, MarketClosed, MarketDefinition, MarketOpened
from tools.logging_setup import configure_logging

EXIT_USAGE = 2


def add_record_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    record = commands.add_parser("record", help="record a venue's books into a feed file")
    venues = record.add_subparsers(dest="venue", required=True)
    polymarket = venues.add_parser(
        "polymarket", help="the YES and NO tokens of one market, from the CLOB market channel"
    )
    polymarket.add_argument("--ws-url", default=PUBLIC_MARKET_CHANNEL, help="market channel")
    polymarket.add_argument(
        "--assets", required=True, help="YES_TOKEN,NO_TOKEN: the market's two token ids"
    )
    polymarket.add_argument("--market-id", help="the market's id; default: the channel's")
    polymarket.add_argument("--duration", type=float, help="stop after this many seconds")
    polymarket.add_argument("--out", required=True, help="feed file (.jsonl or .jsonl.gz)")
    polymarket.add_argument("--log-level", default="warning", help="debug, info, warning, error")
    polymarket.set_defaults(handler=record_polymarket)


class FeedRecorder:
    """Writes one market's records as they come: the opening first, the closing last."""

    def __init__(self, stream: IO[str], books: MarketChannelBooks) -> None:
        self.stream = stream
        self.books = books
        self.opened = False
        self.written = 0
        self.last_ts = 0
        self.log = structlog.get_logger("tradeactors", actor="recorder")

    def on_frame(self, text: str) -> None:
        translation = self.books.on_frame(text)
        self._write(translation)
        for rejection in translation.rejections:
            self.log.error(
                "venue_message_rejected",
                venue="polymarket",
                reason=rejection.reason,
                event_type=rejection.event_type,
                excerpt=rejection.excerpt,
            )

    def close(self, now_ns: int) -> None:
        """The ``market_closed`` (only if the market was opened), at or after the last record."""
        if self.opened and self.books.market_id is not None:
            self._line(
                MarketClosed(ts_event=max(now_ns, self.last_ts), market_id=self.books.market_id)
            )

    def open_if_known(self, now_ns: int) -> None:
        if self.opened or self.books.market_id is None:
            return
        a, b = self.books.assets
        definition = MarketDefinition(
            market_id=self.books.market_id,
            instruments=(
                Instrument(security_id=a, outcome=Outcome.YES),
                Instrument(security_id=b, outcome=Outcome.NO),
            ),
        )
        self.opened = True
        self._line(MarketOpened(ts_event=now_ns, definition=definition))

    def _write(self, translation: Translation) -> None:
        if not translation.records:
            return
        self.open_if_known(translation.records[0].ts_event)
        for record in translation.records:
            self._line(record)
        self.stream.flush()

    def _line(self, record: FeedRecord) -> None:
        self.stream.write(encode_record(record) + "\n")
        self.written += 1
        self.last_ts = max(self.last_ts, record.ts_event)


def record_polymarket(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    assets = tuple(part.strip() for part in args.assets.split(",") if part.strip())
    if len(assets) != 2 or assets[0] == assets[1]:
        print(
            f"error: --assets takes the market's two token ids, YES first: got {args.assets!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.ws_url.startswith(("ws://", "wss://")):
        print(
            f"error: --ws-url must start with ws:// or wss://, got {args.ws_url!r}", file=sys.stderr
        )
        return EXIT_USAGE
    books = MarketChannelBooks(assets, market_id=args.market_id)
    config = MarketChannelConfig(assets=assets, url=args.ws_url)
    with open_feed_writer(Path(args.out)) as stream:
        recorder = FeedRecorder(stream, books)
        recorder.open_if_known(time.time_ns())
        client = MarketChannelClient(
            config, on_frame=recorder.on_frame, on_lost=books.connection_lost
        )
        asyncio.run(_record(client, args.duration))
        recorder.close(time.time_ns())
    print(_summary(args.out, books, client, recorder.written))
    return 0


async def _record(client: MarketChannelClient, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        await client.run(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _summary(out: str, books: MarketChannelBooks, client: MarketChannelClient, written: int) -> str:
    counts = {key: books.counts[key] for key in sorted(books.counts)}
    return (
        f"recorded {written} records of market {books.market_id} to {out}: "
        f"{client.stats.connections} connection(s), {client.stats.failures} lost; "
        f"messages {json.dumps(counts)}"
    )
