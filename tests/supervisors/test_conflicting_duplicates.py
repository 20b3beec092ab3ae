"""A fill or deal arriving again with a journaled identity, through the assembled runtime.

The same content is a redelivery: dropped and counted, nothing published. Other content
under the same identity (a broken venue or broker) is refused loudly: a ``FillRefused`` (or,
for a broker deal, a ``DealRefused`` too) on the event bus with the reason, an error line
with both versions, a counter, and no order, position or account book changes. The journal
of an earlier process run counts as much as this run's.
"""

from __future__ import annotations

import queue
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pykka
import pytest
from structlog.testing import capture_logs

from actors.journal_store import record_checksum
from actors.metrics import JOURNAL_DUPLICATES
from bridges.journal_sqlite import SqliteJournalStore
from messages.broker_events import DealRefused
from messages.codec import decode, encode
from messages.fills import Fill
from messages.orders import FillRefusal, FillRefused
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
from tests.broker_edge import RedeliveringBroker, wait_until
from tests.stubs import arbitrage_feed, collector

pytestmark = pytest.mark.timeout(60)
D = Decimal
FEED = arbitrage_feed()
TRADED = 4
"""Records after which the first two orders (30 YES @ 0.45, 30 NO @ 0.50) have filled."""


def _counted(kind: str, content: str) -> float:
    return float(JOURNAL_DUPLICATES.labels(kind=kind, content=content)._value.get())


def _state(runtime: Runtime) -> tuple[Any, ...]:
    """Everything a fill can change: orders, positions and the account book."""
    orders = sorted(runtime.orders(), key=lambda order: order.order_id)
    positions = [
        (p.position_id, p.status, [(g.quantity, g.cost, g.realized_pnl, g.fees) for g in p.legs])
        for p in runtime.positions()
    ]
    broker = runtime.extra("account_positions") is not None
    return orders, positions, runtime.account_positions() if broker else ()


def _first_fill(data_dir: Path) -> Fill:
    store = SqliteJournalStore(data_dir / JOURNAL_FILE)
    try:
        record = next(r for r in store.read() if r.kind == "Fill")
    finally:
        store.close()
    fill = decode(record.kind, record.payload)
    assert isinstance(fill, Fill)
    return fill


def _drained(spy: pykka.ActorRef[Any], inbox: queue.Queue[Any]) -> list[Any]:
    """What the bus published to ``spy`` so far (the runtime is idle: all of it is told)."""
    spy.proxy().inbox.get(timeout=5)  # queued behind every event already told to it
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


def _refusal_lines(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == "conflicting_duplicate_refused"]


def _traded(data_dir: Path) -> None:
    """A run of the venue path that filled its first orders, then stopped."""
    runtime = Runtime(RuntimeConfig(data_dir=data_dir)).start(FEED)
    try:
        runtime.replay(FEED, end=TRADED)
        assert runtime.orders()
    finally:
        runtime.stop()


@pytest.fixture
def venue_runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED)
    try:
        runtime.replay(FEED, end=TRADED)
        runtime.sync()
        yield runtime
    finally:
        runtime.stop()


def _assert_conflicting_fill_refused(runtime: Runtime, fill: Fill) -> None:
    """Deliver ``fill`` with other size and price; it must be refused and change nothing."""
    spy, events = collector()
    runtime.subscribe(spy)
    runtime.wait_idle()
    conflicting = attrs.evolve(fill, size=fill.size - 10, price=fill.price - D("0.01"))
    before, refused_before = _state(runtime), _counted("Fill", "conflicting")

    with capture_logs() as logs:
        runtime.venue_report(conflicting)
        runtime.wait_idle()

    (refusal,) = [event for event in _drained(spy, events) if isinstance(event, FillRefused)]
    assert refusal.fill == conflicting
    assert refusal.reason is FillRefusal.CONFLICTING_DUPLICATE
    assert f"size {fill.size - 10} (journaled {fill.size})" in refusal.detail
    assert f"price {fill.price - D('0.01')} (journaled {fill.price})" in refusal.detail
    (line,) = _refusal_lines(logs)
    assert line["log_level"] == "error"
    assert (line["key"], line["kind"]) == (f"fill:{fill.fill_id}", "Fill")
    assert decode("Fill", line["journaled"]) == fill
    assert line["refused"] == encode(conflicting)
    assert _counted("Fill", "conflicting") == refused_before + 1
    assert _state(runtime) == before


