"""A closed order's actor stops, so threads stay bounded; a late fill revives it from the
journal and lands on its position once; a cancel of it is denied; queries still answer it."""

from __future__ import annotations

import concurrent.futures
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from bridges.journal_sqlite import SqliteJournalStore
from messages.client_requests import SubmitSignal
from messages.enums import OrderSide, OrderStatus
from messages.fills import Fill
from messages.order_commands import CancelOrder
from messages.orders import CancelDenied
from messages.queries import ListRoutedOrders
from messages.signals import TradeSignal
from supervisors.assembly.core_recovery import recover_core
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from supervisors.kernel.scheduler import ManualScheduler
from tests.stubs import book, opened

pytestmark = pytest.mark.timeout(60)
D = Decimal
ORDERS = 40


def _submit(runtime: Runtime, security_id: str, price: str, size: int) -> str:
    answer: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
    signal = TradeSignal(
        market_id="m1",
        security_id=security_id,
        side=OrderSide.BUY,
        price=D(price),
        size=D(size),
        reason="client",
    )
    assert runtime.execution is not None
    runtime.execution.tell(SubmitSignal(signal=signal, answer=answer))
    order_id = answer.result(timeout=5)["order_id"]
    runtime.wait_idle()
    return order_id


def test_closed_orders_leave_no_threads_and_a_late_fill_revives_one_and_lands_once(
    tmp_path: Path,
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, scheduler=ManualScheduler())
    with Runtime(config).start() as runtime:
        runtime.feed_and_wait(opened("m1"))
        runtime.feed_and_wait(book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "1000"),)))
        before = threading.active_count()
        for _ in range(ORDERS):
            _submit(runtime, "m1-YES", "0.45", 1)
        # One order's thread may still be stopping; none of the others holds one.
        assert threading.active_count() - before <= 2
        orders = runtime.orders()
        assert len(orders) == ORDERS
        assert {o.status for o in orders} == {OrderStatus.FILLED}

        resting = _submit(runtime, "m1-NO", "0.01", 5)
        assert runtime.execution is not None
        runtime.execution.tell(CancelOrder(order_id=resting, reason="client"))
        runtime.wait_idle()
        assert threading.active_count() - before <= 2
        denied = runtime.execution.ask(CancelOrder(order_id=resting, reason="again"))
        assert isinstance(denied, CancelDenied)
        assert denied.reason == "order is CANCELLED"

        # The venue filled 3 of it before the cancel took effect; its callback comes twice.
        late = Fill(
            fill_id="late-1",
            ts_event=21,
            order_id=resting,
            market_id="m1",
            security_id="m1-NO",
            side=OrderSide.BUY,
            price=D("0.01"),
            size=D(3),
        )
        runtime.venue_report(late)
        runtime.wait_idle()
        runtime.venue_report(late)
        runtime.wait_idle()
        (position,) = runtime.positions()
        assert position.leg("m1-NO").quantity == D(3)
        assert position.leg("m1-YES").quantity == D(ORDERS)
        (order,) = [o for o in runtime.orders() if o.order_id == resting]
        assert order.filled == D(3)
        # Revived for the fill, closed again, and stopped again.
        assert runtime.execution.ask(ListRoutedOrders(), timeout=5).running == ()
        assert threading.active_count() - before <= 2


def test_a_recovered_run_starts_actors_for_its_open_orders_only(tmp_path: Path) -> None:
    config = RuntimeConfig(data_dir=tmp_path, scheduler=ManualScheduler())
    with Runtime(config).start() as runtime:
        runtime.feed_and_wait(opened("m1"))
        runtime.feed_and_wait(book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "1000"),)))
        floor = threading.active_count()
        for _ in range(ORDERS):
            _submit(runtime, "m1-YES", "0.45", 1)
        cancelled = _submit(runtime, "m1-NO", "0.01", 5)
        assert runtime.execution is not None
        runtime.execution.tell(CancelOrder(order_id=cancelled, reason="client"))
        runtime.wait_idle()
        resting = _submit(runtime, "m1-NO", "0.02", 5)
        orders = sorted(runtime.orders(), key=lambda o: o.order_id)

    with structlog.testing.capture_logs() as logs, Runtime(config).start() as runtime:
        # Only the resting order was rebuilt; its actor is the one thread beyond the floor.
        assert [e["order_id"] for e in logs if e["event"] == "order_recovered"] == [resting]
        assert threading.active_count() <= floor + 1
        assert sorted(runtime.orders(), key=lambda o: o.order_id) == orders
        assert runtime.execution is not None
        denied = runtime.execution.ask(CancelOrder(order_id=cancelled, reason="again"))
        assert isinstance(denied, CancelDenied)
        assert denied.reason == "order is CANCELLED"

        # A fill the venue made before the cancel took effect: the order recovered with no
        # actor is revived from the journal, the fill lands once, and its actor stops again.
        late = Fill(
            fill_id="late-2",
            ts_event=31,
            order_id=cancelled,
            market_id="m1",
            security_id="m1-NO",
            side=OrderSide.BUY,
            price=D("0.01"),
            size=D(2),
        )
        runtime.venue_report(late)
        runtime.wait_idle()
        (position,) = runtime.positions()
        assert position.leg("m1-NO").quantity == D(2)
        assert position.leg("m1-YES").quantity == D(ORDERS)
        (order,) = [o for o in runtime.orders() if o.order_id == cancelled]
        assert order.filled == D(2)
        routed = runtime.execution.ask(ListRoutedOrders(), timeout=5)
        assert [order_id for order_id, _ in routed.running] == [resting]
        assert threading.active_count() <= floor + 2


def test_a_closed_order_whose_fill_never_reached_its_position_gets_its_actor_back(
    tmp_path: Path,
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, scheduler=ManualScheduler())
    with Runtime(config).start() as runtime:
        runtime.feed_and_wait(opened("m1"))
        runtime.feed_and_wait(book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "1000"),)))
        for _ in range(3):
            last = _submit(runtime, "m1-YES", "0.45", 1)
    # A kill -9 after the last order's fill was journaled, before its actor journaled the
    # fill for the position (and its close): the tail from there is gone.
    store = SqliteJournalStore(tmp_path / JOURNAL_FILE)
    applied = [r for r in store.read() if r.kind == "FillApplied"]
    store.void_after(applied[-1].seq - 1, "killed before the position heard of the fill")
    recovered = recover_core(store, fee_rate=config.fee_rate, feed=())
    store.close()
    assert [order.order_id for order in recovered.orders] == [last]
    assert len(recovered.closed_orders) == 2

    with structlog.testing.capture_logs() as logs, Runtime(config).start() as runtime:
        runtime.wait_idle()
        assert [e["order_id"] for e in logs if e["event"] == "order_recovered"] == [last]
        (position,) = runtime.positions()
        assert position.leg("m1-YES").quantity == D(3)
        assert not position.leg("m1-YES").pending_buy
        assert {o.status for o in runtime.orders()} == {OrderStatus.FILLED}
        # Once it has journaled them again, it is stopped as any closed order is.
        assert runtime.execution is not None
        routed = runtime.execution.ask(ListRoutedOrders(), timeout=5)
        assert routed.running == ()
        assert len(routed.closed) == 3
