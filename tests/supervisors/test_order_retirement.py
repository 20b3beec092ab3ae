"""A closed order's actor stops, so threads stay bounded; a late fill revives it from the
journal and lands on its position once; a cancel of it is denied; queries still answer it."""

from __future__ import annotations

import concurrent.futures
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from messages.client_requests import SubmitSignal
from messages.enums import OrderSide, OrderStatus
from messages.fills import Fill
from messages.order_commands import CancelOrder
from messages.orders import CancelDenied
from messages.signals import TradeSignal
from supervisors.assembly.runtime import Runtime, RuntimeConfig
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
        assert threading.active_count() - before <= 2
