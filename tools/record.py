"""``tradeactors record polymarket``: a market's books from the venue, into a feed file.

The file is the project's feed format, so ``tradeactors run --feed FILE`` replays it like
any other: a ``market_opened`` with the two tokens (outcomes YES and NO, in the order
given; the market id is ``--market-id``, else the channel's ``market`` field), then every
``book_snapshot`` and ``price_change`` in arrival order, and a ``market_closed`` when the
recording stops (Ctrl-C, SIGTERM or ``--duration``). Each line is written as it arrives.

``--reference chainlink:btc/usd`` (or ``binance:btcusdt``) also records that price from
Polymarket's RTDS as ``reference_price`` records among the books', each with the market's
strike: the first price at or after the recording's start. A replay of the file gives the
strategy the same reference input as the recording run had.
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
from bridges.polymarket_live import reference_client
from bridges.polymarket_market_channel import (
    PUBLIC_MARKET_CHANNEL,
    MarketChannelBooks,
    MarketChannelSession,
    log_rejections,
)
from bridges.polymarket_rtds import PUBLIC_RTDS, ReferenceTick, ReferenceTrack
from bridges.polymarket_ws import MarketChannelClient, MarketChannelConfig
from tools.cli_types import add_log_level
from tools.live_venue import reference_of
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
    polymarket.add_argument(
        "--reference", help="also record a reference price: chainlink:btc/usd or binance:btcusdt"
    )
    polymarket.add_argument("--rtds-url", default=PUBLIC_RTDS, help="the reference prices' RTDS")
    add_log_level(polymarket, "warning")
    polymarket.set_defaults(handler=record_polymarket)


class FeedRecorder:
    """Writes one market's records as they come (``MarketChannelSession``), a line each."""

    def __init__(
        self,
        stream: IO[str],
        session: MarketChannelSession,
        *,
        track: ReferenceTrack | None = None,
        start_ns: int = 0,
    ) -> None:
        self.stream = stream
        self.session = session
        self.track = track
        self.start_ns = start_ns
        """The market's start, the strike's moment: the recording's start."""
        self.written = 0
        self.references = 0
        self.log = structlog.get_logger("tradeactors", actor="recorder")

    def open(self, now_ns: int) -> None:
        """The market's opening, once its id is known (now, or with the first book)."""
        self.write(self.session.open_if_known(now_ns))
        self._reference_opens()

    def on_frame(self, text: str) -> None:
        was_open = self.session.opened
        records, translation = self.session.on_frame(text)
        self.write(records)
        if not was_open:
            self._reference_opens()
        log_rejections(self.log, translation)

    def on_ticks(self, ticks: tuple[ReferenceTick, ...]) -> None:
        assert self.track is not None
        for tick in ticks:
            records = self.track.on_tick(tick)
            self.references += len(records)
            self.write(records)

    def _reference_opens(self) -> None:
        market_id = self.session.books.market_id
        if self.track is not None and self.session.opened and market_id is not None:
            records = self.track.open(market_id, self.start_ns)
            self.references += len(records)
            self.write(records)

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
    try:
        reference = reference_of(args)
    except ValueError as error:
        sys.stderr.write(f"error: {error}" + "\n")
        return EXIT_USAGE
    session = MarketChannelSession((assets[0], assets[1]), market_id=args.market_id)
    config = MarketChannelConfig(assets=assets, url=args.ws_url)
    start_ns = time.time_ns()
    with open_feed_writer(Path(args.out)) as stream:
        track = ReferenceTrack(reference.source) if reference is not None else None
        recorder = FeedRecorder(stream, session, track=track, start_ns=start_ns)
        recorder.open(start_ns)
        client = MarketChannelClient(
            config, on_frame=recorder.on_frame, on_lost=session.books.connection_lost
        )
        clients = [client]
        if reference is not None:
            prices = reference_client(reference, on_ticks=recorder.on_ticks, log=recorder.log)
            clients.append(prices)
        asyncio.run(_record(clients, args.duration))
        recorder.write(session.close(time.time_ns()))
    summary = _summary(args.out, session.books, client, recorder.written)
    if reference is not None:
        summary += f"; {recorder.references} reference prices ({reference.source.label})"
    sys.stdout.write(summary + "\n")
    return 0


async def _record(clients: Sequence[MarketChannelClient], duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        await asyncio.gather(*(client.run(stop) for client in clients))
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
