"""What every broker adapter owes the runtime's broker edge, whatever the broker: the shared suite.

A real broker calls back on its own threads, loses callbacks, repeats them, sends them out
of order, reports orders nobody here placed, drops the session and comes back, and refuses
queries over its pacing limit. The runtime's machinery (``bridges.callback_bridge``, the
normalizer, the reconciler, the account book) must end at the broker's truth through all
of it. Each adapter's test module subclasses :class:`BrokerAdapterSuite` as
``Test<Broker>Adapter`` and implements :meth:`BrokerAdapterSuite.make_driver`; the class
name has no ``Test`` prefix, so pytest collects it only through its subclasses.

A driver (:class:`BrokerDriver`) is the broker's side of the adapter: it makes the broker
do what the real one would, in the broker's own terms (a paper broker's knobs, the TWS
callbacks ib_async's wrapper receives, Shioaji's callback messages), and nothing else:

- ``broker``: the adapter, as the runtime sees it (``actors.broker.Broker``);
- ``fill(order_no, price, size)``: the broker executes that much of an open order; the deal
  and the order's new status come as callbacks, on a thread of the broker's;
- ``outside_order(security_id, side, price, size)``: an order placed elsewhere (another
  client, the broker's own app), open at the broker; returns its order number;
- ``seed_position(security_id, quantity, avg_price)``: a position held before the run;
- ``set_delivery(drop=, duplicate=, reorder=)``: how the callbacks owed from now on travel:
  lost, each sent twice, or not in the order they happened;
- ``disconnect()`` / ``reconnect()``: the session drops (callbacks in flight are lost, the
  registration too) and comes back;
- ``idle(timeout_s)``: every callback owed so far was delivered or lost; False on timeout;
- ``close()``: release threads and sockets.

``make_driver(rate_limit_calls=, rate_limit_period_s=)`` sets the pacing limit the broker
enforces on queries (``RateLimitedError`` past it). The account is ``tests.broker_edge.ACCOUNT``.

The suite's orders are in the broker's own terms (:class:`SuiteTerms`, from ``terms()``): a
broker whose security ids are not free text (Polymarket's token ids) or whose prices live on
a grid of its own (Polymarket's 0.01 ticks in (0, 1)) overrides ``terms`` so that every case
places orders the broker's library accepts.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest

from actors.broker import Broker, BrokerError
from bridges.journal_sqlite import SqliteJournalStore
from messages.broker import BrokerOrderRequest, BrokerOrderStatus
from messages.broker_events import DealBooked
from messages.codec import decode
from messages.enums import OrderSide
from messages.fills import Fill
from messages.reconciliation import ReconcileRequest
from tests.broker_edge import ACCOUNT, Edge, wait_until

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
_IDS = itertools.count(1)


class BrokerDriver(Protocol):
    """The broker's side of an adapter (see the module's docstring)."""

    broker: Broker

    def fill(self, order_no: str, price: Decimal, size: Decimal) -> None: ...

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str: ...

    def seed_position(self, security_id: str, quantity: Decimal, avg_price: Decimal) -> None: ...

    def set_delivery(
        self, *, drop: bool = False, duplicate: bool = False, reorder: bool = False
    ) -> None: ...

    def disconnect(self) -> None: ...

    def reconnect(self) -> None: ...

    def idle(self, timeout_s: float) -> bool: ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class SuiteTerms:
    """The suite's orders in one broker's terms.

    ``security(name)`` is the broker's id for the suite's security ``name`` ("S1", "P07");
    ``price`` is a valid limit price and ``tick`` a valid step from it (the suite prices at
    most ten steps up or down); sizes are multiples of ``lot``.
    """

    price: Decimal = attrs.field(default=Decimal(10))
    tick: Decimal = attrs.field(default=Decimal("0.05"))
    lot: Decimal = attrs.field(default=Decimal(1))
    securities: dict[str, str] = attrs.field(factory=dict)

    def security(self, name: str) -> str:
        return self.securities.get(name, name)

    def at(self, steps: int) -> Decimal:
        """``price`` moved ``steps`` ticks."""
        return self.price + steps * self.tick

    def size(self, lots: int) -> Decimal:
        return lots * self.lot


def booked(path: Path) -> list[DealBooked]:
    store = SqliteJournalStore(path)
    try:
        return [
            decode(record.kind, record.payload)
            for record in store.read()
            if record.kind == "DealBooked"
        ]
    finally:
        store.close()


class BrokerAdapterSuite:
    """Subclass per adapter; implement ``make_driver``."""

    def make_driver(
        self, *, rate_limit_calls: int = 25, rate_limit_period_s: float = 5.0
    ) -> BrokerDriver:
        raise NotImplementedError

    def terms(self) -> SuiteTerms:
        """The broker's security ids, prices and sizes; free text, 10 and 1 by default."""
        return SuiteTerms()

    def refused_inside(self, _driver: BrokerDriver) -> int:
        """Refusals the adapter took and retried itself, out of the reconciler's sight (a
        broker library's own pacer); none by default."""
        return 0

    @pytest.fixture
    def t(self) -> SuiteTerms:
        return self.terms()

    @pytest.fixture
    def drivers(self) -> Iterator[list[BrokerDriver]]:
        made: list[BrokerDriver] = []
        yield made
        for driver in made:
            driver.close()

    @pytest.fixture
    def driver(self, drivers: list[BrokerDriver]) -> BrokerDriver:
        drivers.append(self.make_driver())
        return drivers[-1]

    def edge(self, driver: BrokerDriver, tmp_path: Path, **options: Any) -> Edge:
        """The runtime's broker edge around the adapter, once startup let trading begin."""
        edge = Edge(driver.broker, tmp_path / "journal.sqlite", idle=driver.idle, **options)
        edge.start()
        wait_until(edge.trading_enabled, timeout_s=30, what="startup")
        return edge

    # -- the adapter's own promises ------------------------------------------------------

    def test_callbacks_come_on_a_thread_of_the_brokers_with_the_protocols_types(
        self, driver: BrokerDriver, t: SuiteTerms
    ) -> None:
        calls: queue.Queue[tuple[str, tuple[Any, ...], int]] = queue.Queue()
        driver.broker.register_callbacks(
            lambda *args: calls.put(("order", args, threading.get_ident())),
            lambda *args: calls.put(("deal", args, threading.get_ident())),
        )
        request = BrokerOrderRequest(
            client_order_id="C1",
            account=ACCOUNT,
            security_id=t.security("S1"),
            side=BUY,
            price=t.at(2),
            size=t.size(4),
        )
        order_no = driver.broker.place_order(request)
        driver.fill(order_no, t.at(1), t.size(4))
        assert driver.idle(10)
        taken = []
        while not calls.empty():
            taken.append(calls.get_nowait())
        assert {thread for _, _, thread in taken}.isdisjoint({threading.get_ident()})
        deals = [args for kind, args, _ in taken if kind == "deal"]
        assert len(deals) == 1
        deal_order, seq_no, match_ts, security_id, side, price, size, *fee = deals[0]
        assert fee in ([], [None]) or type(fee[0]) is Decimal, "the broker's own fee, if any"
        assert (deal_order, security_id, side, price, size) == (
            order_no,
            t.security("S1"),
            BUY,
            t.at(1),
            t.size(4),
        )
        assert type(price) is Decimal
        assert type(size) is Decimal
        assert isinstance(seq_no, int)
        assert isinstance(match_ts, int)
        statuses = [args[2] for kind, args, _ in taken if kind == "order" and args[0] == order_no]
        assert statuses[-1] is BrokerOrderStatus.FILLED
        assert driver.broker.order_status(order_no).status is BrokerOrderStatus.FILLED
        driver.broker.unregister_callbacks()

    def test_a_cancel_for_an_order_number_the_broker_never_gave_is_a_broker_error(
        self, driver: BrokerDriver
    ) -> None:
        with pytest.raises(BrokerError):
            driver.broker.cancel_order("999777")

    def test_a_cancel_comes_back_as_a_cancelled_status_and_the_order_is_no_longer_open(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        edge = self.edge(driver, tmp_path)
        order_no = edge.submit("O1", t.security("S1"), BUY, str(t.size(5)), str(t.price))
        driver.broker.cancel_order(order_no)
        wait_until(
            lambda: driver.broker.order_status(order_no).status is BrokerOrderStatus.CANCELLED,
            what="the cancel",
        )
        assert driver.broker.list_open_orders(ACCOUNT).items == ()
        edge.stop()

    # -- through the runtime's machinery ---------------------------------------------------

    def test_every_deal_is_booked_once_when_every_callback_comes_twice(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        s1 = t.security("S1")
        edge = self.edge(driver, tmp_path, min_sync_s=3600)
        driver.set_delivery(duplicate=True)
        order_no = edge.submit("O1", s1, BUY, str(t.size(6)), str(t.price))
        for _ in range(3):
            driver.fill(order_no, t.price, t.size(2))
        edge.settle()
        # Whether the adapter (IB's, by execId) or the normalizer drops the repeats is the
        # adapter's business; that each deal and fill counts once is the runtime's.
        assert edge.book() == edge.truth() == {s1: t.size(6)}
        keys = Counter(deal.fill_id for deal in booked(tmp_path / "journal.sqlite"))
        assert len(keys) == 3
        assert max(keys.values()) == 1
        fills = [r for r in _drain(edge.reports) if type(r) is Fill]
        assert sorted(f.fill_id for f in fills) == sorted(keys)
        edge.stop()

    def test_deals_whose_callbacks_were_lost_are_booked_by_a_reconcile_once(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        s2 = t.security("S2")
        edge = self.edge(driver, tmp_path, gap_s=3600, min_sync_s=3600)
        order_no = edge.submit("O1", s2, SELL, str(t.size(5)), str(t.at(-2)))
        edge.settle()
        driver.set_delivery(drop=True)
        driver.fill(order_no, t.at(-2), t.size(2))
        driver.fill(order_no, t.at(-1), t.size(3))
        edge.settle()
        assert edge.book() == {}
        for attempt in range(2):
            edge.reconciler.tell(ReconcileRequest(reason=f"pass {attempt}"))
            wait_until(lambda: edge.book() == edge.truth(), what="the reconcile")
            edge.settle()
        assert edge.book() == edge.truth() == {s2: -t.size(5)}
        keys = Counter(deal.fill_id for deal in booked(tmp_path / "journal.sqlite"))
        assert len(keys) == 2
        assert max(keys.values()) == 1
        edge.stop()

    def test_callbacks_out_of_order_end_at_the_brokers_position_and_fill_our_order(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        s3 = t.security("S3")
        edge = self.edge(driver, tmp_path, min_sync_s=3600)
        driver.set_delivery(reorder=True)
        order_no = edge.submit("O1", s3, BUY, str(t.size(10)), str(t.at(4)))
        for steps in range(5):
            driver.fill(order_no, t.at(steps), t.size(2))
        edge.settle()
        assert edge.book() == edge.truth() == {s3: t.size(10)}
        fills = [r for r in _drain(edge.reports) if type(r) is Fill]
        assert (len(fills), sum(f.size for f in fills)) == (5, t.size(10))
        assert {f.order_id for f in fills} == {"O1"}
        assert sorted(f.price for f in fills) == [t.at(steps) for steps in range(5)]
        edge.stop()

    def test_a_deal_of_an_order_placed_elsewhere_is_booked_to_the_account(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        s9 = t.security("S9")
        edge = self.edge(driver, tmp_path)
        outside = driver.outside_order(s9, SELL, t.price, t.size(6))
        driver.fill(outside, t.price, t.size(2))
        wait_until(lambda: edge.book() == {s9: -t.size(2)}, what="the outside deal booked")
        driver.fill(outside, t.price, t.size(4))
        wait_until(lambda: edge.book() == {s9: -t.size(6)}, what="its next deal")
        edge.settle()
        assert edge.book() == edge.truth()
        assert not [r for r in _drain(edge.reports) if type(r) is Fill], "not our order"
        edge.stop()

    def test_after_a_reconnect_callbacks_are_registered_again_and_a_reconcile_books_the_gap(
        self, driver: BrokerDriver, t: SuiteTerms, tmp_path: Path
    ) -> None:
        s4 = t.security("S4")
        # No gap reconcile and no sync: only the reconnect's reconcile can find the deal.
        edge = self.edge(driver, tmp_path, gap_s=3600, min_sync_s=3600)
        order_no = edge.submit("O1", s4, BUY, str(t.size(8)), str(t.price))
        edge.settle()
        status = edge.venue.proxy().status
        reconciles = edge.reconciler.proxy().counters().get().reconciles
        driver.disconnect()
        driver.fill(order_no, t.price, t.size(3))  # while we are away: no callback reaches us
        driver.reconnect()
        wait_until(lambda: status().get().registrations == 2, what="registered again")
        wait_until(lambda: edge.book() == {s4: t.size(3)}, what="the reconnect's reconcile")
        assert edge.reconciler.proxy().counters().get().reconciles > reconciles
        driver.fill(order_no, t.price, t.size(5))
        wait_until(lambda: edge.book() == {s4: t.size(8)}, what="callbacks after re-registration")
        edge.settle()
        assert status().get().registrations == 2, "registered once per session"
        assert edge.book() == edge.truth()
        keys = Counter(deal.fill_id for deal in booked(tmp_path / "journal.sqlite"))
        assert len(keys) == 2
        assert max(keys.values()) == 1
        edge.stop()

    def test_startup_rebuilds_positions_through_a_tight_pacing_limit_never_reading_flat(
        self, drivers: list[BrokerDriver], t: SuiteTerms, tmp_path: Path
    ) -> None:
        drivers.append(self.make_driver(rate_limit_calls=1, rate_limit_period_s=0.2))
        driver = drivers[-1]
        truth = {t.security(f"P{number:02d}"): t.size(number + 1) for number in range(30)}
        for security_id, quantity in truth.items():
            driver.seed_position(security_id, quantity, t.at(1))
        p00 = t.security("P00")
        outside = driver.outside_order(p00, BUY, t.price, t.size(1))
        started = time.monotonic()
        edge = self.edge(driver, tmp_path)
        assert edge.book() == truth, "trading enabled only on the broker's positions"
        refused = edge.reconciler.proxy().counters().get().refused + self.refused_inside(driver)
        assert refused >= 1, "the limit must bite"
        assert edge.normalizer.proxy().counters().get().open_orders == 1
        assert time.monotonic() - started < 30
        driver.fill(outside, t.price, t.size(1))
        wait_until(lambda: edge.book()[p00] == t.size(2), what="the adopted order's deal")
        edge.stop()


def _drain(inbox: queue.Queue[Any]) -> list[Any]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items
