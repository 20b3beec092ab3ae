"""The broker edge against a misbehaving paper broker: every deal booked exactly once,
positions equal to broker truth after reconciliation, corrections with reasons, startup
rebuilt under the rate limit, and a callback gap reconciled."""

from __future__ import annotations

import queue
import random
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from actors.account_positions import MISMATCH_ALERTS
from bridges.journal_sqlite import SqliteJournalStore
from bridges.simulated_broker import SimulatedBroker
from messages.broker import BrokerOrderRequest, BrokerPosition
from messages.broker_events import Correction, CorrectionKind, DealBooked, OpenOrderAdopted
from messages.codec import decode
from messages.enums import OrderSide, Outcome
from messages.fills import Fill
from messages.market_data import InstrumentBook, MarketSnapshot
from messages.reconciliation import (
    ComparePositions,
    PositionsCompared,
    ReconcileRequest,
)
from supervisors.kernel.scheduler import ManualScheduler
from tests.broker_edge import ACCOUNT, Edge, wait_until
from tests.stubs import Collector, levels, opened

pytestmark = pytest.mark.timeout(120)
D = Decimal


@pytest.fixture
def broker() -> Any:
    made: list[SimulatedBroker] = []

    def make(**options: Any) -> SimulatedBroker:
        made.append(SimulatedBroker(**options))
        return made[-1]

    yield make
    for each in made:
        each.close()


def journaled(path: Path, kind: type) -> list[Any]:
    store = SqliteJournalStore(path)
    try:
        return [
            decode(record.kind, record.payload)
            for record in store.read()
            if record.kind == kind.__name__
        ]
    finally:
        store.close()


def drain(inbox: Any) -> list[Any]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


def test_thousands_of_deals_through_drops_duplicates_and_reordering_end_at_broker_truth(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(
        seed=11,
        drop_rate=0.05,
        duplicate_rate=0.05,
        delay_s=(0.0, 0.002),
        rate_limit_calls=100_000,  # this test reads the truth often; the limit has its own
    )
    # No position sync during the run: every deal then reaches the book by its callback or,
    # lost, by the reconcile at the end (the sync's own test is below).
    edge = Edge(paper, tmp_path / "journal.sqlite", min_sync_s=3600).start()
    rng = random.Random(3)
    orders = []
    for number in range(80):
        security_id = f"S{number % 7}"
        side = OrderSide.BUY if number % 3 else OrderSide.SELL
        orders.append((edge.submit(f"O{number}", security_id, side, "60"), security_id))
    for order_no, _ in orders:
        left = D(60)
        while left > 0:
            size = min(left, D(rng.randint(1, 3)))
            paper.execute(order_no, D(rng.randint(900, 1100)) / 100, size)
            left -= size
    edge.settle()

    stats = paper.stats()
    dropped, duplicated = paper.dropped_deals(), paper.duplicated_deals()
    assert len(dropped) >= 50, "the knobs must bite"
    assert len(duplicated) >= 50, "the knobs must bite"
    counters = edge.normalizer.proxy().counters().get()
    # Every duplicate delivered was dropped here, counted; every lost deal is missing.
    assert counters.duplicates == stats.duplicated
    assert stats.dropped == len(dropped) + len(paper.dropped_orders())
    assert edge.book() != edge.truth()

    edge.reconciler.tell(ReconcileRequest(reason="end of run"))
    wait_until(lambda: edge.book() == edge.truth(), what="the reconcile")
    edge.settle()
    counters = edge.normalizer.proxy().counters().get()
    assert counters.inferred == len(set(dropped)) + counters.late

    assert edge.book() == edge.truth()
    booked = journaled(tmp_path / "journal.sqlite", DealBooked)
    keys = Counter(deal.fill_id for deal in booked)
    assert max(keys.values()) == 1, "a deal was booked twice"
    assert {deal.fill_id for deal in booked if deal.inferred} >= set(dropped)
    fills = []
    page: int | None = 0
    while page is not None:
        answer = paper.list_fills(ACCOUNT, 0, page)
        fills.extend(answer.items)
        page = answer.next_page
    assert len(fills) > 2000
    assert set(keys) == {fill.key for fill in fills}
    # Each deal carries its fee: 0.1% of its notional, exactly.
    assert all(deal.fee == D("0.001") * deal.price * deal.size for deal in booked)
    edge.stop()


def test_a_second_reconcile_and_a_restart_never_book_an_inferred_deal_twice(
    broker: Any, tmp_path: Path
) -> None:
    # The test's own truth reads share the limit with reconciles of five queries each.
    paper = broker(seed=2, drop_rate=0.5, rate_limit_calls=100_000)
    path = tmp_path / "journal.sqlite"
    edge = Edge(paper, path).start()
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "10")
    for _ in range(10):
        paper.execute(order_no, D("5"), D("1"))
    edge.settle()
    for attempt in range(2):
        edge.reconciler.tell(ReconcileRequest(reason=f"pass {attempt}"))
        wait_until(lambda: edge.book() == edge.truth())
        edge.settle()
    edge.stop()

    again = Edge(paper, path).start()
    again.reconciler.tell(ReconcileRequest(reason="after restart"))
    again.settle()
    time.sleep(0.05)
    again.settle()
    assert again.book() == again.truth() == {"S1": D(10)}
    keys = Counter(deal.fill_id for deal in journaled(path, DealBooked))
    assert len(keys) == 10
    assert max(keys.values()) == 1
    again.stop()


