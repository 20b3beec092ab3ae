"""IbBroker: ib_async driven as TWS drives it (tests.bridges.tws_peer), through the shared
broker suite and IB's own rules: orderRef and permId, commissions, corrections, rejections,
position pushes, reconnects and contracts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB

from actors.broker import BrokerError
from actors.metrics import CALLBACK_GAP_SECONDS
from bridges.ib_broker import IbBroker, IbContract, IbContracts
from messages.broker import BrokerOrderRequest, BrokerOrderStatus
from messages.enums import OrderSide
from messages.fills import Fill
from supervisors.kernel.scheduler import ManualScheduler
from tests.bridges.broker_adapter_suite import BrokerAdapterSuite, _drain, booked
from tests.bridges.tws_peer import FakeTws
from tests.broker_edge import ACCOUNT, Edge, wait_until

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


class Calls:
    """Callbacks registered with the adapter directly: what ib_async's events became."""

    def __init__(self, broker: IbBroker) -> None:
        self.orders: list[tuple[Any, ...]] = []
        self.deals: list[tuple[Any, ...]] = []
        broker.register_callbacks(
            lambda *args: self.orders.append(args), lambda *args: self.deals.append(args)
        )


REJECTED = BrokerOrderStatus.REJECTED


def request(
    client_order_id: str = "C1", security_id: str = "S1", size: str = "4"
) -> BrokerOrderRequest:
    return BrokerOrderRequest(
        client_order_id=client_order_id,
        account=ACCOUNT,
        security_id=security_id,
        side=OrderSide.BUY,
        price=D("10.5"),
        size=D(size),
    )


def placements(tws: FakeTws) -> int:
    return sum(1 for fields in tws.received if fields[0] == "3")


def test_our_order_id_rides_in_order_ref_and_placing_it_again_places_nothing(
    ib: IbDriver,
) -> None:
    order_no = ib.broker.place_order(request())
    ib.idle(5)
    (tws_order,) = ib.tws.orders.values()
    assert tws_order.order.orderRef == "C1"
    assert order_no == f"7.{tws_order.order_id}"
    assert ib.broker.perm_ids() == {order_no: tws_order.perm_id}
    assert ib.broker.place_order(request()) == order_no
    assert placements(ib.tws) == 1
    with pytest.raises(BrokerError, match="other terms"):
        ib.broker.place_order(request(size="5"))


def test_after_our_restart_the_order_is_found_by_its_order_ref_under_the_same_number(
    ib: IbDriver,
) -> None:
    order_no = ib.broker.place_order(request())
    ib.idle(5)
    ib.fill(order_no, D("10.5"), D(1))
    ib.close()  # our process ends; TWS keeps the order

    again = IbDriver(tws=ib.tws)
    try:
        (listed,) = again.broker.list_open_orders(ACCOUNT).items
        assert (listed.order_no, listed.client_order_id, listed.filled) == (order_no, "C1", D(1))
        (deal,) = again.broker.list_fills(ACCOUNT, 0).items
        assert (deal.order_no, deal.client_order_id) == (order_no, "C1")
        assert again.broker.place_order(request()) == order_no
        assert placements(ib.tws) == 1
    finally:
        again.close()


def test_a_deal_is_delivered_with_ibs_commission_once_its_report_came(ib: IbDriver) -> None:
    calls = Calls(ib.broker)
    order_no = ib.broker.place_order(request(size="400"))
    ib.idle(5)
    ib.fill(order_no, D("10.5"), D(400))
    ib.idle(5)
    (deal,) = calls.deals
    assert deal[0] == order_no
    assert deal[5:] == (D("10.5"), D(400), D("2.0"))  # IB's commission, not our rate
    (listed,) = ib.broker.list_fills(ACCOUNT, 0).items
    assert (listed.key, listed.fee) == (f"{deal[0]}:{deal[1]}:{deal[2]}", D("2.0"))


def test_the_booked_fee_is_ibs_commission_in_the_deal_the_fill_and_the_account_book(
    ib: IbDriver, tmp_path: Path
) -> None:
    edge = Edge(ib.broker, tmp_path / "journal.sqlite", idle=ib.idle).start()
    wait_until(edge.trading_enabled)
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "400")
    ib.fill(order_no, D("10.5"), D(400))  # TWS reports a commission of 2.0 for it
    edge.settle()
    (deal,) = booked(tmp_path / "journal.sqlite")
    assert deal.fee == D("2.0"), "IB's commission, not the run's fee rate (4.2)"
    (fill,) = [r for r in _drain(edge.reports) if type(r) is Fill]
    assert fill.fee == D("2.0")
    (position,) = edge.account_positions.proxy().positions().get()
    assert position.fees == D("2.0")
    edge.stop()


def test_an_execution_whose_commission_never_comes_is_delivered_after_the_wait_without_a_fee(
    ib: IbDriver,
) -> None:
    calls = Calls(ib.broker)
    order_no = ib.broker.place_order(request())
    ib.idle(5)

    ib.set_delivery(reorder=True)
    ib.fill(order_no, D("10"), D(4))
    (pushes,) = ib.tws.held
    ib.tws.held = []
    ib.broker.call(pushes[0])  # execDetails alone
    assert calls.deals == []
    wait_until(lambda: len(calls.deals) == 1, what="the held execution")
    assert calls.deals[0][7] is None


