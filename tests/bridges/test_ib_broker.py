"""IbBroker: ib_async driven as TWS drives it (tests.bridges.tws_peer), through the shared
broker suite and IB's own rules: orderRef and permId, commissions, corrections, rejections,
position pushes, reconnects and contracts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ib_async import IB

from bridges.ib_broker import IbBroker, IbContract, IbContracts
from messages.enums import OrderSide
from tests.bridges.broker_adapter_suite import BrokerAdapterSuite
from tests.bridges.tws_peer import FakeTws
from tests.broker_edge import ACCOUNT, wait_until

pytestmark = pytest.mark.timeout(60)
D = Decimal

NAMES = (*(f"S{n}" for n in range(10)), *(f"P{n:02d}" for n in range(50)))
TWS_CONTRACTS = {
    **{name: IbContract(con_id=1000 + n, symbol=name) for n, name in enumerate(NAMES)},
    "AAPL": IbContract(con_id=265598, symbol="AAPL", exchange="SMART", currency="USD"),
    "OTHER": IbContract(con_id=42, symbol="OTHER"),
}
"""What TWS knows; the run's config names AAPL by symbol only and OTHER not at all."""
CONFIG = IbContracts(
    {
        **{name: IbContract(con_id=1000 + n) for n, name in enumerate(NAMES)},
        "AAPL": IbContract(symbol="AAPL", exchange="SMART", currency="USD"),
    }
)


class IbDriver:
    """The suite's driver: a FakeTws under a fresh ``IB`` and the adapter around both."""

    def __init__(self, tws: FakeTws | None = None, **options: Any) -> None:
        self.tws = tws or FakeTws(ACCOUNT, TWS_CONTRACTS)
        self.ib = IB()
        self.broker = IbBroker(
            self.ib,
            account=ACCOUNT,
            contracts=CONFIG,
            connect=self.tws.connect,
            reconnect_delay_s=0.02,
            commission_wait_s=0.5,
            **options,
        )
        self.tws.broker = self.broker
        assert self.wait_connected()

    def wait_connected(self, timeout_s: float = 10) -> bool:
        wait_until(lambda: self.broker.connected, timeout_s, what="connected")
        return True

    def fill(self, order_no: str, price: Decimal, size: Decimal) -> None:
        self.broker.call(self.tws.fill, order_no, price, size)

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str:
        return self.broker.call(self.tws.outside_order, security_id, side, price, size)

    def seed_position(self, security_id: str, quantity: Decimal, avg_price: Decimal) -> None:
        contract = self.tws.resolve(CONFIG.contract(security_id))
        self.broker.call(self.tws.seed_position, contract, quantity, avg_price)

    def set_delivery(
        self, *, drop: bool = False, duplicate: bool = False, reorder: bool = False
    ) -> None:
        def knobs() -> None:
            self.tws.drop, self.tws.duplicate, self.tws.reorder = drop, duplicate, reorder

        self.broker.call(knobs)

    def disconnect(self) -> None:
        self.broker.call(self.tws.drop_connection)

    def reconnect(self) -> None:
        def up() -> None:
            self.tws.up = True

        self.broker.call(up)

    def idle(self, _timeout_s: float) -> bool:
        for _ in range(3):  # answers TWS queued behind answers
            self.broker.call(self.tws.flush)
        return True

    def close(self) -> None:
        self.broker.close()


class TestIbBrokerAdapter(BrokerAdapterSuite):
    def make_driver(
        self, *, rate_limit_calls: int = 25, rate_limit_period_s: float = 5.0
    ) -> IbDriver:
        return IbDriver(rate_limit_calls=rate_limit_calls, rate_limit_period_s=rate_limit_period_s)


@pytest.fixture
def ib() -> Iterator[IbDriver]:
    driver = IbDriver()
    yield driver
    driver.close()
