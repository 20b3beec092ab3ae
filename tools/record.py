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
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import structlog

from bridges.feed_codec import FeedRecord, encode_record, open_feed_writer
from bridges.polymarket_market_channel import (
    PUBLIC_MARKET_CHANNEL,
    MarketChannelBooks,
    MarketChannelSession,
    log_rejections,
)
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from tools.cli_types import add_log_level
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
    add_log_level(polymarket, "warning")
    polymarket.set_defaults(handler=record_polymarket)


class FeedRecorder:
    """Writes one market's records as they come (``MarketChannelSession``), a line each."""

    def __init__(self, stream: IO[str], session: MarketChannelSession) -> None:
        self.stream = stream
        self.session = session
        self.written = 0
        self.log = structlog.get_logger("tradeactors", actor="recorder")

    def on_frame(self, text: str) -> None:
        records, translation = self.session.on_frame(text)
        self.write(records)
        log_rejections(self.log, translation)

    def write(self, records: Sequence[FeedRecord]) -> None:
        for record in records:
            self.stream.write(encode_record(record) + "\n")
        self.written += len(records)
        if records:
            self.stream.flush()


def record_polymarket(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    assets = tuple(part.strip() for part in args.assets.split(",") if part.strip())
    if len(assets) != 2 or assets[0] == assets[1]:
        sys.stderr.write(
            f"error: --assets takes the market's two token ids, YES first: got {args.assets!r}"
            + "\n"
        )
        return EXIT_USAGE
    if not args.ws_url.startswith(("ws://", "wss://")):
        sys.stderr.write(
            f"error: --ws-url must start with ws:// or wss://, got {args.ws_url!r}" + "\n"
        )
        return EXIT_USAGE
    session = MarketChannelSession((assets[0], assets[1]), market_id=args.market_id)
    config = MarketChannelConfig(assets=assets, url=args.ws_url)
    with open_feed_writer(Path(args.out)) as stream:
        recorder = FeedRecorder(stream, session)
        recorder.write(session.open_if_known(time.time_ns()))
        client = MarketChannelClient(
            config, on_frame=recorder.on_frame, on_lost=session.books.connection_lost
        )
        asyncio.run(_record(client, args.duration))
        recorder.write(session.close(time.time_ns()))
    sys.stdout.write(_summary(args.out, session.books, client, recorder.written) + "\n")
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