def test_startup_rebuilds_a_thousand_positions_and_two_hundred_open_orders_under_the_limit(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=5, page_size=100)
    for number in range(1000):
        paper.seed_position(ACCOUNT, f"SEC{number:04d}", D(number % 50 - 25) or D(7), D("12.5"))
    for number in range(200):
        paper.seed_open_order(ACCOUNT, f"SEC{number:04d}", OrderSide.BUY, D("11"), D("4"))
    MISMATCH_ALERTS.labels(account=ACCOUNT)
    started = time.monotonic()
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled, timeout_s=60, what="startup")
    elapsed = time.monotonic() - started
    edge.settle()

    assert paper.stats().refused == 0
    assert edge.reconciler.proxy().counters().get().refused == 0
    truth = edge.truth()
    assert len(truth) == 1000
    assert edge.book() == truth
    adopted = journaled(tmp_path / "journal.sqlite", OpenOrderAdopted)
    assert len(adopted) == 200
    assert edge.normalizer.proxy().counters().get().open_orders == 200
    corrections = [e for e in drain(edge.events) if isinstance(e, Correction)]
    assert Counter(c.kind for c in corrections) == {
        CorrectionKind.POSITION: 1000,
        CorrectionKind.OPEN_ORDER: 200,
    }
    assert all(c.reason for c in corrections)
    assert len(journaled(tmp_path / "journal.sqlite", Correction)) == len(corrections)
    assert elapsed < 30
    edge.stop()


def test_a_refused_or_failed_query_is_never_read_as_flat(broker: Any, tmp_path: Path) -> None:
    paper = broker(seed=1)
    paper.seed_position(ACCOUNT, "S1", D(5), D(2))
    paper.disconnect()
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(lambda: edge.reconciler.proxy().counters().get().failures >= 1)
    assert not edge.trading_enabled()
    assert edge.book() == {}
    assert journaled(tmp_path / "journal.sqlite", Correction) == []

    paper.reconnect()
    wait_until(edge.trading_enabled, timeout_s=20)
    edge.settle()
    assert edge.book() == {"S1": D(5)}
    edge.stop()


def test_callback_silence_with_orders_open_triggers_a_reconcile_within_the_gap(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=4)
    edge = Edge(paper, tmp_path / "journal.sqlite", gap_s=0.3).start()
    wait_until(edge.trading_enabled)
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "10")
    edge.settle()
    paper.go_silent()
    silent_at = time.monotonic()
    paper.execute(order_no, D("5"), D("10"))

    wait_until(lambda: edge.book() == {"S1": D(10)}, timeout_s=5, what="the gap reconcile")
    assert time.monotonic() - silent_at < 0.3 * 3
    reconciles = edge.reconciler.proxy().counters().get().reconciles
    assert reconciles >= 2  # startup, then the gap
    edge.settle()
    counters = edge.normalizer.proxy().counters().get()
    assert counters.inferred == 1
    assert counters.open_orders == 0
    edge.stop()