def test_a_fill_with_a_journaled_id_but_other_size_and_price_is_refused_and_changes_nothing(
    venue_runtime: Runtime, tmp_path: Path
) -> None:
    _assert_conflicting_fill_refused(venue_runtime, _first_fill(tmp_path))


def test_a_fill_redelivered_with_the_same_content_is_a_counted_no_op_without_a_refusal(
    venue_runtime: Runtime, tmp_path: Path
) -> None:
    fill = _first_fill(tmp_path)
    spy, events = collector()
    venue_runtime.subscribe(spy)
    venue_runtime.wait_idle()
    before = _state(venue_runtime)
    identical, conflicting = _counted("Fill", "identical"), _counted("Fill", "conflicting")

    with capture_logs() as logs:
        venue_runtime.venue_report(attrs.evolve(fill, ts_init=fill.ts_init + 1))
        venue_runtime.wait_idle()

    assert _counted("Fill", "identical") == identical + 1
    assert _counted("Fill", "conflicting") == conflicting
    assert not _refusal_lines(logs)
    assert not [e for e in _drained(spy, events) if isinstance(e, FillRefused)]
    assert _state(venue_runtime) == before


def test_a_conflicting_fill_after_a_restart_is_refused_against_the_earlier_runs_journal(
    tmp_path: Path,
) -> None:
    _traded(tmp_path)
    fill = _first_fill(tmp_path)
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED) as runtime:
        assert runtime.next_step == TRADED
        _assert_conflicting_fill_refused(runtime, fill)


