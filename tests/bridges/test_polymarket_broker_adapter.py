"""The Polymarket broker passes the shared broker suite, driven through the local CLOB venue.

The venue is ``tests.bridges.polymarket_clob_venue``: a fill is a user-channel trade
(MATCHED, then CONFIRMED) for the order and the order's UPDATE, an outside order one the
venue lists that we did not post, a seeded position trade history the venue already holds
(the adapter nets it). The suite's orders are in Polymarket's terms: its securities are
token ids (uint256 decimals py-clob-client signs), its prices 0.01 ticks in (0, 1).
"""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import pytest

from bridges.polymarket_clob_broker import PolymarketBroker, clob_client
from bridges.polymarket_ws import MarketChannelConfig
from messages.enums import OrderSide
from tests.bridges.broker_adapter_suite import BrokerAdapterSuite, SuiteTerms
from tests.bridges.polymarket_clob_venue import CREDENTIALS, ClobVenue
from tests.broker_edge import ACCOUNT, wait_until

pytestmark = pytest.mark.timeout(60)


def token_id(name: str) -> str:
    """A token id for the suite's security ``name``: a uint256, as Polymarket's are."""
    return str(int.from_bytes(hashlib.sha256(name.encode()).digest(), "big"))


TERMS = SuiteTerms(
    price=Decimal("0.45"),
    tick=Decimal("0.01"),
    securities={
        name: token_id(name)
        for name in (*(f"S{n}" for n in range(10)), *(f"P{n:02d}" for n in range(50)))
    },
)


class PolymarketDriver:
    """The CLOB venue's side of the adapter in the suite's terms."""

    def __init__(self, *, rate_limit_calls: int, rate_limit_period_s: float) -> None:
        self.venue = ClobVenue(page_size=100, rate_limit=(rate_limit_calls, rate_limit_period_s))
        self.venue.__enter__()
        self.broker = PolymarketBroker(
            CREDENTIALS,
            clob_client(CREDENTIALS, host=self.venue.http_url),
            account=ACCOUNT,
            channel=MarketChannelConfig(url=self.venue.ws_url, backoff_initial_s=0.01),
        ).start()
        self.drop = self.duplicate = self.reorder = False
        self._trades = 0
        self._lost = 0
        wait_until(
            lambda: self.broker.connected and self.venue.connections == 1, what="the channel"
        )

    def fill(self, order_no: str, price: Decimal, size: Decimal) -> None:
        """A trade at ``price``, MATCHED then CONFIRMED, and the order's UPDATE after it."""
        self._trades += 1
        trade_id = f"t{self._trades}-{order_no[-6:]}"
        messages = [
            self.venue.trade(
                order_no, trade_id, status, size=str(size.normalize()), price=str(price)
            )
            for status in ("MATCHED", "CONFIRMED")
        ]
        messages.append(self.venue.order_update(order_no))
        if self.drop:
            return
        if self.reorder:
            messages.reverse()
        for message in messages:
            self.venue.push(*([message, message] if self.duplicate else [message]))

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str:
        return self.venue.outside_order(security_id, side.value, price, size)

    def seed_position(self, security_id: str, quantity: Decimal, avg_price: Decimal) -> None:
        order_no = self.venue.outside_order(security_id, "BUY", avg_price, quantity)
        self.venue.trade(order_no, f"seed-{security_id}", "CONFIRMED")

    def set_delivery(
        self, *, drop: bool = False, duplicate: bool = False, reorder: bool = False
    ) -> None:
        self.drop, self.duplicate, self.reorder = drop, duplicate, reorder

    def disconnect(self) -> None:
        self.venue.refusing = True
        self.venue.drop()
        wait_until(lambda: not self.broker.connected, what="the loss seen")

    def reconnect(self) -> None:
        self._lost = self.venue.sent - self._received()
        self.venue.refusing = False
        wait_until(lambda: self.broker.connected, what="the reconnection")

    def idle(self, timeout_s: float) -> bool:
        """Every frame the venue sent was read (or lost with its session)."""
        deadline = time.monotonic() + timeout_s
        while self._received() + self._lost < self.venue.sent:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        with self.broker._lock:  # the last frame's handling holds it
            return True

    def close(self) -> None:
        self.broker.close()
        self.venue.__exit__(None, None, None)

    def _received(self) -> int:
        return self.broker._channel.stats.frames


class TestPolymarketBrokerAdapter(BrokerAdapterSuite):
    def make_driver(
        self, *, rate_limit_calls: int = 25, rate_limit_period_s: float = 5.0
    ) -> PolymarketDriver:
        return PolymarketDriver(
            rate_limit_calls=rate_limit_calls, rate_limit_period_s=rate_limit_period_s
        )

    def terms(self) -> SuiteTerms:
        return TERMS