def test_a_callback_for_an_unknown_order_is_quarantined_then_adopted_and_booked(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=6)
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    outside = paper.seed_open_order(ACCOUNT, "S9", OrderSide.SELL, D("3"), D("6"))
    paper.execute(outside, D("3"), D("2"))

    wait_until(lambda: edge.book() == {"S9": D(-2)}, what="the quarantined deal booked")
    counters = edge.normalizer.proxy().counters().get()
    assert counters.quarantined >= 1
    assert counters.released >= 1
    paper.execute(outside, D("3"), D("4"))
    wait_until(lambda: edge.book() == {"S9": D(-6)}, what="the next deal, now known")
    edge.stop()


def test_a_position_sync_is_debounced_and_counted(broker: Any, tmp_path: Path) -> None:
    paper = broker(seed=8)
    clock = ManualScheduler()
    edge = Edge(paper, tmp_path / "journal.sqlite", min_sync_s=0.5, scheduler=clock).start()
    wait_until(edge.trading_enabled)
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "5")
    clock.advance(0.5)  # the startup reconcile counts as the last sync
    for _ in range(5):
        paper.execute(order_no, D("1"), D("1"))
    edge.settle()
    wait_until(lambda: edge.reconciler.proxy().counters().get().callback_triggers == 5)
    stats = edge.reconciler.proxy().counters().get()
    assert (stats.syncs, stats.skipped_by_debounce) == (1, 4)
    edge.stop()


def test_a_mismatch_above_the_threshold_is_an_alert_log_and_a_metric(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=9)
    paper.seed_position(ACCOUNT, "BIG", D(100), D(50))
    paper.seed_position(ACCOUNT, "SMALL", D(1), D(1))
    before = MISMATCH_ALERTS.labels(account=ACCOUNT)._value.get()
    with structlog.testing.capture_logs() as logs:
        edge = Edge(paper, tmp_path / "journal.sqlite").start()
        wait_until(edge.trading_enabled)
        edge.settle()
    alerts = [e for e in logs if e["event"] == "reconciliation_mismatch"]
    assert [(a["security_id"], a["log_level"]) for a in alerts] == [("BIG", "error")]
    assert MISMATCH_ALERTS.labels(account=ACCOUNT)._value.get() == before + 1
    edge.stop()


def test_registration_is_retried_and_renewed_after_a_disconnect(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=10)
    paper.disconnect()
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    status = edge.venue.proxy().status
    wait_until(lambda: status().get().registration_failures >= 2)
    assert not status().get().registered
    paper.reconnect()
    wait_until(lambda: status().get().registered, what="registered")
    paper.disconnect()
    paper.reconnect()
    wait_until(lambda: status().get().registrations == 2, what="registered again")

    order_no = edge.submit("O1", "S1", OrderSide.BUY, "3")
    paper.execute(order_no, D("2"), D("3"))
    wait_until(lambda: edge.book() == {"S1": D(3)}, what="callbacks after re-registration")
    edge.stop()
    assert not edge.venue.is_alive()


def test_trading_is_enabled_only_once_the_book_holds_the_brokers_positions(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=12)
    for number in range(300):
        paper.seed_position(ACCOUNT, f"SEC{number:03d}", D(number + 1), D(2))
    truth = {f"SEC{number:03d}": D(number + 1) for number in range(300)}
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    assert edge.book() == truth
    edge.stop()


def test_a_position_a_paged_answer_skipped_is_corrected_only_when_two_answers_omit_it(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=13)
    for security_id in ("A", "B", "C"):
        paper.seed_position(ACCOUNT, security_id, D(5), D(1))
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    edge.settle()
    inbox: queue.Queue[Any] = queue.Queue()
    answers = Collector.start(inbox)
    skipping = tuple(
        BrokerPosition(account=ACCOUNT, security_id=security_id, quantity=D(5), avg_price=D(1))
        for security_id in ("A", "B")
    )

    def compare() -> PositionsCompared:
        edge.account_positions.tell(
            ComparePositions(
                account=ACCOUNT,
                positions=skipping,
                since_ns=time.time_ns(),
                reason="test",
                reply_to=answers,
            )
        )
        answer: PositionsCompared = inbox.get(timeout=5)
        return answer

    first = compare()
    assert (first.corrected, first.unsettled) == (0, ("C",))
    assert edge.book()["C"] == D(5)
    second = compare()
    assert (second.corrected, second.unsettled) == (1, ())
    edge.settle()
    assert "C" not in edge.book()
    edge.stop()


