"""MatchingEngine: fills against displayed liquidity, resting orders, rejects, cancels, closing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridges.venue_matching import MatchingEngine, StagedFills, VenueEvent
from messages.enums import BookSide, OrderSide, Outcome
from messages.fills import Fill
from messages.market_data import BookLevel, InstrumentBook
from messages.order_commands import SubmitOrder
from messages.orders import CancelRejected, OrderAccepted, OrderCancelled, OrderRejected

MID = "m1"
YES = "yes-token"
NO = "no-token"
BUY = OrderSide.BUY
SELL = OrderSide.SELL
TS = 1_000

Levels = tuple[tuple[str, str], ...]


def levels(pairs: Levels) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price=Decimal(price), size=Decimal(size)) for price, size in pairs)


def book(
    *, bids: Levels = (), asks: Levels = (), security_id: str = YES, synced: bool = True
) -> InstrumentBook:
    """A feed view; levels are given best first, as OrderBook.view() publishes them."""
    return InstrumentBook(
        security_id=security_id,
        outcome=Outcome.YES if security_id == YES else Outcome.NO,
        bids=levels(bids),
        asks=levels(asks),
        synced=synced,
        sequence=0,
    )


def order(
    order_id: str,
    side: OrderSide = BUY,
    price: str = "0.50",
    size: str = "10",
    *,
    security_id: str = YES,
    market_id: str = MID,
) -> SubmitOrder:
    return SubmitOrder(
        correlation_id=f"signal-{order_id}",
        order_id=order_id,
        market_id=market_id,
        security_id=security_id,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
    )


def engine_with(*, bids: Levels = (), asks: Levels = (), **kwargs: Decimal) -> MatchingEngine:
    engine = MatchingEngine(**kwargs)
    engine.open_market(MID, (YES, NO))
    engine.update_book(MID, book(bids=bids, asks=asks), TS)
    return engine


def fill(order_id: str, n: int, side: OrderSide, price: str, size: str, *, ts: int = TS) -> Fill:
    """The fill the engine should produce, with the default fee rate of 0.001."""
    fee = (Decimal(price) * Decimal(size) / 1000).quantize(Decimal("0.000001"))
    return Fill(
        fill_id=f"{order_id}-{n}",
        ts_event=ts,
        order_id=order_id,
        market_id=MID,
        security_id=YES,
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        fee=fee,
    )


def fills(events: Sequence[VenueEvent]) -> list[Fill]:
    return [event for event in events if isinstance(event, Fill)]


def reasons(events: Sequence[VenueEvent]) -> list[tuple[type, str, str]]:
    """Non-fill events as (type, order id, reason) so they compare without message ids."""
    return [
        (type(event), event.order_id, getattr(event, "reason", ""))
        for event in events
        if not isinstance(event, Fill)
    ]


def test_buy_fills_in_full_at_an_ask_better_than_its_limit() -> None:
    engine = engine_with(asks=(("0.45", "20"), ("0.55", "5")))

    events = engine.submit(order("o1", BUY, "0.50", "10"), TS)

    assert reasons(events) == [(OrderAccepted, "o1", "")]
    assert isinstance(events[0], OrderAccepted)
    assert fills(events) == [fill("o1", 1, BUY, "0.45", "10")]
    assert events[0].ts_event == TS
    assert engine.resting_orders() == ()


def test_sell_fills_in_full_at_a_bid_better_than_its_limit() -> None:
    engine = engine_with(bids=(("0.48", "20"), ("0.40", "5")))

    events = engine.submit(order("o1", SELL, "0.45", "10"), TS)

    assert fills(events) == [fill("o1", 1, SELL, "0.48", "10")]
    assert engine.resting_orders() == ()


def test_partial_fill_rests_and_the_rest_fills_as_liquidity_appears() -> None:
    engine = engine_with(asks=(("0.50", "4"),))

    first = engine.submit(order("o1", BUY, "0.50", "10"), TS)
    assert fills(first) == [fill("o1", 1, BUY, "0.50", "4")]
    assert engine.resting_orders() == ("o1",)

    assert engine.update_book(MID, book(asks=(("0.50", "4"),)), TS + 1) == []
    later = engine.update_book(MID, book(asks=(("0.49", "2"), ("0.50", "9"))), TS + 2)

    assert later == [
        fill("o1", 2, BUY, "0.49", "2", ts=TS + 2),
        fill("o1", 3, BUY, "0.50", "4", ts=TS + 2),
    ]
    assert engine.resting_orders() == ()


def test_order_without_liquidity_at_its_limit_rests_then_fills_when_liquidity_appears() -> None:
    engine = engine_with(asks=(("0.60", "100"),))

    events = engine.submit(order("o1", BUY, "0.50", "10"), TS)

    assert reasons(events) == [(OrderAccepted, "o1", "")]
    assert fills(events) == []
    assert engine.resting_orders() == ("o1",)
    later = engine.update_book(MID, book(asks=(("0.50", "30"), ("0.60", "100"))), TS + 5)
    assert later == [fill("o1", 1, BUY, "0.50", "10", ts=TS + 5)]
    assert engine.resting_orders() == ()


def test_multi_level_sweep_gives_one_fill_per_level_best_first_and_stops_at_the_limit() -> None:
    engine = engine_with(asks=(("0.47", "2"), ("0.48", "3"), ("0.50", "4"), ("0.51", "100")))

    events = engine.submit(order("o1", BUY, "0.50", "20"), TS)

    assert fills(events) == [
        fill("o1", 1, BUY, "0.47", "2"),
        fill("o1", 2, BUY, "0.48", "3"),
        fill("o1", 3, BUY, "0.50", "4"),
    ]
    assert engine.resting_orders() == ("o1",)


def test_sell_sweep_takes_the_highest_bids_first() -> None:
    engine = engine_with(bids=(("0.52", "1"), ("0.51", "1"), ("0.49", "9")))

    events = engine.submit(order("o1", SELL, "0.50", "3"), TS)

    assert fills(events) == [fill("o1", 1, SELL, "0.52", "1"), fill("o1", 2, SELL, "0.51", "1")]
    assert engine.resting_orders() == ("o1",)


def test_same_displayed_liquidity_is_not_filled_twice_by_two_orders() -> None:
    engine = engine_with(asks=(("0.50", "5"),))

    first = engine.submit(order("o1", BUY, "0.50", "3"), TS)
    second = engine.submit(order("o2", BUY, "0.50", "3"), TS)
    unchanged = engine.update_book(MID, book(asks=(("0.50", "5"),)), TS + 1)

    assert fills(first) == [fill("o1", 1, BUY, "0.50", "3")]
    assert fills(second) == [fill("o2", 1, BUY, "0.50", "2")]
    assert unchanged == []
    assert engine.resting_orders() == ("o2",)


def test_a_changed_level_size_is_fresh_liquidity() -> None:
    engine = engine_with(asks=(("0.50", "5"),))
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.submit(order("o2", BUY, "0.50", "5"), TS)

    events = engine.update_book(MID, book(asks=(("0.50", "3"),)), TS + 1)

    assert events == [fill("o2", 1, BUY, "0.50", "3", ts=TS + 1)]
    assert engine.resting_orders() == ("o2",)


def test_a_level_that_disappears_and_returns_with_the_same_size_is_fresh_liquidity() -> None:
    engine = engine_with(asks=(("0.50", "5"),))
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.submit(order("o2", BUY, "0.50", "5"), TS)

    assert engine.update_book(MID, book(asks=(("0.60", "1"),)), TS + 1) == []
    events = engine.update_book(MID, book(asks=(("0.50", "5"),)), TS + 2)

    assert events == [fill("o2", 1, BUY, "0.50", "5", ts=TS + 2)]


def test_resting_orders_fill_in_submission_order() -> None:
    engine = engine_with()
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.submit(order("o2", BUY, "0.55", "5"), TS)
    engine.submit(order("o3", BUY, "0.50", "5"), TS)

    events = engine.update_book(MID, book(asks=(("0.50", "7"),)), TS + 1)

    assert events == [
        fill("o1", 1, BUY, "0.50", "5", ts=TS + 1),
        fill("o2", 1, BUY, "0.50", "2", ts=TS + 1),
    ]
    assert engine.resting_orders() == ("o2", "o3")


def test_book_for_one_instrument_does_not_fill_orders_on_the_other() -> None:
    engine = engine_with()
    engine.update_book(MID, book(security_id=NO), TS)
    engine.submit(order("o1", BUY, "0.50", "5", security_id=NO), TS)

    assert engine.update_book(MID, book(asks=(("0.40", "50"),)), TS + 1) == []
    assert engine.resting_orders() == ("o1",)


def test_unsynced_book_offers_no_liquidity_until_a_synced_one_arrives() -> None:
    engine = engine_with(asks=(("0.50", "5"),))
    engine.submit(order("o1", BUY, "0.50", "2"), TS)

    assert engine.update_book(MID, book(asks=(("0.50", "9"),), synced=False), TS + 1) == []
    assert fills(engine.submit(order("o2", BUY, "0.50", "10"), TS + 2)) == []
    resynced = engine.update_book(MID, book(asks=(("0.50", "5"),)), TS + 3)

    assert resynced == [fill("o2", 1, BUY, "0.50", "3", ts=TS + 3)]


@pytest.mark.parametrize(
    ("submitted", "reason"),
    [
        (order("o1"), "duplicate order id"),
        (order("o9", market_id="m-unknown"), "unknown market m-unknown"),
        (order("o9", market_id="m0"), "market m0 is closed"),
        (order("o9", security_id="other-token"), "security other-token is not in market m1"),
        (order("o9", security_id=NO), f"no book for {NO}"),
        (order("o9", price="0"), "price 0 is outside (0, 1]"),
        (order("o9", price="1.01"), "price 1.01 is outside (0, 1]"),
    ],
    ids=[
        "duplicate",
        "unknown-market",
        "closed-market",
        "foreign-security",
        "no-book",
        "zero",
        "high",
    ],
)
def test_submit_is_rejected_with_a_reason(submitted: SubmitOrder, reason: str) -> None:
    engine = engine_with(asks=(("0.60", "5"),))
    engine.open_market("m0", ("old-token",))
    engine.close_market("m0", TS)
    engine.submit(order("o1"), TS)

    events = engine.submit(submitted, TS + 1)

    assert reasons(events) == [(OrderRejected, submitted.order_id, reason)]
    assert events[0].ts_event == TS + 1
    assert engine.resting_orders() == ("o1",)


def test_price_equal_to_max_price_is_accepted() -> None:
    engine = engine_with(asks=(("1", "5"),))

    events = engine.submit(order("o1", BUY, "1", "5"), TS)

    assert fills(events) == [fill("o1", 1, BUY, "1", "5")]


def test_a_rejected_order_id_cannot_be_reused() -> None:
    engine = engine_with(asks=(("0.50", "5"),))
    engine.submit(order("o1", price="2"), TS)

    events = engine.submit(order("o1"), TS)

    assert reasons(events) == [(OrderRejected, "o1", "duplicate order id")]
    assert reasons(engine.cancel("o1", TS)) == [(CancelRejected, "o1", "order was rejected")]


def test_cancel_resting_order_cancels_it_and_it_never_fills_afterwards() -> None:
    engine = engine_with()
    engine.submit(order("o1", BUY, "0.50", "5"), TS)

    events = engine.cancel("o1", TS + 1)

    assert reasons(events) == [(OrderCancelled, "o1", "cancelled by request")]
    assert events[0].ts_event == TS + 1
    assert engine.resting_orders() == ()
    assert engine.update_book(MID, book(asks=(("0.50", "50"),)), TS + 2) == []
    assert reasons(engine.cancel("o1", TS + 3)) == [(CancelRejected, "o1", "order is cancelled")]


def test_cancel_partially_filled_resting_order_cancels_the_rest() -> None:
    engine = engine_with(asks=(("0.50", "2"),))
    engine.submit(order("o1", BUY, "0.50", "5"), TS)

    assert reasons(engine.cancel("o1", TS)) == [(OrderCancelled, "o1", "cancelled by request")]


def test_cancel_filled_order_is_rejected() -> None:
    engine = engine_with(asks=(("0.50", "20"),))
    engine.submit(order("o1", BUY, "0.50", "5"), TS)

    events = engine.cancel("o1", TS + 1)

    assert reasons(events) == [(CancelRejected, "o1", "order is filled")]


def test_cancel_of_an_order_filled_while_resting_is_rejected() -> None:
    engine = engine_with()
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.update_book(MID, book(asks=(("0.50", "5"),)), TS + 1)

    assert reasons(engine.cancel("o1", TS + 2)) == [(CancelRejected, "o1", "order is filled")]


def test_cancel_unknown_order_is_rejected() -> None:
    engine = engine_with()

    assert reasons(engine.cancel("nope", TS)) == [(CancelRejected, "nope", "unknown order")]


def test_close_market_cancels_its_resting_orders_and_rejects_new_ones() -> None:
    engine = engine_with()
    engine.open_market("m2", ("m2-yes",))
    engine.update_book("m2", book(security_id="m2-yes"), TS)
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.submit(order("o2", BUY, "0.50", "5", security_id="m2-yes", market_id="m2"), TS)
    engine.submit(order("o3", SELL, "0.60", "5"), TS)

    closed = engine.close_market(MID, TS + 1)

    assert reasons(closed) == [
        (OrderCancelled, "o1", "market closed"),
        (OrderCancelled, "o3", "market closed"),
    ]
    assert engine.resting_orders() == ("o2",)
    assert reasons(engine.submit(order("o4"), TS + 2)) == [
        (OrderRejected, "o4", "market m1 is closed")
    ]
    assert engine.update_book(MID, book(asks=(("0.50", "50"),)), TS + 3) == []
    assert engine.close_market(MID, TS + 4) == []


def test_a_closed_markets_securities_can_trade_in_a_new_market() -> None:
    engine = engine_with(asks=(("0.50", "5"),))
    engine.submit(order("o1", BUY, "0.50", "5"), TS)
    engine.close_market(MID, TS)

    engine.open_market("m2", (YES,))

    assert reasons(engine.submit(order("o2", market_id="m2"), TS)) == [
        (OrderRejected, "o2", f"no book for {YES}")
    ]


def test_reopening_an_open_market_with_the_same_instruments_changes_nothing() -> None:
    engine = engine_with()
    engine.submit(order("o1"), TS)

    engine.open_market(MID, (NO, YES))

    assert engine.resting_orders() == ("o1",)


def test_lifecycle_noise_from_the_feed_is_ignored() -> None:
    engine = engine_with()

    assert engine.update_book("m-unknown", book(asks=(("0.5", "1"),)), TS) == []
    assert engine.close_market("m-unknown", TS) == []
    assert reasons(engine.submit(order("o1", market_id="m-unknown"), TS)) == [
        (OrderRejected, "o1", "unknown market m-unknown")
    ]


def test_engine_refuses_inputs_that_only_a_caller_bug_could_produce() -> None:
    engine = engine_with()
    engine.open_market("m0", ("old-token",))
    engine.close_market("m0", TS)

    with pytest.raises(ValueError, match="already opened"):
        engine.open_market(MID, ("x",))
    with pytest.raises(ValueError, match="already opened"):
        engine.open_market("m0", ("old-token",))
    with pytest.raises(ValueError, match="already trade"):
        engine.open_market("m2", (NO,))
    with pytest.raises(ValueError, match="not in market"):
        engine.update_book(MID, book(security_id="other-token"), TS)
    with pytest.raises(ValueError, match="fee_quantum"):
        MatchingEngine(fee_quantum=Decimal(0))


@pytest.mark.parametrize(
    ("price", "size", "fee"),
    [
        ("0.125", "0.1", "0.000013"),  # 0.0000125: half up, where half-even would give ...12
        ("0.5", "0.0249", "0.000012"),  # 0.00001245 rounds down
        ("0.5", "10", "0.005000"),
    ],
)
def test_fee_is_price_times_size_times_rate_rounded_half_up_to_the_quantum(
    price: str, size: str, fee: str
) -> None:
    engine = engine_with(asks=((price, "100"),))

    (got,) = fills(engine.submit(order("o1", BUY, price, size), TS))

    assert got.fee == Decimal(fee)


def test_fee_rate_and_quantum_are_configurable() -> None:
    engine = engine_with(
        asks=(("0.5", "100"),), fee_rate=Decimal("0.02"), fee_quantum=Decimal("0.01")
    )

    (got,) = fills(engine.submit(order("o1", BUY, "0.5", "0.5"), TS))

    assert got.fee == Decimal("0.01")  # 0.005 rounds half up


# -- property: random books and order streams ------------------------------------------------

SECURITIES = (YES, NO)
prices = st.integers(min_value=1, max_value=10).map(lambda cents: Decimal(cents) / 100)
limits = st.integers(min_value=0, max_value=12).map(lambda cents: Decimal(cents) / 100)
sizes = st.integers(min_value=1, max_value=40).map(lambda quarters: Decimal(quarters) / 4)
book_sides = st.dictionaries(prices, sizes, max_size=4)

book_actions = st.tuples(
    st.just("book"), st.sampled_from(SECURITIES), book_sides, book_sides, st.booleans()
)
submit_actions = st.tuples(
    st.just("submit"),
    st.sampled_from(SECURITIES),
    st.sampled_from(OrderSide),
    limits,
    sizes,
)
cancel_actions = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30))
actions = st.lists(
    st.one_of(book_actions, book_actions, submit_actions, submit_actions, cancel_actions),
    max_size=60,
)


class Referee:
    """Replays what the engine was told and checks every event it returns against it.

    Liquidity is counted per (security, book side, price): a level adds its size each time a
    synced book shows it with a size other than the last one shown (or after it vanished).
    """

    def __init__(self) -> None:
        self.orders: dict[str, SubmitOrder] = {}
        self.closed: set[str] = set()
        self.filled: dict[str, Decimal] = defaultdict(Decimal)
        self.fill_ids: set[str] = set()
        self.books: dict[str, InstrumentBook] = {}
        self.shown: dict[tuple[str, BookSide, Decimal], Decimal] = {}
        self.displayed: dict[tuple[str, BookSide, Decimal], Decimal] = defaultdict(Decimal)
        self.taken: dict[tuple[str, BookSide, Decimal], Decimal] = defaultdict(Decimal)

    def saw_book(self, view: InstrumentBook) -> None:
        self.books[view.security_id] = view
        if not view.synced:
            return
        now = {(view.security_id, BookSide.BID, level.price): level.size for level in view.bids}
        now.update({(view.security_id, BookSide.ASK, lvl.price): lvl.size for lvl in view.asks})
        for key, size in now.items():
            if self.shown.get(key) != size:
                self.displayed[key] += size
        self.shown = {k: v for k, v in self.shown.items() if k[0] != view.security_id} | now

    def check(self, events: Sequence[VenueEvent], ts: int) -> None:
        for event in events:
            if isinstance(event, Fill):
                self.check_fill(event, ts)
            elif isinstance(event, OrderRejected | OrderCancelled):
                self.closed.add(event.order_id)
        for order_id, placed in self.orders.items():
            if self.filled[order_id] == placed.size:
                self.closed.add(order_id)

    def check_fill(self, event: Fill, ts: int) -> None:
        placed = self.orders[event.order_id]
        assert event.order_id not in self.closed
        assert event.fill_id not in self.fill_ids
        self.fill_ids.add(event.fill_id)
        assert (event.security_id, event.side, event.ts_event) == (
            placed.security_id,
            placed.side,
            ts,
        )
        if placed.side is BUY:
            assert event.price <= placed.price
        else:
            assert event.price >= placed.price
        self.filled[event.order_id] += event.size
        assert self.filled[event.order_id] <= placed.size
        assert self.books[placed.security_id].synced
        side = BookSide.ASK if placed.side is BUY else BookSide.BID
        key = (placed.security_id, side, event.price)
        assert key in self.shown
        self.taken[key] += event.size
        assert self.taken[key] <= self.displayed[key]


def as_levels(sizes_by_price: dict[Decimal, Decimal], *, descending: bool) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(price=price, size=sizes_by_price[price])
        for price in sorted(sizes_by_price, reverse=descending)
    )


@settings(max_examples=150, deadline=None)
@given(actions=actions)
def test_random_streams_never_overfill_never_trade_through_a_limit_or_reuse_liquidity(
    actions: list[tuple],
) -> None:
    engine = MatchingEngine(max_price=Decimal("0.10"))
    engine.open_market(MID, SECURITIES)
    referee = Referee()

    for ts, action in enumerate(actions):
        if action[0] == "book":
            _, sid, bids, asks, synced = action
            view = InstrumentBook(
                security_id=sid,
                outcome=Outcome.YES if sid == YES else Outcome.NO,
                bids=as_levels(bids, descending=True),
                asks=as_levels(asks, descending=False),
                synced=synced,
                sequence=ts,
            )
            referee.saw_book(view)
            events = engine.update_book(MID, view, ts)
            assert all(isinstance(event, Fill) for event in events)
        elif action[0] == "submit":
            _, sid, side, limit, size = action
            new = order(f"o{len(referee.orders)}", side, str(limit), str(size), security_id=sid)
            referee.orders[new.order_id] = new
            events = engine.submit(new, ts)
            assert isinstance(events[0], OrderAccepted | OrderRejected)
            assert isinstance(events[0], OrderAccepted) or len(events) == 1
        else:
            order_ids = list(referee.orders) or ["none"]
            events = engine.cancel(order_ids[action[1] % len(order_ids)], ts)
            assert len(events) == 1
        referee.check(events, ts)
        assert set(engine.resting_orders()) == set(referee.orders) - referee.closed


def test_staged_fills_take_30_percent_at_once_and_the_rest_after_the_delay() -> None:
    engine = MatchingEngine(staged=StagedFills(delay_ns=5))
    engine.open_market(MID, (YES, NO))
    engine.update_book(MID, book(asks=(("0.45", "100"),)), TS)

    first = engine.submit(order("o1", BUY, "0.50", "45"), TS)
    assert fills(first) == [fill("o1", 1, BUY, "0.45", "13")]  # 30 % of 45, whole shares
    assert engine.update_book(MID, book(asks=(("0.45", "100"),)), TS + 4) == []
    later = engine.update_book(MID, book(asks=(("0.45", "100"),)), TS + 5)

    assert later == [fill("o1", 2, BUY, "0.45", "32", ts=TS + 5)]
    assert engine.resting_orders() == ()


def test_the_staged_remainder_takes_only_what_the_first_part_left_of_a_level() -> None:
    engine = MatchingEngine(staged=StagedFills(delay_ns=5))
    engine.open_market(MID, (YES, NO))
    engine.update_book(MID, book(asks=(("0.45", "20"),)), TS)

    assert fills(engine.submit(order("o1", BUY, "0.50", "10.5"), TS)) == [
        fill("o1", 1, BUY, "0.45", "3.1")
    ]
    later = engine.update_book(MID, book(asks=(("0.45", "20"),)), TS + 9)

    assert later == [fill("o1", 2, BUY, "0.45", "7.4", ts=TS + 9)]


@given(
    size=st.integers(min_value=1, max_value=500),
    shown=st.integers(min_value=1, max_value=500),
)
@settings(max_examples=50, deadline=None)
def test_a_staged_order_never_fills_more_early_than_its_first_part_nor_more_than_staged_total(
    size: int, shown: int
) -> None:
    engine = MatchingEngine(staged=StagedFills(delay_ns=5))
    engine.open_market(MID, (YES, NO))
    engine.update_book(MID, book(asks=(("0.45", str(shown)),)), TS)
    early = sum(f.size for f in fills(engine.submit(order("o1", BUY, "0.50", str(size)), TS)))
    late = sum(
        f.size for f in fills(engine.update_book(MID, book(asks=(("0.45", "999"),)), TS + 5))
    )

    assert early == min(Decimal(size * 3 // 10), Decimal(shown))
    assert early + late == size
