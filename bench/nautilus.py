"""The lockstep replay beside NautilusTrader's backtest engine, on the same generated feed
and the same strategy (issue 16: "within 10x").

tradeactors does not depend on NautilusTrader: give an interpreter that has it (a venv of
its own: ``python3 -m venv nt && nt/bin/pip install nautilus_trader``). Both run the feed
in this same run, each timed from its first record to its last (loading and start-up
apart, as a backtest's own report times it); the floor is the bare pykka ask rate.

    python -m bench.nautilus --nautilus-python nt/bin/python [--markets 5 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import pykka

from bench import replay
from bridges.feed_codec import write_feed
from tools.feedgen import generate_feed
from tools.logging_setup import configure_logging

SCRIPT = Path(__file__).with_name("nautilus_backtest.py")


def nautilus(python: str, feed: Path) -> dict[str, object]:
    """The backtest's own report (``bench/nautilus_backtest.py``), from its interpreter."""
    done = subprocess.run(
        [python, str(SCRIPT), str(feed)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the NautilusTrader backtest failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nautilus-python", required=True, help="a python with nautilus_trader")
    parser.add_argument("--markets", type=int, nargs="+", default=[5, 50], help="feed sizes")
    args = parser.parse_args(argv)
    configure_logging("warning")
    floor = replay.ask_rate(replay.FLOOR_ROUND_TRIPS)
    print(f"floor: bare pykka ask round trips {floor:,.0f}/s")
    print(f"{'feed':>16} {'tradeactors':>14} {'NautilusTrader':>16} {'slower by':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-nautilus-") as tmp:
        for markets in args.markets:
            records = generate_feed(seed=7, markets=markets, updates_per_market=300)
            feed = Path(tmp) / f"feed-{markets}.jsonl"
            write_feed(records, feed)
            ours = replay.replay(records, kernel=True, profile=None).per_s
            pykka.ActorRegistry.stop_all()
            theirs = nautilus(args.nautilus_python, feed)
            their_rate = len(records) / float(str(theirs["run_s"]))
            print(
                f"{len(records):>8,} records {ours:>12,.0f}/s {their_rate:>14,.0f}/s "
                f"{their_rate / ours:>9.1f}x   (nautilus_trader {theirs['nautilus_trader']}, "
                f"{theirs['orders']} orders; ours {ours / floor:.2f}x the floor)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
