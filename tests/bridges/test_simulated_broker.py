"""SimulatedBroker: callbacks and their faults, the truth and its queries, the rate limit."""

from __future__ import annotations

import itertools
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from unittest.mock import ANY

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.broker import BrokerDisconnectedError, BrokerError, Page, RateLimitedError
from bridges.simulated_broker import SimulatedBroker
from messages.broker import BrokerFill, BrokerOrderRequest, BrokerOrderStatus, deal_key
from messages.enums import OrderSide, Outcome
from messages.market_data import BookLevel, InstrumentBook

pytestmark = pytest.mark.timeout(30)

D = Decimal
T = TypeVar("T")
ACCOUNT = "acc-1"
SECURITY = "ACME"  # no market: orders rest at the broker and tests fill them by hand
BUY = OrderSide.BUY
SELL = OrderSide.SELL
SUBMITTED = BrokerOrderStatus.SUBMITTED
PARTIALLY_FILLED = BrokerOrderStatus.PARTIALLY_FILLED
FILLED = BrokerOrderStatus.FILLED
CANCELLED = BrokerOrderStatus.CANCELLED
REJECTED = BrokerOrderStatus.REJECTED

Event = tuple[str, tuple[Any, ...]]
"""("order" | "deal", the callback's arguments)."""


class Recorder:
    """Callbacks that only enqueue what they were called with, and on which thread."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.threads: set[int] = set()

    def on_order(self, *args: Any) -> None:
        self.threads.add(threading.get_ident())
        self.events.put(("order", args))

    def on_deal(self, *args: Any) -> None:
        self.threads.add(threading.get_ident())
        self.events.put(("deal", args))

    def register(self, broker: SimulatedBroker) -> Recorder:
        broker.register_callbacks(self.on_order, self.on_deal)
        return self

    def take(self, count: int) -> list[Event]:
        return [self.events.get(timeout=5) for _ in range(count)]

    def rest(self) -> list[Event]:
        """What is queued now; call after ``wait_idle`` to get everything delivered."""
        taken = []
        while not self.events.empty():
            taken.append(self.events.get_nowait())
        return taken


def order_event(order_no: str, seq_no: int, status: BrokerOrderStatus, reason: str = "") -> Any:
    """Matches an order event whatever its broker timestamp."""
    return ("order", (order_no, seq_no, status, ANY, reason))


_CLIENT_IDS = itertools.count(1)


def request(
    side: OrderSide = BUY,
    price: str = "0.50",
    size: str = "10",
    security_id: str = SECURITY,
    client_order_id: str | None = None,
) -> BrokerOrderRequest:
    """A request under a client order id of its own unless one is given."""
    return BrokerOrderRequest(
        client_order_id=client_order_id or f"C{next(_CLIENT_IDS)}",
        account=ACCOUNT,
        security_id=security_id,
        side=side,
        price=D(price),
        size=D(size),
    )


def counting_clock(start: int = 1_000) -> Callable[[], int]:
    """A nanosecond clock that ticks by one per reading, so runs stamp alike."""
    return itertools.count(start).__next__


def all_pages(fetch: Callable[[int], Page[T]]) -> list[Page[T]]:
    pages = [fetch(0)]
    while (next_page := pages[-1].next_page) is not None:
        pages.append(fetch(next_page))
    return pages


def trade(broker: SimulatedBroker, side: OrderSide, price: str, size: str) -> str:
    """Place an order resting at the broker and fill all of it at ``price``."""
    order_no = broker.place_order(request(side, price, size))
    broker.execute(order_no, D(price), D(size))
    return order_no


@pytest.fixture
def make_broker() -> Iterator[Callable[..., SimulatedBroker]]:
    """Brokers on a counting clock; every one is closed after the test."""
    brokers: list[SimulatedBroker] = []

    def make(**kwargs: Any) -> SimulatedBroker:
        kwargs.setdefault("clock_ns", counting_clock())
        broker = SimulatedBroker(**kwargs)
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.close()


@pytest.fixture
def broker(make_broker: Callable[..., SimulatedBroker]) -> SimulatedBroker:
    return make_broker()


# -- callbacks ---------------------------------------------------------------------------


def test_an_order_reports_submitted_then_a_deal_and_a_status_per_fill(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size="10"))
    broker.execute(order_no, D("0.50"), D(4))
    broker.execute(order_no, D("0.49"), D(6))
    events = calls.take(5)
    assert events[0] == order_event(order_no, 1, SUBMITTED)
    assert events[1] == ("deal", (order_no, 2, ANY, SECURITY, BUY, D("0.50"), D(4)))
    assert events[2] == order_event(order_no, 3, PARTIALLY_FILLED)
    assert events[3] == ("deal", (order_no, 4, ANY, SECURITY, BUY, D("0.49"), D(6)))
    assert events[4] == order_event(order_no, 5, FILLED)
    deal_keys = {deal_key(*args[:3]) for kind, args in events if kind == "deal"}
    assert len(deal_keys) == 2
    assert broker.order_status(order_no).status is FILLED
    assert broker.order_status(order_no).filled == D(10)


def test_callbacks_run_on_the_brokers_thread_not_the_callers(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    broker.place_order(request())
    calls.take(1)
    assert calls.threads
    assert threading.get_ident() not in calls.threads


def test_a_perfect_broker_delivers_every_callback_once_in_order(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size="100"))
    for _ in range(100):
        broker.execute(order_no, D("0.50"), D(1))
    seq_nos = [args[1] for _kind, args in calls.take(201)]
    assert seq_nos == list(range(1, 202))
    assert broker.wait_idle(5)
    stats = broker.stats()
    assert (stats.emitted, stats.delivered, stats.pending) == (201, 201, 0)
    assert (stats.dropped, stats.duplicated, stats.silenced, stats.undelivered) == (0, 0, 0, 0)


def test_cancel_reports_cancelled_once_and_nothing_for_a_final_order(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    order_no = broker.place_order(request())
    broker.cancel_order(order_no)
    assert calls.take(2)[1] == order_event(order_no, 2, CANCELLED, "cancelled by request")
    broker.cancel_order(order_no)
    with pytest.raises(ValueError, match="cancelled"):
        broker.execute(order_no, D("0.50"), D(1))
    stats = broker.stats()
    assert (stats.emitted, stats.placed, stats.cancelled) == (2, 1, 2)
    assert broker.list_open_orders(ACCOUNT).items == ()


def test_cancelling_an_unknown_order_is_a_broker_error(broker: SimulatedBroker) -> None:
    with pytest.raises(BrokerError, match="unknown order"):
        broker.cancel_order("SIM-404")


def deliver_with_faults(
    broker: SimulatedBroker, fills: int
) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """Fill one order ``fills`` times; the deals and order updates delivered, by arguments."""
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size=str(fills)))
    for _ in range(fills):
        broker.execute(order_no, D("0.50"), D(1))
    assert broker.wait_idle(10)
    events = calls.rest()
    deals = Counter(args for kind, args in events if kind == "deal")
    orders = Counter(args for kind, args in events if kind == "order")
    return deals, orders


def test_drops_and_duplicates_match_the_records_deal_by_deal(
    make_broker: Callable[..., SimulatedBroker],
) -> None:
    broker = make_broker(seed=3, drop_rate=0.2, duplicate_rate=0.2, page_size=1000)
    deals, orders = deliver_with_faults(broker, fills=300)
    dropped, duplicated = set(broker.dropped_deals()), set(broker.duplicated_deals())
    assert dropped
    assert duplicated
    assert not dropped & duplicated
    delivered_by_key = {deal_key(*args[:3]): count for args, count in deals.items()}
    for fill in broker.list_fills(ACCOUNT, since_ns=0).items:
        expected = 0 if fill.key in dropped else 2 if fill.key in duplicated else 1
        assert delivered_by_key.get(fill.key, 0) == expected, fill.key
    dropped_orders, duplicated_orders = broker.dropped_orders(), broker.duplicated_orders()
    delivered_orders = {args[:2]: count for args, count in orders.items()}
    for order_no, seq_no in dropped_orders:
        assert (order_no, seq_no) not in delivered_orders
    for order_no, seq_no in duplicated_orders:
        assert delivered_orders[order_no, seq_no] == 2
    stats = broker.stats()
    assert stats.emitted == 601
    assert stats.dropped == len(dropped) + len(dropped_orders)
    assert stats.duplicated == len(duplicated) + len(duplicated_orders)
    assert stats.delivered == sum(deals.values()) + sum(orders.values())
    assert stats.emitted + stats.duplicated == stats.dropped + stats.delivered


def test_the_same_seed_makes_the_same_decisions_and_another_seed_others(
    make_broker: Callable[..., SimulatedBroker],
) -> None:
    def decisions(seed: int) -> tuple[tuple[str, ...], ...]:
        broker = make_broker(seed=seed, drop_rate=0.1, duplicate_rate=0.1)
        deliver_with_faults(broker, fills=200)
        return (broker.dropped_deals(), broker.duplicated_deals())

    assert decisions(11) == decisions(11)
    assert decisions(11) != decisions(12)


def test_a_delay_spread_reorders_callbacks_and_loses_none(
    make_broker: Callable[..., SimulatedBroker],
) -> None:
    broker = make_broker(seed=5, delay_s=(0.0, 0.05))
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size="50"))
    for _ in range(50):
        broker.execute(order_no, D("0.50"), D(1))
    seq_nos = [args[1] for _kind, args in calls.take(101)]
    assert seq_nos != sorted(seq_nos)
    assert sorted(seq_nos) == list(range(1, 102))


def test_the_delay_knob_changes_at_run_time(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    broker.set_delay((0.2, 0.2))
    order_no = broker.place_order(request(size="2"))
    assert broker.stats().pending == 1
    broker.set_delay((0.0, 0.0))
    broker.execute(order_no, D("0.50"), D(1))
    assert [args[1] for _kind, args in calls.take(3)] == [2, 3, 1]


def test_a_silent_broker_delivers_nothing_while_the_truth_moves_on(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size="10"))
    calls.take(1)
    broker.go_silent()
    broker.execute(order_no, D("0.50"), D(3))
    assert broker.stats().silenced == 2
    assert broker.order_status(order_no).filled == D(3)
    broker.speak()
    broker.execute(order_no, D("0.50"), D(2))
    assert calls.take(2) == [
        ("deal", (order_no, 4, ANY, SECURITY, BUY, D("0.50"), D(2))),
        order_event(order_no, 5, PARTIALLY_FILLED),
    ]
    assert broker.wait_idle(5)
    assert calls.rest() == []


DISCONNECTED_CALLS: dict[str, Callable[[SimulatedBroker], object]] = {
    "register_callbacks": lambda b: b.register_callbacks(Recorder().on_order, Recorder().on_deal),
    "place_order": lambda b: b.place_order(request()),
    "cancel_order": lambda b: b.cancel_order("SIM-1"),
    "list_positions": lambda b: b.list_positions(ACCOUNT),
    "list_open_orders": lambda b: b.list_open_orders(ACCOUNT),
    "list_fills": lambda b: b.list_fills(ACCOUNT, since_ns=0),
    "order_status": lambda b: b.order_status("SIM-1"),
}


@pytest.mark.parametrize("call", DISCONNECTED_CALLS.values(), ids=DISCONNECTED_CALLS.keys())
def test_every_call_raises_while_disconnected(
    broker: SimulatedBroker, call: Callable[[SimulatedBroker], object]
) -> None:
    broker.place_order(request())
    broker.disconnect()
    assert not broker.connected
    with pytest.raises(BrokerDisconnectedError):
        call(broker)
    stats = broker.stats()
    assert (stats.placed, stats.cancelled, stats.queries, stats.refused) == (1, 0, 0, 0)


def test_a_disconnect_loses_the_registration_until_callbacks_are_registered_again(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    order_no = broker.place_order(request(size="10"))
    calls.take(1)
    broker.disconnect()
    broker.execute(order_no, D("0.50"), D(1))
    broker.reconnect()
    assert broker.connected
    broker.execute(order_no, D("0.50"), D(1))
    assert broker.stats().undelivered == 4
    calls.register(broker)
    broker.execute(order_no, D("0.50"), D(1))
    assert calls.take(2) == [
        ("deal", (order_no, 6, ANY, SECURITY, BUY, D("0.50"), D(1))),
        order_event(order_no, 7, PARTIALLY_FILLED),
    ]
    assert broker.order_status(order_no).filled == D(3)


def test_callbacks_in_flight_at_a_disconnect_are_lost(
    make_broker: Callable[..., SimulatedBroker],
) -> None:
    broker = make_broker(delay_s=(0.1, 0.1))
    calls = Recorder().register(broker)
    broker.place_order(request())
    broker.disconnect()
    broker.reconnect()
    calls.register(broker)
    assert broker.wait_idle(5)
    assert calls.rest() == []
    stats = broker.stats()
    assert (stats.emitted, stats.delivered, stats.undelivered) == (1, 0, 1)


def test_unregistered_callbacks_are_not_called(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    broker.unregister_callbacks()
    broker.unregister_callbacks()
    broker.place_order(request())
    assert broker.wait_idle(5)
    assert calls.rest() == []
    assert broker.stats().undelivered == 1


def test_a_callback_that_raises_does_not_stop_later_deliveries(broker: SimulatedBroker) -> None:
    calls = Recorder()
    failures = iter([True])

    def on_deal(*args: Any) -> None:
        if next(failures, False):
            raise RuntimeError("callback bug")
        calls.on_deal(*args)

    broker.register_callbacks(calls.on_order, on_deal)
    order_no = broker.place_order(request(size="2"))
    broker.execute(order_no, D("0.50"), D(1))
    broker.execute(order_no, D("0.50"), D(1))
    kinds = [(kind, args[1]) for kind, args in calls.take(4)]
    assert kinds == [("order", 1), ("order", 3), ("deal", 4), ("order", 5)]
    stats = broker.stats()
    assert (stats.delivered, stats.callback_errors) == (5, 1)


# -- queries -----------------------------------------------------------------------------


def test_the_rate_limit_refuses_a_query_over_the_window_until_it_slides(
    make_broker: Callable[..., SimulatedBroker],
) -> None:
    now = [100.0]
    broker = make_broker(rate_limit_calls=3, rate_limit_period_s=5.0, monotonic=lambda: now[0])
    broker.list_positions(ACCOUNT)
    broker.list_open_orders(ACCOUNT)
    broker.list_fills(ACCOUNT, since_ns=0)
    with pytest.raises(RateLimitedError):
        broker.list_positions(ACCOUNT)
    now[0] = 104.9
    with pytest.raises(RateLimitedError):
        broker.order_status("SIM-1")
    order_no = broker.place_order(request())
    broker.cancel_order(order_no)
    now[0] = 105.0
    for _ in range(3):  # the refused calls took no slot
        broker.order_status(order_no)
    with pytest.raises(RateLimitedError):
        broker.list_positions(ACCOUNT)
    stats = broker.stats()
    assert (stats.queries, stats.refused) == (6, 3)


def test_queries_are_paged_in_a_stable_order(make_broker: Callable[..., SimulatedBroker]) -> None:
    broker = make_broker(page_size=2)
    order_nos = [broker.place_order(request(security_id=f"S{i}")) for i in range(5)]
    for order_no in order_nos:
        broker.execute(order_no, D("0.50"), D(1))

    open_orders = all_pages(lambda page: broker.list_open_orders(ACCOUNT, page))
    fills = all_pages(lambda page: broker.list_fills(ACCOUNT, since_ns=0, page=page))
    positions = all_pages(lambda page: broker.list_positions(ACCOUNT, page))

    for pages in (open_orders, fills, positions):
        assert [len(page.items) for page in pages] == [2, 2, 1]
        assert [page.next_page for page in pages] == [1, 2, None]
    assert [o.order_no for page in open_orders for o in page.items] == order_nos
    assert [f.order_no for page in fills for f in page.items] == order_nos
    assert [p.security_id for page in positions for p in page.items] == [f"S{i}" for i in range(5)]
    assert broker.list_fills(ACCOUNT, since_ns=0, page=3) == Page(items=(), next_page=None)
    with pytest.raises(ValueError, match="page"):
        broker.list_positions(ACCOUNT, page=-1)


def test_fills_are_listed_from_since_ns_and_per_account(broker: SimulatedBroker) -> None:
    order_no = broker.place_order(request(size="3"))
    keys = [broker.execute(order_no, D("0.50"), D(1)) for _ in range(3)]
    since = broker.list_fills(ACCOUNT, since_ns=0).items[1].match_ts
    assert [f.key for f in broker.list_fills(ACCOUNT, since_ns=since).items] == keys[1:]
    assert broker.list_fills("someone-else", since_ns=0).items == ()


def test_order_status_of_an_unknown_order_is_a_broker_error_not_none(
    broker: SimulatedBroker,
) -> None:
    with pytest.raises(BrokerError, match="unknown order"):
        broker.order_status("SIM-404")
    assert broker.stats().queries == 1


# -- truth -------------------------------------------------------------------------------


def position(broker: SimulatedBroker) -> tuple[Decimal, Decimal] | None:
    items = broker.list_positions(ACCOUNT).items
    if not items:
        return None
    (held,) = items
    return held.quantity, held.avg_price


def test_positions_net_at_average_cost_through_buys_partial_sells_and_flips(
    broker: SimulatedBroker,
) -> None:
    trade(broker, BUY, "0.40", "10")
    trade(broker, BUY, "0.50", "10")
    assert position(broker) == (D(20), D("0.45"))
    trade(broker, SELL, "0.60", "5")
    assert position(broker) == (D(15), D("0.45"))
    trade(broker, BUY, "0.30", "5")
    assert position(broker) == (D(20), D("0.4125"))
    trade(broker, SELL, "0.70", "25")
    assert position(broker) == (D(-5), D("0.70"))
    trade(broker, SELL, "0.60", "5")
    assert position(broker) == (D(-10), D("0.65"))
    trade(broker, BUY, "0.10", "4")
    assert position(broker) == (D(-6), D("0.65"))
    trade(broker, BUY, "0.20", "6")
    assert position(broker) is None


def test_an_average_that_does_not_terminate_rounds_to_28_digits(broker: SimulatedBroker) -> None:
    trade(broker, BUY, "1", "1")
    trade(broker, BUY, "0", "2")
    assert position(broker) == (D(3), D("0.3333333333333333333333333333"))


def test_execute_refuses_an_overfill_and_changes_nothing(broker: SimulatedBroker) -> None:
    order_no = broker.place_order(request(size="5"))
    broker.execute(order_no, D("0.50"), D(3))
    emitted = broker.stats().emitted
    with pytest.raises(ValueError, match="has 2 left"):
        broker.execute(order_no, D("0.50"), D(3))
    with pytest.raises(ValueError, match="size"):
        broker.execute(order_no, D("0.50"), D(0))
    assert broker.order_status(order_no).filled == D(3)
    assert len(broker.list_fills(ACCOUNT, since_ns=0).items) == 1
    assert broker.stats().emitted == emitted
    broker.execute(order_no, D("0.50"), D(2))
    with pytest.raises(ValueError, match="filled"):
        broker.execute(order_no, D("0.50"), D(1))
    with pytest.raises(ValueError, match="unknown order"):
        broker.execute("SIM-404", D("0.50"), D(1))


def test_seeded_positions_and_open_orders_show_in_queries_without_callbacks(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    broker.seed_position(ACCOUNT, SECURITY, D(-7), D("0.35"))
    order_no = broker.seed_open_order(ACCOUNT, "OTHER", BUY, D("0.20"), D(5), filled=D(2))
    assert broker.list_positions(ACCOUNT).items[0].quantity == D(-7)
    assert position(broker) == (D(-7), D("0.35"))
    (seeded,) = broker.list_open_orders(ACCOUNT).items
    assert (seeded.order_no, seeded.filled, seeded.status) == (order_no, D(2), PARTIALLY_FILLED)
    assert seeded.client_order_id is None
    assert broker.list_fills(ACCOUNT, since_ns=0).items == ()
    assert broker.stats().emitted == 0
    broker.execute(order_no, D("0.20"), D(3))
    assert calls.take(2)[1] == order_event(order_no, 2, FILLED)
    with pytest.raises(ValueError, match="filled"):
        broker.seed_open_order(ACCOUNT, SECURITY, BUY, D("0.20"), D(5), filled=D(5))
    broker.seed_position(ACCOUNT, SECURITY, D(0), D(0))
    assert broker.list_positions(ACCOUNT).items[0].security_id == "OTHER"


# -- the simulated venue -----------------------------------------------------------------


def venue_book(asks: tuple[tuple[str, str], ...], security_id: str = "m1-YES") -> InstrumentBook:
    return InstrumentBook(
        security_id=security_id,
        outcome=Outcome.YES,
        bids=(),
        asks=tuple(BookLevel(price=D(p), size=D(s)) for p, s in asks),
        synced=True,
        sequence=0,
    )


def test_orders_in_an_open_market_match_against_its_books(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    broker.open_market("m1", ("m1-YES", "m1-NO"))
    broker.update_book("m1", venue_book((("0.40", "5"), ("0.45", "10"))))
    taker = broker.place_order(request(BUY, "0.45", "8", security_id="m1-YES"))
    assert calls.take(5) == [
        order_event(taker, 1, SUBMITTED),
        ("deal", (taker, 2, ANY, "m1-YES", BUY, D("0.40"), D(5))),
        order_event(taker, 3, PARTIALLY_FILLED),
        ("deal", (taker, 4, ANY, "m1-YES", BUY, D("0.45"), D(3))),
        order_event(taker, 5, FILLED),
    ]
    resting = broker.place_order(request(BUY, "0.30", "8", security_id="m1-YES"))
    assert calls.take(1) == [order_event(resting, 1, SUBMITTED)]
    with pytest.raises(ValueError, match="venue"):
        broker.execute(resting, D("0.30"), D(8))
    broker.update_book("m1", venue_book((("0.30", "8"),)), now_ns=1_000_000)
    assert calls.take(2) == [
        ("deal", (resting, 2, 1_000_000, "m1-YES", BUY, D("0.30"), D(8))),
        order_event(resting, 3, FILLED),
    ]
    (held,) = broker.list_positions(ACCOUNT).items
    assert (held.security_id, held.quantity, held.avg_price) == ("m1-YES", D(16), D("0.359375"))
    assert [f.key for f in broker.list_fills(ACCOUNT, since_ns=1_000_000).items] == [
        deal_key(resting, 2, 1_000_000)
    ]


def test_closing_a_market_cancels_its_resting_orders_and_rejects_new_ones(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    broker.open_market("m1", ("m1-YES", "m1-NO"))
    broker.update_book("m1", venue_book((("0.60", "5"),)))
    resting = broker.place_order(request(BUY, "0.50", "5", security_id="m1-YES"))
    broker.close_market("m1")
    late = broker.place_order(request(BUY, "0.50", "5", security_id="m1-YES"))
    assert calls.take(3) == [
        order_event(resting, 1, SUBMITTED),
        order_event(resting, 2, CANCELLED, "market closed"),
        order_event(late, 1, REJECTED, "market m1 is closed"),
    ]
    assert broker.order_status(late).status is REJECTED
    assert broker.list_open_orders(ACCOUNT).items == ()


def test_an_order_the_venue_cannot_take_is_rejected_with_its_reason(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    broker.open_market("m1", ("m1-YES", "m1-NO"))
    order_no = broker.place_order(request(security_id="m1-NO"))
    assert calls.take(1) == [order_event(order_no, 1, REJECTED, "no book for m1-NO")]


def test_cancelling_a_venue_order_takes_it_off_the_book(broker: SimulatedBroker) -> None:
    calls = Recorder().register(broker)
    broker.open_market("m1", ("m1-YES", "m1-NO"))
    broker.update_book("m1", venue_book((("0.60", "5"),)))
    order_no = broker.place_order(request(BUY, "0.50", "5", security_id="m1-YES"))
    broker.cancel_order(order_no)
    broker.update_book("m1", venue_book((("0.50", "5"),)))
    assert calls.take(2)[1] == order_event(order_no, 2, CANCELLED, "cancelled by request")
    assert broker.list_fills(ACCOUNT, since_ns=0).items == ()


# -- the broker itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs",
    [{"drop_rate": -0.1}, {"duplicate_rate": 1.5}, {"delay_s": (0.2, 0.1)}, {"page_size": 0}],
)
def test_impossible_knobs_are_refused(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        SimulatedBroker(**knobs)


def test_stats_are_immutable_and_close_is_idempotent(broker: SimulatedBroker) -> None:
    stats = broker.stats()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.emitted = 1  # type: ignore[misc]
    broker.close()
    broker.close()
    assert broker.wait_idle(1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([BUY, SELL]),
            st.sampled_from(["A", "B"]),
            st.integers(1, 20),
            st.integers(0, 20),
            st.integers(1, 99),
        ),
        max_size=25,
    )
)
def test_net_positions_equal_the_signed_sum_of_listed_fills(
    orders: list[tuple[OrderSide, str, int, int, int]],
) -> None:
    broker = SimulatedBroker(page_size=7, rate_limit_calls=10_000, clock_ns=counting_clock())
    try:
        for side, security_id, size, fill, cents in orders:
            order_no = broker.place_order(request(side, "0.50", str(size), security_id))
            if fill:
                broker.execute(order_no, D(cents) / 100, D(min(fill, size)))
        fills = [
            f
            for page in all_pages(lambda page: broker.list_fills(ACCOUNT, since_ns=0, page=page))
            for f in page.items
        ]
        expected: defaultdict[str, Decimal] = defaultdict(Decimal)
        for f in fills:
            expected[f.security_id] += f.signed_size
        held = {
            p.security_id: p.quantity
            for page in all_pages(lambda page: broker.list_positions(ACCOUNT, page))
            for p in page.items
        }
        assert held == {security_id: q for security_id, q in expected.items() if q}
        assert len({f.key for f in fills}) == len(fills)
    finally:
        broker.close()


# -- its own file: a venue outlives the process that trades with it ------------------------


def test_a_broker_started_on_the_same_file_has_the_same_orders_deals_positions_and_numbers(
    make_broker: Callable[..., SimulatedBroker], tmp_path: Path
) -> None:
    state = tmp_path / "paper_broker.sqlite"
    first = make_broker(state_path=state)
    first.open_market("m1", ("m1-YES", "m1-NO"))
    first.update_book("m1", venue_book((("0.40", "5"),)), now_ns=10)
    taken = first.place_order(request(BUY, "0.45", "8", security_id="m1-YES"))  # 5 now, 3 rest
    resting = trade(first, SELL, "2", "3")
    outside = first.seed_open_order(ACCOUNT, "S9", SELL, D(3), D(6))
    first.cancel_order(outside)
    first.close()

    second = make_broker(state_path=state)

    assert [o.order_no for o in second.list_open_orders(ACCOUNT).items] == [taken]
    assert [second.order_status(n).status for n in (taken, resting, outside)] == [
        PARTIALLY_FILLED,
        FILLED,
        CANCELLED,
    ]
    assert [f.key for f in second.list_fills(ACCOUNT, 0).items] == [
        f.key for f in first_fills(state)
    ]
    assert {p.security_id: p.quantity for p in second.list_positions(ACCOUNT).items} == {
        "ACME": D(-3),
        "m1-YES": D(5),
    }
    assert second.place_order(request(BUY, "0.10", "1")) == "SIM-4"
    # The matching state came back too: the liquidity taken stays taken, the rest trades.
    calls = Recorder().register(second)
    second.update_book("m1", venue_book((("0.40", "5"),)), now_ns=20)
    assert calls.rest() == []
    second.update_book("m1", venue_book((("0.40", "9"),)), now_ns=30)
    assert calls.take(2) == [
        ("deal", (taken, 4, 30, "m1-YES", BUY, D("0.40"), D(3))),
        order_event(taken, 5, FILLED),
    ]


def first_fills(state: Path) -> list[BrokerFill]:
    """The deals a broker on ``state`` lists (a fresh broker, read and closed)."""
    reader = SimulatedBroker(state_path=state)
    try:
        return list(reader.list_fills(ACCOUNT, 0).items)
    finally:
        reader.close()


def test_an_order_placed_again_under_its_client_order_id_is_the_same_order_and_trades_once(
    make_broker: Callable[..., SimulatedBroker], tmp_path: Path
) -> None:
    state = tmp_path / "paper_broker.sqlite"
    first = make_broker(state_path=state)
    order_no = first.place_order(request(BUY, "0.50", "10", client_order_id="O7"))
    first.close()
    second = make_broker(state_path=state)
    calls = Recorder().register(second)

    assert second.place_order(request(BUY, "0.50", "10", client_order_id="O7")) == order_no
    assert second.stats().placed == 1
    assert len(second.list_open_orders(ACCOUNT).items) == 1
    assert calls.rest() == []


def test_a_listed_fill_names_the_client_order_id_its_order_was_placed_under(
    broker: SimulatedBroker,
) -> None:
    order_no = broker.place_order(request(BUY, "0.50", "10", client_order_id="O9"))
    broker.execute(order_no, D("0.50"), D(4))
    (fill,) = broker.list_fills(ACCOUNT, 0).items
    assert (fill.order_no, fill.client_order_id) == (order_no, "O9")


def test_a_book_older_than_or_the_same_as_the_last_one_is_ignored(
    broker: SimulatedBroker,
) -> None:
    calls = Recorder().register(broker)
    broker.open_market("m1", ("m1-YES", "m1-NO"))
    newer = attrs.evolve(venue_book((("0.40", "5"),)), sequence=7)
    broker.update_book("m1", newer, now_ns=1)
    resting = broker.place_order(request(BUY, "0.40", "8", security_id="m1-YES"))
    calls.take(3)  # submitted, the 5 it took, partially filled
    broker.update_book("m1", attrs.evolve(venue_book((("0.40", "9"),)), sequence=6), now_ns=2)
    broker.update_book("m1", newer, now_ns=3)
    assert calls.rest() == []
    broker.update_book("m1", attrs.evolve(venue_book((("0.40", "9"),)), sequence=8), now_ns=4)
    assert calls.take(2) == [
        ("deal", (resting, 4, 4, "m1-YES", BUY, D("0.40"), D(3))),
        order_event(resting, 5, FILLED),
    ]


def test_a_client_order_id_reused_with_other_terms_is_refused_and_nothing_is_placed(
    broker: SimulatedBroker,
) -> None:
    broker.place_order(request(BUY, "0.50", "10", client_order_id="O7"))
    with pytest.raises(BrokerError, match="O7 already names order SIM-1"):
        broker.place_order(request(BUY, "0.50", "11", client_order_id="O7"))
    assert broker.stats().placed == 1
