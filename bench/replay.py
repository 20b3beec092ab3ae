"""Lockstep replay (``tradeactors run --speed 0``): records/s threaded and on the kernel.

The whole runtime (journal on SQLite at synchronous=NORMAL, the simulated venue at the
CLI's 2 ms latency, the strategy, orders, positions, supervision) replays a generated feed
record by record, each a committed step, once with an actor per thread (quiet: rounds of
stats asks) and once on the virtual-time kernel (quiet: its queue holds no work). Both
must end with the same positions table. The bench floor is a bare pykka ask round trip
rate measured in the same run: a lockstep step is at least one round trip.

    python -m bench.replay [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import attrs
import pykka

from bench import floors
from bench.figures import Figure, Statistic, Target, rate
from bridges.feed_codec import FeedRecord
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.scheduler import REAL_SCHEDULER
from supervisors.kernel.virtual_time import VirtualTimeKernel
from tools.console import positions_table
from tools.feedgen import generate_feed
from tools.logging_setup import configure_logging

SIZES = {"1.5k": 5, "15k": 50}
"""Feeds by name: markets of 300 updates (about 305 records each)."""
QUICK = ("1.5k",)
LATENCY_NS = 2_000_000
FLOOR = "bare pykka ask round trips, one at a time (bench floor)"
FLOOR_ROUND_TRIPS = 5_000
RECORDS_TARGET = Target(
    text="lockstep replay of a generated 15k-record feed ≥ 15,000 records/s",
    statistic=Statistic.MEDIAN,
    limit=15_000.0,
    at_most=False,
)
ASK_TARGET = Target(
    text="lockstep replay ≥ 0.8x a bare pykka ask round trip rate",
    statistic=Statistic.RATIO,
    limit=0.8,
    at_most=False,
)


@attrs.frozen
class _Replay:
    records: int
    per_s: float
    table: str


def replay(records: list[FeedRecord], *, kernel: bool, profile: cProfile.Profile | None) -> _Replay:
    """``records`` through a fresh runtime, lockstep, timed from the first record to the
    last (``bench.nautilus`` times NautilusTrader's backtest the same way)."""
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as data_dir:
        config = RuntimeConfig(
            data_dir=Path(data_dir),
            latency_ns=LATENCY_NS,
            scheduler=VirtualTimeKernel() if kernel else REAL_SCHEDULER,
        )
        runtime = Runtime(config).start(records)
        try:
            if profile is not None:
                profile.enable()
            started = time.perf_counter()
            runtime.replay(records)
            elapsed = time.perf_counter() - started
            if profile is not None:
                profile.disable()
            table = positions_table(runtime.positions())
        finally:
            runtime.stop()
    return _Replay(len(records), len(records) / elapsed, table)


def ask_rate(round_trips: int) -> float:
    """Bare pykka ask round trips a second, one at a time: a lockstep step's floor."""
    rtt, _ = floors.pykka_actor(round_trips, 1)
    return len(rtt) / sum(rtt)


def measure(sizes: tuple[str, ...], *, profile: cProfile.Profile | None = None) -> dict[str, float]:
    """Rates by figure name: the floor, then each feed threaded and on the kernel."""
    rates = {FLOOR: ask_rate(FLOOR_ROUND_TRIPS)}
    for size in sizes:
        records = generate_feed(seed=7, markets=SIZES[size], updates_per_market=300)
        threaded = replay(records, kernel=False, profile=None)
        pykka.ActorRegistry.stop_all()
        on_kernel = replay(records, kernel=True, profile=profile)
        pykka.ActorRegistry.stop_all()
        if on_kernel.table != threaded.table:
            raise AssertionError(f"{size}: the kernel's positions differ from the threaded run's")
        rates[_name(size, len(records), "threaded")] = threaded.per_s
        rates[_name(size, len(records), "kernel")] = on_kernel.per_s
    return rates


def _name(size: str, records: int, how: str) -> str:
    return f"lockstep replay, {size} feed ({records:,} records), {how}"


def figures(quick: bool) -> list[Figure]:
    """Each replay against the ask floor; the floor against the suite's pykka tell rate."""
    rates = measure(QUICK if quick else tuple(SIZES))
    result = [rate(FLOOR, rates[FLOOR], unit="asks/s", floor=floors.PYKKA_RATE)]
    for name, per_s in rates.items():
        if name == FLOOR:
            continue
        target = None
        if name.endswith("kernel"):
            target = RECORDS_TARGET if "15k" in name else ASK_TARGET
        result.append(rate(name, per_s, unit="records/s", floor=FLOOR, target=target))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the 1.5k feed")
    parser.add_argument("--profile", action="store_true", help="cProfile the kernel runs")
    args = parser.parse_args(argv)
    configure_logging("warning")
    profile = cProfile.Profile() if args.profile else None
    rates = measure(QUICK if args.quick else tuple(SIZES), profile=profile)
    floor = rates[FLOOR]
    print(f"{'figure':72} {'rate':>14} {'x floor':>8}")
    for name, per_s in rates.items():
        print(f"{name:72} {per_s:>14,.0f} {per_s / floor:>8.3f}")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