def _as_schema_1(path: Path) -> None:
    """Turn a journal into one the code before digests wrote: no digest column, version 1,
    every record checksummed without one (snapshots dropped, so the tail is replayed)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT seq, stream, kind, payload, dedup_key, ts_ns FROM events"
        ).fetchall()
        conn.execute("BEGIN")
        for seq, stream, kind, payload, key, ts_ns in rows:
            checksum = record_checksum(
                seq=seq, stream=stream, kind=kind, payload=payload, dedup_key=key, ts_ns=ts_ns
            )
            conn.execute("UPDATE events SET checksum = ? WHERE seq = ?", (checksum, seq))
        conn.execute("ALTER TABLE events DROP COLUMN digest")
        conn.execute("ALTER TABLE voided DROP COLUMN digest")
        conn.execute("DELETE FROM snapshots")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_journal_written_before_digests_opens_and_its_fills_are_still_compared(
    tmp_path: Path,
) -> None:
    _traded(tmp_path)
    fill = _first_fill(tmp_path)
    _as_schema_1(tmp_path / JOURNAL_FILE)
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED) as runtime:
        assert runtime.next_step == TRADED
        identical = _counted("Fill", "identical")
        runtime.venue_report(attrs.evolve(fill, ts_init=fill.ts_init + 1))
        runtime.wait_idle()
        assert _counted("Fill", "identical") == identical + 1
        _assert_conflicting_fill_refused(runtime, fill)


# -- the broker path --------------------------------------------------------------------------


@pytest.fixture
def paper() -> Iterator[RedeliveringBroker]:
    broker = RedeliveringBroker(seed=3)
    yield broker
    broker.close()


def _broker_runtime(paper: RedeliveringBroker, data_dir: Path) -> Runtime:
    runtime = Runtime(RuntimeConfig(data_dir=data_dir, broker=BrokerConfig(broker=paper)))
    runtime.start(FEED)
    reconciler = runtime.extra("reconciler")
    assert reconciler is not None
    wait_until(lambda: bool(reconciler.proxy().trading_enabled.get()), what="trading enabled")
    return runtime


def _settled(paper: RedeliveringBroker, runtime: Runtime) -> None:
    assert paper.wait_idle(10)
    runtime.wait_idle()


def _assert_conflicting_deal_refused(paper: RedeliveringBroker, runtime: Runtime) -> None:
    """Call the deal callback for a booked deal with another size: refused on both books."""
    _settled(paper, runtime)
    deal = paper.deals()[0]
    spy, events = collector()
    runtime.subscribe(spy)
    runtime.wait_idle()
    before = _state(runtime)
    deals_refused, fills_refused = (
        _counted("DealBooked", "conflicting"),
        _counted("Fill", "conflicting"),
    )

    with capture_logs() as logs:
        paper.call_deal_callback(deal, size=deal.size - 10)
        _settled(paper, runtime)

    published = _drained(spy, events)
    (refused_deal,) = [event for event in published if isinstance(event, DealRefused)]
    assert refused_deal.reason is FillRefusal.CONFLICTING_DUPLICATE
    assert (refused_deal.deal.fill_id, refused_deal.booked.fill_id) == (deal.key, deal.key)
    assert (refused_deal.deal.size, refused_deal.booked.size) == (deal.size - 10, deal.size)
    assert f"size {deal.size - 10} (journaled {deal.size})" in refused_deal.detail
    (refused_fill,) = [event for event in published if isinstance(event, FillRefused)]
    assert refused_fill.reason is FillRefusal.CONFLICTING_DUPLICATE
    assert (refused_fill.fill.fill_id, refused_fill.fill.size) == (deal.key, deal.size - 10)
    lines = {line["kind"]: line for line in _refusal_lines(logs)}
    assert set(lines) == {"DealBooked", "Fill"}
    assert all(line["log_level"] == "error" for line in lines.values())
    assert decode("DealBooked", lines["DealBooked"]["journaled"]).size == deal.size
    assert decode("DealBooked", lines["DealBooked"]["refused"]).size == deal.size - 10
    assert _counted("DealBooked", "conflicting") == deals_refused + 1
    assert _counted("Fill", "conflicting") == fills_refused + 1
    normalizer = runtime.extra("normalizer")
    assert normalizer is not None
    assert normalizer.proxy().counters().get().conflicts == 1
    assert _state(runtime) == before
    truth = {p.security_id: p.quantity for p in paper.list_positions("paper", 0).items}
    assert {p.security_id: p.quantity for p in runtime.account_positions() if p.quantity} == truth


def test_a_deal_callback_with_a_booked_identity_but_other_size_is_refused_and_changes_nothing(
    paper: RedeliveringBroker, tmp_path: Path
) -> None:
    with _broker_runtime(paper, tmp_path) as runtime:
        runtime.replay(FEED, end=TRADED)
        _assert_conflicting_deal_refused(paper, runtime)


def test_a_deal_callback_repeated_with_the_same_data_is_a_counted_duplicate_without_a_refusal(
    paper: RedeliveringBroker, tmp_path: Path
) -> None:
    with _broker_runtime(paper, tmp_path) as runtime:
        runtime.replay(FEED, end=TRADED)
        _settled(paper, runtime)
        deal = paper.deals()[0]
        spy, events = collector()
        runtime.subscribe(spy)
        runtime.wait_idle()
        before = _state(runtime)
        normalizer = runtime.extra("normalizer")
        assert normalizer is not None
        duplicates = normalizer.proxy().counters().get().duplicates

        with capture_logs() as logs:
            paper.call_deal_callback(deal)
            _settled(paper, runtime)

        counters = normalizer.proxy().counters().get()
        assert (counters.duplicates, counters.conflicts) == (duplicates + 1, 0)
        assert not _refusal_lines(logs)
        assert not [e for e in _drained(spy, events) if isinstance(e, FillRefused | DealRefused)]
        assert _state(runtime) == before


def test_a_conflicting_deal_callback_after_a_restart_is_refused_against_the_earlier_runs_journal(
    paper: RedeliveringBroker, tmp_path: Path
) -> None:
    with _broker_runtime(paper, tmp_path) as runtime:
        runtime.replay(FEED, end=TRADED)
        _settled(paper, runtime)
    with capture_logs() as logs, _broker_runtime(paper, tmp_path) as runtime:
        # The startup reconcile lists every deal again: each one a redelivery, none refused.
        _settled(paper, runtime)
        assert not _refusal_lines(logs)
        _assert_conflicting_deal_refused(paper, runtime)