def test_a_correction_is_the_same_deal_in_new_terms_and_the_fill_query_lists_it_corrected(
    ib: IbDriver,
) -> None:
    calls = Calls(ib.broker)
    order_no = ib.broker.place_order(request())
    ib.idle(5)
    exec_id = ib.broker.call(ib.tws.fill, order_no, D("10.5"), D(4))
    ib.idle(5)
    corrected = ib.broker.call(ib.tws.correct, exec_id, D("10.4"))
    ib.idle(5)
    assert corrected.endswith(".02")
    assert corrected.rsplit(".", 1)[0] == exec_id.rsplit(".", 1)[0]
    first, second = calls.deals
    assert first[:3] == second[:3], "one deal: the same identity"
    assert (first[5], second[5]) == (D("10.5"), D("10.4"))
    (listed,) = ib.broker.list_fills(ACCOUNT, 0).items
    assert (listed.key, listed.price) == (f"{first[0]}:{first[1]}:{first[2]}", D("10.4"))


def test_a_correction_in_other_terms_is_refused_by_the_runtime_not_booked_twice(
    ib: IbDriver, tmp_path: Path
) -> None:
    edge = Edge(ib.broker, tmp_path / "journal.sqlite", idle=ib.idle).start()
    wait_until(edge.trading_enabled)
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "4")
    exec_id = ib.broker.call(ib.tws.fill, order_no, D("10"), D(4))
    ib.broker.call(ib.tws.correct, exec_id, D("9.9"))
    edge.settle()
    assert edge.normalizer.proxy().counters().get().conflicts == 1
    deals = booked(tmp_path / "journal.sqlite")
    assert [(d.price, d.size) for d in deals] == [(D("10"), D(4))]
    assert edge.book() == {"S1": D(4)}
    edge.stop()


def test_an_order_ib_rejects_is_a_rejection_with_ibs_code_and_message(ib: IbDriver) -> None:
    calls = Calls(ib.broker)

    def reject() -> None:
        ib.tws.reject_next = (201, "Order rejected - reason:Insufficient margin")

    ib.broker.call(reject)
    order_no = ib.broker.place_order(request())
    ib.idle(5)
    assert [(o[0], o[2], o[4]) for o in calls.orders] == [
        (order_no, REJECTED, "IB 201: Order rejected - reason:Insufficient margin")
    ]


def test_position_pushes_trigger_the_sync_debounced_to_five_seconds_and_the_last_is_synced(
    ib: IbDriver, tmp_path: Path
) -> None:
    ib.seed_position("S1", D(3), D(10))
    clock = ManualScheduler()
    edge = Edge(ib.broker, tmp_path / "journal.sqlite", idle=ib.idle, scheduler=clock).start()
    wait_until(edge.trading_enabled)
    counters = edge.reconciler.proxy().counters
    for _ in range(4):
        ib.broker.call(ib.tws.push_position, "S1")
    wait_until(lambda: counters().get().callback_triggers == 4, what="four triggers")
    assert (counters().get().syncs, counters().get().skipped_by_debounce) == (0, 4)
    clock.advance(5.0)  # the startup reconcile was the last sync: the skipped ones' is due
    wait_until(lambda: counters().get().syncs == 1, what="the sync the skipped were owed")
    ib.broker.call(ib.tws.push_position, "S1")
    ib.broker.call(ib.tws.push_position, "S1")
    wait_until(lambda: counters().get().callback_triggers == 6, what="two more")
    assert (counters().get().syncs, counters().get().skipped_by_debounce) == (1, 6)
    clock.advance(5.0)
    wait_until(lambda: counters().get().syncs == 2, what="the burst's last change synced")
    edge.stop()


def test_a_lost_connection_shows_in_callback_gap_seconds_until_the_reconnect(
    ib: IbDriver, tmp_path: Path
) -> None:
    edge = Edge(ib.broker, tmp_path / "journal.sqlite", idle=ib.idle).start()
    wait_until(edge.trading_enabled)
    order_no = edge.submit("O1", "S1", OrderSide.BUY, "4")
    ib.fill(order_no, D("10"), D(1))
    wait_until(lambda: CALLBACK_GAP_SECONDS._value.get() < 0.3, what="a fresh heartbeat")
    session = ib.broker.session
    ib.disconnect()
    wait_until(lambda: CALLBACK_GAP_SECONDS._value.get() > 0.6, what="the gap growing")
    ib.reconnect()  # the adapter's own retries find TWS back
    wait_until(lambda: edge.venue.proxy().status().get().registrations == 2, what="again")
    assert ib.broker.session == session + 1
    ib.fill(order_no, D("10"), D(1))
    wait_until(lambda: CALLBACK_GAP_SECONDS._value.get() < 0.3, what="the heartbeat back")
    wait_until(lambda: edge.book() == {"S1": D(2)}, what="both deals")
    edge.stop()


def test_contracts_come_from_the_config_by_con_id_or_by_symbol_exchange_and_currency(
    ib: IbDriver,
) -> None:
    aapl = CONFIG.contract("AAPL")
    assert (aapl.conId, aapl.symbol, aapl.exchange, aapl.currency) == (0, "AAPL", "SMART", "USD")
    assert CONFIG.contract("S3").conId == 1003
    with pytest.raises(BrokerError, match="no IB contract"):
        ib.broker.place_order(request(security_id="NOPE"))
    calls = Calls(ib.broker)
    order_no = ib.broker.place_order(request(security_id="AAPL"))
    ib.idle(5)
    (placed,) = ib.tws.orders.values()
    assert placed.contract.conId == 265598  # TWS resolved it
    ib.fill(order_no, D("190"), D(4))
    ib.idle(5)
    assert calls.deals[0][3] == "AAPL"
    ib.seed_position("AAPL", D(4), D(190))
    ib.broker.call(ib.tws.seed_position, TWS_CONTRACTS["OTHER"].contract(), D(2), D(1))
    positions = {p.security_id: p.quantity for p in ib.broker.list_positions(ACCOUNT).items}
    assert positions == {"AAPL": D(4), "conid:42": D(2)}
