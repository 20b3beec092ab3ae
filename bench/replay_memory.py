"""RSS over a lockstep replay (issue 16 point 4: flat over 1,000,000 records).

Generated feeds of markets that open, trade, settle and are archived one after another
(300 updates each, about 305 records), replayed on the virtual-time kernel. RSS is read
after each tenth of the feed; a flat run ends about where it stood after its first tenth,
however long it is. Compare two lengths, each in a process of its own:

    python -m bench.replay_memory --markets 50 && python -m bench.replay_memory --markets 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.order_threads import rss_mib
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.virtual_time import VirtualTimeKernel
from tools.feedgen import generate_feed

UPDATES_PER_MARKET = 300


def run(markets: int) -> dict[str, Any]:
    """The figures of one replay of ``markets`` generated markets."""
    records = generate_feed(seed=7, markets=markets, updates_per_market=UPDATES_PER_MARKET)
    tenth = max(len(records) // 10, 1)
    samples: list[float] = []

    def during(step: int) -> None:
        if step % tenth == tenth - 1:
            samples.append(rss_mib())

    with tempfile.TemporaryDirectory(prefix="bench-replay-memory-") as data_dir:
        config = RuntimeConfig(data_dir=Path(data_dir), scheduler=VirtualTimeKernel())
        runtime = Runtime(config).start(records)
        try:
            floor = rss_mib()
            started = time.perf_counter()
            runtime.replay(records, during=during)
            elapsed = time.perf_counter() - started
            end = rss_mib()
        finally:
            runtime.stop()
    return {
        "records": len(records),
        "records_per_s": len(records) / elapsed,
        "floor_rss_mib": floor,
        "first_tenth_rss_mib": samples[0],
        "peak_rss_mib": max(samples),
        "end_rss_mib": end,
        "tenths": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_memory")
    parser.add_argument("--markets", type=int, default=50)
    markets = parser.parse_args(argv).markets
    figures = run(markets)
    print(
        f"{figures['records']:.0f} records ({markets} markets) at "
        f"{figures['records_per_s']:.0f}/s; RSS MiB: floor {figures['floor_rss_mib']:.1f}, "
        f"after a tenth {figures['first_tenth_rss_mib']:.1f}, "
        f"peak {figures['peak_rss_mib']:.1f}, end {figures['end_rss_mib']:.1f}; by tenths: "
        + " ".join(f"{rss:.1f}" for rss in figures["tenths"])
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
