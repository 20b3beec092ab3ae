"""The paper broker passes the shared broker suite, driven through its own knobs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridges.simulated_broker import SimulatedBroker
from messages.enums import OrderSide
from tests.bridges.broker_adapter_suite import BrokerAdapterSuite
from tests.broker_edge import ACCOUNT

pytestmark = pytest.mark.timeout(60)


class PaperDriver:
    """The paper broker's knobs in the suite's terms; ``reorder`` is a spread of delays."""

    def __init__(self, **options: float) -> None:
        self.paper = SimulatedBroker(seed=7, **options)  # type: ignore[arg-type]
        self.broker = self.paper

    def fill(self, order_no: str, price: Decimal, size: Decimal) -> None:
        self.paper.execute(order_no, price, size)

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str:
        return self.paper.seed_open_order(ACCOUNT, security_id, side, price, size)

    def seed_position(self, security_id: str, quantity: Decimal, avg_price: Decimal) -> None:
        self.paper.seed_position(ACCOUNT, security_id, quantity, avg_price)

    def set_delivery(
        self, *, drop: bool = False, duplicate: bool = False, reorder: bool = False
    ) -> None:
        self.paper.set_drop_rate(1.0 if drop else 0.0)
        self.paper.set_duplicate_rate(1.0 if duplicate else 0.0)
        self.paper.set_delay((0.0, 0.05) if reorder else (0.0, 0.0))

    def disconnect(self) -> None:
        self.paper.disconnect()

    def reconnect(self) -> None:
        self.paper.reconnect()

    def idle(self, timeout_s: float) -> bool:
        return self.paper.wait_idle(timeout_s)

    def close(self) -> None:
        self.paper.close()


class TestPaperBrokerAdapter(BrokerAdapterSuite):
    def make_driver(
        self, *, rate_limit_calls: int = 25, rate_limit_period_s: float = 5.0
    ) -> PaperDriver:
        return PaperDriver(
            rate_limit_calls=rate_limit_calls, rate_limit_period_s=rate_limit_period_s
        )