def _asks_at(price: str, version: int) -> MarketSnapshot:
    books = tuple(
        InstrumentBook(
            security_id=security_id,
            outcome=outcome,
            bids=(),
            asks=levels((price, "5")),
            synced=True,
            sequence=version,
        )
        for security_id, outcome in (("m-YES", Outcome.YES), ("m-NO", Outcome.NO))
    )
    return MarketSnapshot(ts_event=1, market_id="m", version=version, books=books)


def test_a_deal_matched_on_a_book_is_stamped_by_the_brokers_clock_so_a_targeted_reconcile_sees_it(
    broker: Any, tmp_path: Path
) -> None:
    """The feed's time is not the broker's: a deal stamped with it fell before every
    ``since`` the reconciler asks fills from, so a lost callback's deal was never listed,
    the positions comparison booked it as a correction, and the full reconcile at the end
    booked it once more."""
    paper = broker(seed=11)
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    edge.venue.tell(opened("m"))
    edge.venue.tell(_asks_at("0.50", version=1))
    order_no = edge.submit("O1", "m-YES", OrderSide.BUY, "5", price="0.45")
    wait_until(lambda: paper.order_status(order_no).status.is_open, what="the order resting")
    asked_from = time.time_ns()
    edge.venue.tell(_asks_at("0.40", version=2))  # feed time 1: long before asked_from
    wait_until(lambda: edge.book() == {"m-YES": D(5)}, what="the deal booked")

    (deal,) = paper.list_fills(ACCOUNT, since_ns=asked_from).items
    assert (deal.order_no, deal.size) == (order_no, D(5))
    edge.settle()
    assert edge.book() == edge.truth() == {"m-YES": D(5)}
    edge.stop()


def _placed_before_a_crash(paper: Any) -> str:
    """An order of ours the broker took and filled in a step our journal then voided."""
    request = BrokerOrderRequest(
        client_order_id="O1",
        account=ACCOUNT,
        security_id="S1",
        side=OrderSide.BUY,
        price=D("10"),
        size=D("5"),
    )
    order_no: str = paper.place_order(request)
    paper.execute(order_no, D("10"), D("5"))
    return order_no


def test_a_listed_deal_of_our_order_not_yet_routed_waits_for_its_routing_then_fills_it(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=6)
    order_no = _placed_before_a_crash(paper)
    edge = Edge(paper, tmp_path / "journal.sqlite").start()
    wait_until(edge.trading_enabled)
    edge.settle()
    assert edge.book() == {}, "held: neither an outside deal nor corrected to the broker's"
    assert edge.normalizer.proxy().counters().get().unrouted == 1

    # The torn step is fed again: the same order id is placed again, and routed.
    assert edge.submit("O1", "S1", OrderSide.BUY, "5") == order_no

    wait_until(lambda: edge.book() == {"S1": D(5)}, what="the held deal booked")
    fill = next(r for r in iter(lambda: edge.reports.get(timeout=5), None) if type(r) is Fill)
    assert (fill.order_id, fill.size) == ("O1", D(5))
    assert paper.stats().placed == 1
    edge.stop()


def test_a_held_order_no_routing_names_in_time_is_booked_as_an_outside_one(
    broker: Any, tmp_path: Path
) -> None:
    paper = broker(seed=6)
    _placed_before_a_crash(paper)
    edge = Edge(paper, tmp_path / "journal.sqlite", unrouted_grace_s=0.2).start()
    wait_until(edge.trading_enabled)

    wait_until(lambda: edge.book() == {"S1": D(5)}, what="the deal booked as outside")
    counters = edge.normalizer.proxy().counters().get()
    assert (counters.unrouted, counters.inferred) == (0, 1)
    edge.stop()
