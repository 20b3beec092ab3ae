"""Client commands during a lockstep replay are units of work between two steps (issue 14,
point 4): they run in the gaps, a torn one is voided whole and never acknowledged, a
committed one survives a restart, and clients cannot hold the replay up."""

from __future__ import annotations

import concurrent.futures
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from actors.journal_decode import decode_trusted
from actors.journal_store import NewEntry
from actors.runtime_state import RUNTIME_STREAM, RuntimeState
from bridges.journal_sqlite import SqliteJournalStore
from messages.client_requests import SubmitSignal
from messages.codec import encode, kind_of
from messages.enums import OrderSide
from messages.journal import OrderCreated, StepCommitted, StepStarted
from messages.signals import TradeSignal
from messages.supervision import InjectFault
from supervisors.assembly.lockstep_units import LockstepUnits
from supervisors.assembly.recovery import recover_state
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig, RuntimeDownError
from tests.stubs import arbitrage_feed, signal

pytestmark = pytest.mark.timeout(60)


def _order(order_id: str) -> OrderCreated:
    return OrderCreated(
        order_id=order_id,
        correlation_id="c",
        market_id="m1",
        security_id="m1-YES",
        account="paper",
        strategy="synthetic_arbitrage",
        side=OrderSide.BUY,
        price=Decimal("0.10"),
        size=Decimal(1),
    )


def _submit(runtime: Runtime, sent: TradeSignal | None = None) -> dict[str, str]:
    answer: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
    assert runtime.execution is not None
    sent = sent if sent is not None else signal(price="0.10", size="1")
    runtime.execution.tell(SubmitSignal(signal=sent, answer=answer))
    return answer.result(timeout=5)


def test_a_command_sent_during_a_step_runs_after_that_step_as_its_own_unit(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    runtime = Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed)
    ran_at: list[int] = []
    placed: list[dict[str, str]] = []

    def work() -> dict[str, str]:
        ran_at.append(runtime.next_step)
        return _submit(runtime)

    def during(step: int) -> None:
        if step == 3:
            client = threading.Thread(target=lambda: placed.append(runtime.change(work)))
            client.start()
            while not runtime.driver.units.queued():
                threading.Event().wait(0.001)

    try:
        runtime.replay(feed, during=during)
        assert runtime.next_step == len(feed)
        assert ran_at == [4]  # after step 3 committed, before step 4 started
        assert "order_id" in placed[0]
    finally:
        runtime.stop()
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        events = [decode_trusted(record.kind, record.payload) for record in store.read()]
    finally:
        store.close()
    marks = [
        (type(e).__name__, e.step, e.unit)
        for e in events
        if isinstance(e, StepStarted | StepCommitted) and 3 <= e.step <= 4
    ]
    assert marks == [
        ("StepStarted", 3, 0),
        ("StepCommitted", 3, 0),
        ("StepStarted", 3, 1),
        ("StepCommitted", 3, 1),
        ("StepStarted", 4, 0),
        ("StepCommitted", 4, 0),
    ]
    created = [e for e in events if isinstance(e, OrderCreated)]
    assert placed[0]["order_id"] in {e.order_id for e in created}


def test_a_unit_whose_core_dies_is_voided_whole_and_the_client_is_told_to_retry(
    tmp_path: Path,
) -> None:
    feed = arbitrage_feed()
    runtime = Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed)
    sent = signal(price="0.10", size="1")
    told: list[BaseException] = []

    def work() -> None:
        assert "order_id" in _submit(runtime, sent)
        assert runtime.risk is not None
        runtime.risk.tell(InjectFault(reason="a core restart inside a client's unit"))

    def client() -> None:
        try:
            runtime.change(work)
        except RuntimeDownError as error:
            told.append(error)

    def during(step: int) -> None:
        if step == 1:
            threading.Thread(target=client).start()
            while not runtime.driver.units.queued():
                threading.Event().wait(0.001)

    try:
        runtime.replay(feed, during=during)
        assert runtime.next_step == len(feed)
        (settled,) = runtime.positions()
    finally:
        runtime.stop()
    assert "voided it whole" in str(told[0])
    assert settled.realized_pnl == Decimal("3.00")  # the feed's own trades, as if never sent
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    try:
        kept = [decode_trusted(record.kind, record.payload) for record in store.read()]
        voided = [decode_trusted(record.kind, record.payload) for record, _ in store.voided()]
    finally:
        store.close()
    # Order ids are numbered again from the journal: the signal's id tells the order apart.
    assert sent.id not in {e.correlation_id for e in kept if isinstance(e, OrderCreated)}
    assert sent.id in {e.correlation_id for e in voided if isinstance(e, OrderCreated)}


