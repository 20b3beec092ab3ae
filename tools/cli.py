"""The `tradeactors` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from bridges.feed_codec import FeedError, read_feed
from bridges.feed_player import replay
from supervisors.runtime import Runtime, RuntimeConfig
from tools import feedgen
from tools.console import ConsoleView, positions_table
from tools.logging_setup import configure_logging

SAMPLE_FEED = "sample_feed.jsonl.gz"


def sample_feed_path() -> Path:
    """The bundled sample feed (installed with the package)."""
    return Path(str(resources.files("tools") / "data" / SAMPLE_FEED))


def _run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    feed_path = Path(args.feed) if args.feed else sample_feed_path()
    config = RuntimeConfig(latency_ns=int(args.latency_ms * 1_000_000))
    out = sys.stdout
    out.write(f"tradeactors: replaying {feed_path} at speed {args.speed or 'max'}\n")
    with Runtime(config) as runtime:
        view = None
        if not args.quiet:
            view = ConsoleView.start(out)
            runtime.subscribe(view)
        lockstep = runtime.wait_idle if args.speed <= 0 else None
        try:
            sent = replay(
                read_feed(feed_path),
                runtime.feed,
                speed=args.speed,
                duration_s=args.duration,
                after_each=lockstep,
            )
        except FeedError as error:
            out.write(f"tradeactors: bad feed: {error}\n")
            return 2
        runtime.wait_idle(timeout_s=30.0)
        positions = runtime.positions()
        if view is not None:
            view.stop()
    out.write(f"\n{sent} feed records replayed\n\n")
    out.write(positions_table(positions) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradeactors", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="replay a feed through the whole runtime")
    run.add_argument("--feed", help="feed file (.jsonl or .jsonl.gz); default: bundled sample")
    run.add_argument(
        "--speed",
        type=float,
        default=30.0,
        help="feed-time multiplier; 0 replays as fast as possible, deterministically",
    )
    run.add_argument("--duration", type=float, help="stop the replay after this many seconds")
    run.add_argument("--latency-ms", type=float, default=2.0, help="simulated venue latency")
    run.add_argument("--quiet", action="store_true", help="print only the final positions")
    run.add_argument("--log-level", default="warning", help="debug, info, warning, error")
    run.set_defaults(handler=_run)

    gen = commands.add_parser("feedgen", help="generate a synthetic feed file")
    gen.add_argument("args", nargs=argparse.REMAINDER)
    gen.set_defaults(handler=lambda a: feedgen.main(a.args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
