"""A lockstep replay on the virtual-time kernel ends exactly where today's threaded one does.

The same actor classes, journal and supervision tree run either on a thread each or on the
kernel's one queue; only the dispatcher differs, so the final positions table, the orders
and the fills must be equal to the bit, on every feed. Two kernel runs of one feed write
the same journal: nothing in it depends on how threads happened to interleave.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest

from bridges.feed_codec import FeedRecord
from messages.fields import new_id
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.scheduler import REAL_SCHEDULER
from supervisors.kernel.virtual_time import VirtualTimeKernel
from tools.chaos import JournalFacts, journal_facts
from tools.console import positions_table
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)

FEEDS = (
    # (seed, markets, updates per market, venue latency in ns): the CLI's 2 ms, and none.
    (3, 2, 100, 2_000_000),
    (11, 3, 50, 0),
    (29, 1, 160, 5_000_000),
)


@attrs.frozen
class Run:
    table: str
    positions: tuple[Any, ...]
    orders: tuple[Any, ...]
    facts: JournalFacts
    journal: tuple[tuple[Any, ...], ...]
    threads: int
    """Threads the run started: on the kernel, only the snapshot writer, the WAL
    checkpointer and the root's watch (a thread actor outside the tree)."""


_MESSAGE_ID = re.compile(re.escape(new_id().rsplit("-", 1)[0]) + r"-[0-9a-f]+")
"""A message id (``messages.fields.new_id``): this process's prefix and a counter."""


def _same_in_any_run(payload: str) -> Any:
    """A journaled payload without what each run makes anew: message ids, wall-clock times."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("ts_")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str):
            return _MESSAGE_ID.sub("<id>", value)
        return value

    return strip(json.loads(payload))


def replay(records: list[FeedRecord], data_dir: Path, latency_ns: int, *, kernel: bool) -> Run:
    config = RuntimeConfig(
        data_dir=data_dir,
        latency_ns=latency_ns,
        scheduler=VirtualTimeKernel() if kernel else REAL_SCHEDULER,
    )
    before = threading.active_count()
    runtime = Runtime(config).start(records)
    try:
        assert runtime.replay(records) == len(records)
        threads = threading.active_count() - before
        positions = runtime.positions()
        orders = tuple(runtime.orders())
    finally:
        runtime.stop()
    store = config.stores()()
    try:
        journal = tuple(
            (r.seq, r.stream, r.kind, r.dedup_key, _same_in_any_run(r.payload))
            for r in store.read()
        )
    finally:
        store.close()
    return Run(
        table=positions_table(positions),
        positions=tuple(attrs.evolve(p, id="-", ts_init=0) for p in positions),
        orders=orders,
        facts=journal_facts(config.stores()),
        journal=journal,
        threads=threads,
    )


@pytest.mark.parametrize(("seed", "markets", "updates", "latency_ns"), FEEDS)
def test_the_kernel_replay_ends_bit_for_bit_where_the_threaded_replay_does(
    tmp_path: Path, seed: int, markets: int, updates: int, latency_ns: int
) -> None:
    records = generate_feed(seed=seed, markets=markets, updates_per_market=updates)
    threaded = replay(records, tmp_path / "threaded", latency_ns, kernel=False)
    on_kernel = replay(records, tmp_path / "kernel", latency_ns, kernel=True)
    assert threaded.facts.orders, "the feed must make the strategy trade for this to mean much"
    assert on_kernel.table == threaded.table
    assert on_kernel.positions == threaded.positions
    assert on_kernel.orders == threaded.orders
    assert on_kernel.facts == threaded.facts  # orders, fills, fills applied, the fold
    assert on_kernel.threads <= 3 < threaded.threads


def test_a_feed_replayed_twice_on_the_kernel_writes_the_same_journal(tmp_path: Path) -> None:
    records = generate_feed(seed=7, markets=2, updates_per_market=80)
    first = replay(records, tmp_path / "first", 2_000_000, kernel=True)
    second = replay(records, tmp_path / "second", 2_000_000, kernel=True)
    assert first.facts.fills
    assert len(first.journal) > len(records)
    assert first.journal == second.journal
