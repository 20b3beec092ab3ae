"""Threads and memory held by a threaded (live) run of many orders (issue 16 point 4).

A client submits BUY orders that the simulated venue fills at once (YES and NO in turn, so
two are in flight); each closed order's actor is stopped. Sampled every 10 ms: the threads
of the process (peak and at the end) and its RSS, beside the floor of the same runtime
started with no order. Target: at most 300 threads however many orders ran.

    python -m bench.order_threads [--orders 100000]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from messages.client_requests import SubmitSignal
from messages.enums import OrderSide, Outcome
from messages.market_data import BookLevel, BookSnapshot
from messages.markets import Instrument, MarketDefinition, MarketOpened
from messages.signals import TradeSignal
from supervisors.assembly.runtime import Runtime, RuntimeConfig

THREADS_TARGET = 300


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Sampler:
    """Peak threads and RSS, sampled on a thread of its own while the run goes."""

    def __init__(self) -> None:
        self.peak_threads = 0
        self.peak_rss_mib = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.01):
            self.peak_threads = max(self.peak_threads, threading.active_count())
            self.peak_rss_mib = max(self.peak_rss_mib, rss_mib())

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()


def _market(orders: int) -> list[MarketOpened | BookSnapshot]:
    """Market m1, and on both outcomes an ask deep enough to fill every order."""
    definition = MarketDefinition(
        market_id="m1",
        instruments=tuple(
            Instrument(security_id=f"m1-{outcome.name}", outcome=outcome)
            for outcome in (Outcome.YES, Outcome.NO)
        ),
    )
    books = [
        BookSnapshot(
            ts_event=1,
            market_id="m1",
            security_id=f"m1-{outcome}",
            sequence=0,
            bids=(BookLevel(price=Decimal("0.40"), size=Decimal(1)),),
            asks=(BookLevel(price=Decimal("0.45"), size=Decimal(orders * 2)),),
        )
        for outcome in ("YES", "NO")
    ]
    return [MarketOpened(ts_event=1, definition=definition), *books]


def _submit(runtime: Runtime, security_id: str) -> bool:
    """One BUY at the ask; False when its side still has an order open (denied)."""
    answer: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
    signal = TradeSignal(
        market_id="m1",
        security_id=security_id,
        side=OrderSide.BUY,
        price=Decimal("0.45"),
        size=Decimal(1),
        reason="bench",
    )
    assert runtime.execution is not None
    runtime.execution.tell(SubmitSignal(signal=signal, answer=answer))
    return "order_id" in answer.result(timeout=30)


def run(orders: int) -> dict[str, float]:
    """The figures of one run of ``orders`` orders."""
    with (
        tempfile.TemporaryDirectory() as data_dir,
        Runtime(RuntimeConfig(data_dir=Path(data_dir))).start() as runtime,
    ):
        for record in _market(orders):
            runtime.feed_and_wait(record)
        runtime.wait_idle()
        floor_threads = threading.active_count()
        floor_rss = rss_mib()
        started = time.perf_counter()
        made = 0
        with _Sampler() as sampler:
            while made < orders:
                for security_id in ("m1-YES", "m1-NO"):
                    if made < orders and _submit(runtime, security_id):
                        made += 1
            runtime.wait_idle(timeout_s=120)
        elapsed = time.perf_counter() - started
        return {
            "orders": made,
            "orders_per_s": made / elapsed,
            "floor_threads": floor_threads,
            "peak_threads": sampler.peak_threads,
            "end_threads": threading.active_count(),
            "floor_rss_mib": floor_rss,
            "peak_rss_mib": sampler.peak_rss_mib,
            "end_rss_mib": rss_mib(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.order_threads")
    parser.add_argument("--orders", type=int, default=100_000)
    figures = run(parser.parse_args(argv).orders)
    print(
        f"{figures['orders']:.0f} orders at {figures['orders_per_s']:.0f}/s; threads: "
        f"floor (no order) {figures['floor_threads']:.0f}, peak {figures['peak_threads']:.0f}, "
        f"end {figures['end_threads']:.0f} (target <= {THREADS_TARGET}); RSS MiB: floor "
        f"{figures['floor_rss_mib']:.1f}, peak {figures['peak_rss_mib']:.1f}, "
        f"end {figures['end_rss_mib']:.1f}"
    )
    return 0 if figures["peak_threads"] <= THREADS_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
