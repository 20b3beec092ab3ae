"""``tradeactors run --venue polymarket``: live Polymarket books through the runtime, filled
against the simulated venue (the seed's paper mode).

Each record is a lockstep step as it arrives, so the run is exactly a ``--speed 0`` replay of
what it received: ``--save-feed FILE`` keeps that feed, and replaying it gives the same orders,
fills and positions. A market is one pair of tokens (``--assets``), or the market of each
window of a series (``--series btc-updown-15m-{start} --period 900``), resolved from the
Gamma API and switched at its end time. ``--reference chainlink:btc/usd`` adds the
reference price from Polymarket's RTDS, as ``reference_price`` records among the books'
(saved with them, so the replay's strategy gets the same reference input).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bridges.feed_codec import FeedRecord, encode_record, open_feed_writer
from bridges.polymarket_gamma import PUBLIC_GAMMA, GammaClient, GammaError, MarketSeries
from bridges.polymarket_live import (
    FixedMarket,
    LiveMarketFeed,
    MarketPlan,
    ReferenceFeed,
    SeriesMarkets,
)
from bridges.polymarket_market_channel import PUBLIC_MARKET_CHANNEL
from bridges.polymarket_rtds import PUBLIC_RTDS, ReferenceSource
from bridges.polymarket_ws import MarketChannelConfig
from supervisors.assembly.runtime import Runtime

SIMULATED = "sim"
POLYMARKET = "polymarket"


def add_venue_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--venue",
        default=SIMULATED,
        choices=[SIMULATED, POLYMARKET],
        help="where the books come from: the feed file, or Polymarket live (paper fills)",
    )
    run.add_argument("--assets", help="polymarket: YES_TOKEN,NO_TOKEN of one market")
    run.add_argument("--market-id", help="polymarket: the market's id; default: the channel's")
    run.add_argument(
        "--series", help="polymarket: consecutive markets by slug, e.g. btc-updown-15m-{start}"
    )
    run.add_argument("--period", type=int, default=900, help="polymarket: a series window, s")
    run.add_argument("--ws-url", default=PUBLIC_MARKET_CHANNEL, help="polymarket: market channel")
    run.add_argument("--gamma-url", default=PUBLIC_GAMMA, help="polymarket: market metadata API")
    run.add_argument("--save-feed", help="polymarket: also write the received feed to this file")
    run.add_argument(
        "--reference",
        help="polymarket: a reference price from RTDS, chainlink:btc/usd or binance:btcusdt",
    )
    run.add_argument("--rtds-url", default=PUBLIC_RTDS, help="polymarket: the RTDS endpoint")


def is_live(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "venue", SIMULATED) == POLYMARKET)


def plan_of(args: argparse.Namespace) -> MarketPlan:
    """The markets the flags name; ValueError (with what is wrong) if they name none."""
    if args.feed:
        raise ValueError("--venue polymarket takes its books live: drop --feed")
    if not args.ws_url.startswith(("ws://", "wss://")):
        raise ValueError(f"--ws-url must start with ws:// or wss://, got {args.ws_url!r}")
    reference_of(args)
    if (args.assets is None) == (args.series is None):
        raise ValueError("--venue polymarket needs --assets YES,NO or --series TEMPLATE")
    if args.series is not None:
        try:
            return SeriesMarkets(
                series=MarketSeries(template=args.series, period_s=args.period),
                gamma=GammaClient(args.gamma_url),
            )
        except GammaError as error:
            raise ValueError(str(error)) from error
    assets = tuple(part.strip() for part in args.assets.split(",") if part.strip())
    if len(assets) != 2 or assets[0] == assets[1]:
        raise ValueError(f"--assets takes the market's two token ids, YES first: {args.assets!r}")
    return FixedMarket(assets=(assets[0], assets[1]), market_id=args.market_id)


def reference_of(args: argparse.Namespace) -> ReferenceFeed | None:
    """The reference source the flags name, if any; ValueError saying what is wrong."""
    if args.reference is None:
        return None
    if not args.rtds_url.startswith(("ws://", "wss://")):
        raise ValueError(f"--rtds-url must start with ws:// or wss://, got {args.rtds_url!r}")
    return ReferenceFeed(source=ReferenceSource.parse(args.reference), url=args.rtds_url)


def describe(args: argparse.Namespace) -> str:
    what = f"series {args.series}" if args.series else f"tokens {args.assets}"
    reference = f", reference {args.reference} from {args.rtds_url}" if args.reference else ""
    return f"polymarket live ({what}, {args.ws_url}{reference})"


def drive_live(
    args: argparse.Namespace, runtime: Runtime, plan: MarketPlan, stop: threading.Event
) -> int:
    """Feed the live records until the feed ends (``--duration``) or ``stop``; returns how
    many steps were committed."""
    feed = LiveMarketFeed(
        plan, MarketChannelConfig(url=args.ws_url), reference=reference_of(args)
    ).start()
    timer = threading.Timer(args.duration, feed.stop) if args.duration else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    with contextlib.ExitStack() as stack:
        stream = (
            stack.enter_context(open_feed_writer(Path(args.save_feed))) if args.save_feed else None
        )
        try:
            return runtime.drive(_kept(feed.records(), stream), stop=stop)
        finally:
            if timer is not None:
                timer.cancel()
            feed.stop()
            feed.join()


def _kept(
    records: Iterator[FeedRecord | None], stream: IO[str] | None
) -> Iterator[FeedRecord | None]:
    """The records, each written to ``stream`` (if any) before the runtime takes it."""
    for record in records:
        if record is not None and stream is not None:
            stream.write(encode_record(record) + "\n")
            stream.flush()
        yield record
