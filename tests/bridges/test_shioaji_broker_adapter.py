"""The Shioaji adapter passes the shared broker suite, driven through the stand-in for
``sj.Shioaji`` in Shioaji's own message shapes (tests.bridges.shioaji_standin)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import shioaji as sj

from actors.query_pacer import QueryPacer
from bridges.shioaji_broker import OddLot, ShioajiBroker, ShioajiCredentials
from messages.enums import OrderSide
from tests.bridges.broker_adapter_suite import BrokerAdapterSuite, BrokerDriver
from tests.bridges.shioaji_standin import STOCK_ACCOUNT, StandInShioaji
from tests.broker_edge import ACCOUNT

pytestmark = pytest.mark.timeout(60)

NAMES = (*(f"S{n}" for n in range(10)), *(f"P{n:02d}" for n in range(50)))
"""The suite's securities, listed on the TSE; its sizes are shares under a lot: odd lots."""


class InjectedTime:
    """A monotonic clock that a sleep moves on at once; thread-safe (the adapter's calls
    come from the reconciler's worker and the test's thread)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(seconds, 0.0)


class ShioajiDriver:
    """A stand-in ``sj.Shioaji`` on the suite's account, with the adapter around it.

    The stand-in enforces the pacing limit on an injected clock, and the adapter's own pacer
    runs with the settings a real run has (``QueryPacer()``: 25 calls / 5 s, backoff from
    0.5 s, 8 attempts) on that clock: its waits and backoffs move the clock instead of
    sleeping, so a refusal is retried inside the adapter as it is in a real run.
    """

    def __init__(self, *, rate_limit_calls: int, rate_limit_period_s: float) -> None:
        self.clock = InjectedTime()
        self.api = StandInShioaji(
            limit_calls=rate_limit_calls,
            limit_period_s=rate_limit_period_s,
            monotonic=self.clock.monotonic,
            stock_account=sj.Account(
                account_type=sj.AccountType.Stock,
                person_id=STOCK_ACCOUNT.person_id,
                broker_id=STOCK_ACCOUNT.broker_id,
                account_id=ACCOUNT,
                signed=True,
                username=STOCK_ACCOUNT.username,
            ),
        )
        for name in NAMES:
            self.api.Contracts.Stocks[name] = sj.Stock(exchange=sj.Exchange.TSE, code=name)
        self.broker = ShioajiBroker(
            self.api,
            ShioajiCredentials(api_key="key", secret_key="secret"),
            odd_lot=OddLot.INTRADAY,
            pacer=QueryPacer(monotonic=self.clock.monotonic, sleep=self.clock.sleep),
        )

    def fill(self, order_no: str, price: Decimal, size: Decimal) -> None:
        self.api.fill(order_no, int(size), float(price))

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str:
        action = sj.Action.Buy if side is OrderSide.BUY else sj.Action.Sell
        return self.api.outside_order(
            self.api.Contracts.Stocks[security_id],
            action,
            float(price),
            int(size),
            sj.StockOrderLot.IntradayOdd,
        )

    def seed_position(self, security_id: str, quantity: Decimal, avg_price: Decimal) -> None:
        self.api.seed_position(security_id, int(quantity), float(avg_price))

    def set_delivery(
        self, *, drop: bool = False, duplicate: bool = False, reorder: bool = False
    ) -> None:
        self.api.drop, self.api.duplicate, self.api.reorder = drop, duplicate, reorder

    def disconnect(self) -> None:
        self.api.session_down()

    def reconnect(self) -> None:
        self.broker.reconnect()

    def idle(self, _timeout_s: float) -> bool:
        """The stand-in delivers before its call returns; only held callbacks are owed."""
        self.api.flush()
        return True

    def refused(self) -> int:
        """Refusals the adapter's own pacer took and retried (the reconciler never sees them)."""
        return self.broker.pacer_stats().refused

    def close(self) -> None:
        self.broker.close()


class TestShioajiBrokerAdapter(BrokerAdapterSuite):
    def make_driver(
        self, *, rate_limit_calls: int = 25, rate_limit_period_s: float = 5.0
    ) -> ShioajiDriver:
        return ShioajiDriver(
            rate_limit_calls=rate_limit_calls, rate_limit_period_s=rate_limit_period_s
        )

    def refused_inside(self, driver: BrokerDriver) -> int:
        assert isinstance(driver, ShioajiDriver)
        return driver.refused()