def test_a_committed_unit_is_recovered_and_a_torn_one_voided(tmp_path: Path) -> None:
    feed = arbitrage_feed()
    runtime = Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed)
    try:
        runtime.replay(feed, end=3)
    finally:
        runtime.stop()
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)

    def append(*events: object) -> None:
        store.append(
            [
                NewEntry(stream=RUNTIME_STREAM, kind=kind_of(e), payload=encode(e), ts_ns=1)
                for e in events
            ]
        )

    try:
        append(StepStarted(step=2, atomic=True, unit=1), _order("O98"))
        append(StepCommitted(step=2, unit=1))
        append(StepStarted(step=2, atomic=True, unit=2), _order("O99"))
        state, report = recover_state(store)
    finally:
        store.close()
    assert (report.torn_step, report.voided, report.resume_step) == (2, 2, 3)
    assert "O98" in state.orders
    assert "O99" not in state.orders


def test_a_snapshot_waits_while_a_client_unit_is_open() -> None:
    state = RuntimeState()
    state.apply(1, RUNTIME_STREAM, StepStarted(step=0, atomic=True))
    state.apply(2, RUNTIME_STREAM, StepCommitted(step=0))
    assert not state.in_step
    state.apply(3, RUNTIME_STREAM, StepStarted(step=0, atomic=True, unit=1))
    assert state.in_step
    state.apply(4, RUNTIME_STREAM, StepCommitted(step=0, unit=1))
    assert not state.in_step


def test_units_queued_while_a_gap_is_served_wait_for_the_next_gap() -> None:
    units = LockstepUnits(lambda work: work())
    ran: list[str] = []
    late: list[threading.Thread] = []

    def first() -> str:
        ran.append("first")
        # Another client queues now, while this gap is being served.
        late.append(threading.Thread(target=lambda: units.run(lambda: ran.append("late"), 5)))
        late[0].start()
        while not units.queued():
            threading.Event().wait(0.001)
        return "first done"

    with units.driving():
        answer: list[str] = []
        caller = threading.Thread(target=lambda: answer.append(units.run(first, 5)))
        caller.start()
        while not units.queued():
            threading.Event().wait(0.001)
        with units.lock:
            units.between_steps()
        caller.join(5)
        assert (ran, answer) == (["first"], ["first done"])
        with units.lock:
            units.between_steps()
        late[0].join(5)
        assert ran == ["first", "late"]


def test_a_caller_that_gives_up_before_its_gap_is_never_run() -> None:
    units = LockstepUnits(lambda work: work())
    ran: list[str] = []
    with units.driving():
        with pytest.raises(TimeoutError, match="did not reach the command"):
            units.run(lambda: ran.append("never"), 0.01)
        with units.lock:
            units.between_steps()
    assert ran == []


def test_with_no_replay_driving_the_caller_runs_its_unit_itself_and_gets_its_error() -> None:
    units = LockstepUnits(lambda work: work())
    assert units.run(threading.get_ident, 5) == threading.get_ident()

    def refused() -> None:
        raise ValueError("bad args")

    with pytest.raises(ValueError, match="bad args"):
        units.run(refused, 5)


def test_a_pause_between_paced_steps_runs_a_client_unit_as_it_arrives_not_at_its_end() -> None:
    ran: list[str] = []
    units = LockstepUnits(lambda work: work())
    answered = threading.Event()

    def client() -> None:
        assert units.run(lambda: ran.append("unit"), timeout_s=5.0) is None
        answered.set()

    with units.driving():
        thread = threading.Thread(target=client)
        thread.start()
        stop = threading.Event()
        pausing = threading.Thread(target=units.pause, args=(30.0, stop))
        pausing.start()
        assert answered.wait(5.0), "the unit waited for the pause to end"
        stop.set()
        pausing.join(5.0)
        assert not pausing.is_alive()
        thread.join(5.0)
    assert ran == ["unit"]
