"""The journal codec: every kind comes back equal, same id and clock, digit for digit."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import messages
from messages import (
    broker,
    broker_events,
    commands,
    journal,
    market_data,
    markets,
    mementos,
    orders,
    paper_broker,
    positions,
    reconciliation,
    risk,
    stats,
)
from messages.codec import KINDS, CodecError, decode, encode, kind_of
from messages.enums import BookSide, OrderSide, OrderStatus, Outcome, PositionStatus
from messages.fills import Fill
from messages.signals import TradeSignal
from tests.stubs import definition, levels

D = Decimal
BUY = OrderSide.BUY

FILL = Fill(
    fill_id="F1",
    ts_init=111,
    ts_event=7,
    order_id="O1",
    market_id="m1",
    security_id="m1-YES",
    side=BUY,
    price=D("0.40"),
    size=D("10"),
    fee=D("0.01"),
)
SIGNAL = TradeSignal(
    ts_init=112,
    market_id="m1",
    security_id="m1-YES",
    side=BUY,
    price=D("0.40"),
    size=D("10"),
    priority=1,
    reason="arbitrage",
)
INSTRUMENT_BOOK = market_data.InstrumentBook(
    security_id="m1-YES",
    outcome=Outcome.YES,
    bids=levels(("0.39", "5")),
    asks=levels(("0.41", "7"), ("0.42", "1")),
    synced=True,
    sequence=3,
)
LEG = positions.LegSnapshot(
    security_id="m1-YES",
    quantity=D("-4"),
    cost=D("-1.6"),
    avg_open_price=D("0.4"),
    realized_pnl=D("0.25"),
    fees=D("0.01"),
    mark=None,
    unrealized_pnl=D("0"),
    pending_buy=False,
    pending_sell=True,
)
POSITION = positions.PositionSnapshot(
    ts_init=113,
    position_id="P1",
    market_id="m1",
    account="paper",
    strategy="default",
    status=PositionStatus.OPEN,
    version=4,
    legs=(LEG,),
)
ORDER = orders.OrderSnapshot(
    order_id="O1",
    correlation_id="S1",
    market_id="m1",
    security_id="m1-YES",
    account="paper",
    strategy="default",
    side=BUY,
    price=D("0.40"),
    size=D("10"),
    filled=D("10"),
    avg_fill_price=D("0.40"),
    fees=D("0.01"),
    status=OrderStatus.FILLED,
    fill_count=1,
    last_fill_id="F1",
    version=2,
)
LEG_MEMENTO = mementos.LegMemento(
    security_id="m1-YES",
    quantity=D("10"),
    cost=D("4.000"),
    realized_pnl=D("-0.3333333333333333333333333333"),
    fees=D("0.01"),
    mark=D("0.41"),
)


def _examples() -> list[object]:
    """One instance of every kind, with non-default values wherever a field allows one."""
    return [
        FILL,
        SIGNAL,
        INSTRUMENT_BOOK,
        LEG,
        POSITION,
        ORDER,
        LEG_MEMENTO,
        stats.ActorStats(kind="OrderActor", handled=3, scheduled=1),
        stats.GetStats(),
        commands.ArchiveMarket(ts_init=1, market_id="m1"),
        commands.CancelOrder(ts_init=2, order_id="O1", reason="stale"),
        commands.ClearPending(order_id="O1"),
        commands.GetSnapshot(),
        commands.ListRoutedOrders(),
        commands.ListPositions(),
        commands.MarkPending(order_id="O1", security_id="m1-YES", side=OrderSide.SELL),
        commands.MarketDrained(market_id="m1"),
        commands.OrderClosed(order_id="O1", market_id="m1"),
        commands.SettlePosition(
            ts_init=3, market_id="m1", winning_security_id="m1-NO", payout=D("1")
        ),
        commands.SubmitOrder(
            ts_init=4,
            correlation_id="S1",
            order_id="O1",
            market_id="m1",
            security_id="m1-YES",
            side=BUY,
            price=D("0"),
            size=D("1E+2"),
        ),
        commands.Sync(),
        commands.InjectFault(reason="chaos"),
        journal.CancelRequested(ts_init=5, order_id="O1", reason="switch"),
        journal.FillApplied(ts_init=6, position_id="P1", fill=FILL),
        journal.MarketArchived(ts_init=7, market_id="m1"),
        journal.OrderCreated(
            ts_init=8,
            order_id="O1",
            correlation_id="S1",
            market_id="m1",
            security_id="m1-YES",
            account="paper",
            strategy="default",
            side=BUY,
            price=D("0.40"),
            size=D("10"),
        ),
        journal.PositionCreated(
            ts_init=9,
            position_id="P1",
            market_id="m1",
            account="paper",
            strategy="default",
            security_ids=("m1-YES", "m1-NO"),
        ),
        journal.PositionSettlement(
            ts_init=10,
            position_id="P1",
            market_id="m1",
            winning_security_id="m1-YES",
            payout=D("1.00"),
        ),
        journal.StepCommitted(ts_init=11, step=41),
        journal.StepStarted(ts_init=12, step=42, atomic=True),
        market_data.BookLevel(price=D("0.5"), size=D("3")),
        market_data.BookSnapshot(
            ts_init=13,
            ts_event=2,
            market_id="m1",
            security_id="m1-YES",
            sequence=0,
            bids=levels(("0.39", "5"), ("0.38", "2")),
            asks=(),
        ),
        market_data.MarketSnapshot(
            ts_init=14, ts_event=3, market_id="m1", version=9, books=(INSTRUMENT_BOOK,)
        ),
        market_data.PriceChange(
            ts_init=15,
            ts_event=4,
            market_id="m1",
            security_id="m1-YES",
            sequence=1,
            side=BookSide.ASK,
            price=D("0.41"),
            size=D("0"),
        ),
        markets.Instrument(security_id="m1-NO", outcome=Outcome.NO),
        definition("m1"),
        markets.MarketClosed(ts_init=16, ts_event=5, market_id="m1"),
        markets.MarketOpened(ts_init=17, ts_event=6, definition=definition("m2")),
        markets.MarketResolved(
            ts_init=18, ts_event=7, market_id="m1", winning_security_id="m1-YES"
        ),
        orders.CancelDenied(ts_init=19, correlation_id="S1", order_id="O1", reason="FILLED"),
        orders.CancelRejected(ts_init=20, ts_event=8, order_id="O1", reason="too late"),
        orders.FillRefused(
            ts_init=21,
            correlation_id="O1",
            fill=FILL,
            reason=orders.FillRefusal.OVERFILL,
            detail="past size",
        ),
        orders.OrderAccepted(ts_init=22, ts_event=9, order_id="O1"),
        orders.OrderCancelled(ts_init=23, ts_event=10, order_id="O1", reason="market closed"),
        orders.OrderDenied(ts_init=24, correlation_id=SIGNAL.id, signal=SIGNAL, reason="pending"),
        orders.OrderRejected(ts_init=25, ts_event=11, order_id="O1", reason="no liquidity"),
        orders.OrderUpdated(ts_init=26, correlation_id="S1", cause="FILL", order=ORDER),
        positions.PositionArchived(ts_init=27, position=POSITION),
        positions.PositionDelta(
            ts_init=28,
            correlation_id="O1",
            position_id="P1",
            market_id="m1",
            version=5,
            fill=FILL,
            leg=LEG,
        ),
        positions.PositionOpened(ts_init=29, position=POSITION),
        positions.PositionSettled(ts_init=30, position=POSITION),
        mementos.OrderMemento(
            order_id="O1",
            correlation_id="S1",
            market_id="m1",
            security_id="m1-YES",
            account="paper",
            strategy="default",
            side=BUY,
            price=D("0.40"),
            size=D("10"),
            status=OrderStatus.PENDING_CANCEL,
            filled=D("10"),
            fees=D("0.01"),
            notional=D("4.000"),
            accepted=True,
            version=3,
            fills=(FILL,),
        ),
        mementos.PositionMemento(
            position_id="P1",
            market_id="m1",
            account="paper",
            strategy="default",
            security_ids=("m1-YES",),
            status=PositionStatus.OPEN,
            version=6,
            legs=(LEG_MEMENTO,),
            pending=(("O2", "m1-YES", OrderSide.SELL), ("O3", "m1-YES", BUY)),
            fills=(FILL,),
        ),
        MARKET_MEMENTO,
        mementos.RuntimeStateMemento(
            seq=42,
            orders=(),
            positions=(),
            markets=(MARKET_MEMENTO,),
            order_count=7,
            step=12,
            step_atomic=True,
            committed_step=11,
            record_step=12,
            account_legs=(ACCOUNT_LEG,),
            account_deals=3,
            routed=(ROUTED,),
            adopted=(ADOPTED,),
            venue_commands=(VENUE_CANCEL,),
        ),
        VENUE_CANCEL,
        ACCOUNT_LEG,
        commands.GetFolded(stream="position:P1"),
        commands.Folded(memento=None, seq=41),
        *BROKER_EXAMPLES,
        *PAPER_BROKER_EXAMPLES,
    ]


ROUTED = broker_events.OrderRouted(
    ts_init=9,
    order_id="O1",
    order_no="B1",
    account="A1",
    strategy="s",
    market_id="m1",
    security_id="AAPL",
    side=BUY,
)
ADOPTED = broker_events.OpenOrderAdopted(
    ts_init=12,
    order_no="B9",
    account="A1",
    security_id="AAPL",
    side=BUY,
    price=D("1"),
    size=D("5"),
    filled=D("1"),
)
ACCOUNT_LEG = mementos.AccountLegMemento(
    account="A1",
    leg=mementos.LegMemento(
        security_id="AAPL",
        quantity=D("-4"),
        cost=D("-6.0"),
        realized_pnl=D("0.5"),
        fees=D("0.01"),
        mark=None,
    ),
)
ACCOUNT_POSITION = broker_events.AccountPosition(
    account="A1",
    security_id="AAPL",
    quantity=D("-4"),
    cost=D("-6.0"),
    avg_price=D("1.5"),
    realized_pnl=D("0"),
    fees=D("0.006"),
)
LIMITS = risk.RiskLimits(max_order_size=D("10"), max_open_orders=3, stop_loss=D("2.5"))
BROKER_EXAMPLES: list[object] = [
    broker.RawOrderEvent(
        order_no="B1",
        seq_no=1,
        status=broker.BrokerOrderStatus.SUBMITTED,
        broker_ts_ns=5,
        recv_ns=6,
        reason="",
    ),
    broker.RawDealEvent(
        order_no="B1",
        seq_no=2,
        match_ts=7,
        security_id="AAPL",
        side=BUY,
        price=D("187.25"),
        size=D("3"),
        recv_ns=8,
    ),
    broker.BrokerOrderRequest(
        client_order_id="O1", account="A1", security_id="AAPL", side=BUY, price=D("1"), size=D("2")
    ),
    broker.BrokerOrder(
        order_no="B1",
        account="A1",
        security_id="AAPL",
        side=OrderSide.SELL,
        price=D("1.5"),
        size=D("10"),
        filled=D("4"),
        status=broker.BrokerOrderStatus.PARTIALLY_FILLED,
        client_order_id="O1",
    ),
    broker.BrokerFill(
        order_no="B1",
        seq_no=2,
        match_ts=7,
        account="A1",
        security_id="AAPL",
        side=BUY,
        price=D("1.5"),
        size=D("4"),
        client_order_id="O1",
    ),
    broker.BrokerPosition(account="A1", security_id="AAPL", quantity=D("-4"), avg_price=D("1.5")),
    ROUTED,
    broker_events.DealBooked(
        ts_init=10,
        fill_id="B1:2:7",
        order_no="B1",
        order_id=None,
        account="A1",
        strategy="external",
        security_id="AAPL",
        side=BUY,
        price=D("1.5"),
        size=D("4"),
        fee=D("0.006"),
        match_ts=7,
        recv_ns=8,
        inferred=True,
    ),
    broker_events.DealRefused(
        ts_init=12,
        deal=broker_events.DealBooked(
            ts_init=12,
            fill_id="B1:2:7",
            order_no="B1",
            account="A1",
            strategy="external",
            security_id="AAPL",
            side=BUY,
            price=D("1.5"),
            size=D("5"),
            fee=D("0.0075"),
            match_ts=7,
            recv_ns=9,
        ),
        booked=broker_events.DealBooked(
            ts_init=10,
            fill_id="B1:2:7",
            order_no="B1",
            account="A1",
            strategy="external",
            security_id="AAPL",
            side=BUY,
            price=D("1.5"),
            size=D("4"),
            fee=D("0.006"),
            match_ts=7,
            recv_ns=8,
        ),
        reason=orders.FillRefusal.CONFLICTING_DUPLICATE,
        detail="size 5 (journaled 4)",
    ),
    broker_events.PositionCorrected(
        ts_init=11,
        account="A1",
        security_id="AAPL",
        quantity=D("-2"),
        price=D("1.5"),
        reason="opened outside",
    ),
    ADOPTED,
    broker_events.OpenOrderClosed(
        ts_init=13, order_no="B9", account="A1", status=broker.BrokerOrderStatus.CANCELLED
    ),
    ACCOUNT_POSITION,
    broker_events.AccountPositionChanged(
        ts_init=16, position=ACCOUNT_POSITION, recv_ns=17, applied_ns=18
    ),
    LIMITS,
    risk.SetLimits(ts_init=19, limits=LIMITS),
    risk.LimitsChanged(ts_init=22, limits=LIMITS),
    risk.RiskApproved(ts_init=20, signal=SIGNAL),
    risk.RiskDenied(ts_init=21, signal=SIGNAL, reason="max order size 10 < 12"),
    risk.PositionMeta(
        position_id="m1/paper/s",
        market_id="m1",
        account="paper",
        strategy="s",
        security_id="m1-YES",
        quantity=D("-3"),
        cost=D("-1.2"),
        avg_price=D("0.4"),
        realized_pnl=D("0.05"),
        fees=D("0.001"),
        status=PositionStatus.OPEN,
        version=4,
    ),
    reconciliation.OrderTruth(orders=(), reason="gap"),
    reconciliation.OrdersMissing(order_nos=("B1", "B2")),
    reconciliation.PositionCallback(),
    reconciliation.PositionsCompared(account="A1", corrected=2, unsettled=("AAPL",)),
    reconciliation.TradingEnabled(ts_init=15),
    broker_events.Correction(
        ts_init=14,
        kind=broker_events.CorrectionKind.POSITION,
        account="A1",
        security_id="AAPL",
        subject="quantity",
        old="0",
        new="-2",
        reason="opened outside",
    ),
    broker_events.CallbackQuarantined(
        ts_init=23,
        callback="on_deal",
        arguments=("'B1'", "'two'"),
        reason="TypeError: missing 5 required positional arguments",
        recv_ns=24,
    ),
]
REQUEST = BROKER_EXAMPLES[2]
PAPER_BROKER_EXAMPLES: list[object] = [
    paper_broker.PaperOrderPlaced(request=REQUEST, ts=1),
    paper_broker.PaperCancelRequested(order_no="SIM-1", ts=2),
    paper_broker.PaperMarketOpened(market_id="m1", security_ids=("m1-YES", "m1-NO")),
    paper_broker.PaperMarketClosed(market_id="m1", ts=3),
    paper_broker.PaperBookUpdated(
        market_id="m1",
        book=market_data.InstrumentBook(
            security_id="m1-YES",
            outcome=Outcome.YES,
            bids=(market_data.BookLevel(price=D("0.4"), size=D("5")),),
            asks=(),
            synced=True,
            sequence=4,
        ),
        ts=4,
    ),
    paper_broker.PaperOrderExecuted(order_no="SIM-1", price=D("0.4"), size=D("2"), ts=5),
    paper_broker.PaperPositionSeeded(
        account="A1", security_id="AAPL", quantity=D("-3"), avg_price=D("1.5")
    ),
    paper_broker.PaperOrderSeeded(
        account="A1", security_id="AAPL", side=BUY, price=D("1"), size=D("6"), filled=D("0")
    ),
]


VENUE_CANCEL = mementos.VenueCommandMemento(
    step=5, market_id="m1", cancel=journal.CancelRequested(ts_init=15, order_id="O1", reason="r")
)


MARKET_MEMENTO = mementos.MarketMemento(
    definition=markets.MarketDefinition(
        market_id="m1",
        instruments=(markets.Instrument(security_id="m1-YES", outcome=Outcome.YES),),
    ),
    opened_step=3,
    position_id="m1/paper/s",
    closed=True,
    winning_security_id=None,
    archived=False,
)


EXAMPLES = _examples()
POSITION_MEMENTO = next(e for e in EXAMPLES if isinstance(e, mementos.PositionMemento))


def _round_trip(message: object) -> Any:
    return decode(kind_of(message), encode(message))


def test_the_examples_cover_every_registered_kind() -> None:
    assert sorted(kind_of(example) for example in EXAMPLES) == sorted(KINDS)


def test_every_class_left_out_of_the_registry_holds_a_field_typed_any() -> None:
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"messages.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if attrs.has(cls) and cls.__module__ == module.__name__ and name not in KINDS:
                assert any("Any" in str(field.type) for field in attrs.fields(cls)), name


@pytest.mark.parametrize("message", EXAMPLES, ids=kind_of)
def test_a_message_decodes_to_an_equal_one_with_the_same_id_and_ts_init(message: Any) -> None:
    decoded = _round_trip(message)

    assert type(decoded) is type(message)
    assert decoded == message
    # asdict covers the fields equality skips (ts_init), nested messages' included.
    assert attrs.asdict(decoded) == attrs.asdict(message)
    if hasattr(message, "id"):
        assert decoded.id == message.id
    if hasattr(message, "ts_init"):
        assert decoded.ts_init == message.ts_init


def test_a_fill_is_compact_json_with_every_field_and_decimals_as_strings() -> None:
    assert kind_of(FILL) == "Fill"
    assert encode(FILL) == (
        '{"fill_id":"F1","ts_init":111,"ts_event":7,"order_id":"O1","market_id":"m1",'
        '"security_id":"m1-YES","side":"BUY","price":"0.40","size":"10","fee":"0.01"}'
    )


@pytest.mark.parametrize("text", ["0.1", "0.10", "1E+2", "-0", "1.000000000000000000000000000001"])
def test_a_decimal_comes_back_digit_for_digit(text: str) -> None:
    leg = attrs.evolve(LEG_MEMENTO, quantity=D(text))

    decoded = _round_trip(leg).quantity

    assert type(decoded) is Decimal
    assert decoded.as_tuple() == D(text).as_tuple()
    assert str(decoded) == text


def _fill_payload(**changes: Any) -> str:
    fields = json.loads(encode(FILL))
    fields.update(changes)
    return json.dumps({name: value for name, value in fields.items() if value is not ...})


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("Filled", encode(FILL), "unknown message kind 'Filled'"),
        ("Fill", '{"fill_id": "F1",', r"Fill: not JSON"),
        ("Fill", "[]", r"expected an object, got a list @ Fill"),
        ("Fill", _fill_payload(price=0.4), r"expected a decimal string.*0\.4 @ Fill\.price"),
        ("Fill", _fill_payload(price="NaN"), r"not a decimal number: 'NaN' @ Fill\.price"),
        ("Fill", _fill_payload(size=...), r"required field\(s\) missing: size @ Fill"),
        ("Fill", _fill_payload(ts_init=...), r"required field\(s\) missing: ts_init @ Fill"),
        ("Fill", _fill_payload(size="-1"), r"size must be > 0, got -1"),
        ("Fill", _fill_payload(ts_event="7"), r"expected an integer.* @ Fill\.ts_event"),
        ("Fill", _fill_payload(side="HOLD"), r"expected one of 'BUY', 'SELL'.* @ Fill\.side"),
        ("Fill", _fill_payload(venue="x"), r"unexpected field\(s\) venue"),
        (
            "FillApplied",
            encode(journal.FillApplied(position_id="P1", fill=FILL)).replace('"10"', "10"),
            r"@ FillApplied\.fill\.size",
        ),
        (
            "PositionMemento",
            encode(POSITION_MEMENTO).replace('["O3","m1-YES","BUY"]', '["O3","m1-YES"]'),
            r"expected a list of 3 items.* @ PositionMemento\.pending\[1\]",
        ),
    ],
    ids=[
        "unknown kind",
        "bad JSON",
        "not an object",
        "float for a Decimal",
        "NaN for a Decimal",
        "missing field",
        "missing ts_init",
        "negative size",
        "string for an int",
        "unknown enum value",
        "unexpected field",
        "nested field",
        "short tuple",
    ],
)
def test_a_record_that_does_not_structure_is_a_codec_error_naming_kind_and_field(
    kind: str, payload: str, expected: str
) -> None:
    with pytest.raises(CodecError, match=expected):
        decode(kind, payload)


def test_a_record_written_before_a_field_was_added_reads_with_its_default() -> None:
    applied = journal.FillApplied(position_id="P1", fill=FILL, correlation_id="S1")
    fields = json.loads(encode(applied))
    del fields["correlation_id"]

    old = decode("FillApplied", json.dumps(fields))

    assert old == attrs.evolve(applied, correlation_id="")


def test_a_message_holding_an_actor_ref_cannot_be_encoded() -> None:
    switch = commands.SwitchMarket(
        definition=definition("m1"),
        position=object(),
        position_id="P1",
        account="paper",
        strategy="s",
    )

    with pytest.raises(TypeError, match="SwitchMarket"):
        encode(switch)
    with pytest.raises(TypeError, match="SwitchMarket"):
        kind_of(switch)


exact_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=0)

any_fill = st.builds(
    Fill,
    fill_id=st.text(min_size=1, max_size=10),
    ts_init=st.integers(min_value=0, max_value=2**63),
    ts_event=st.integers(min_value=-(2**63), max_value=2**63),
    order_id=st.text(min_size=1, max_size=10),
    market_id=st.text(min_size=1, max_size=10),
    security_id=st.text(min_size=1, max_size=10),
    side=st.sampled_from(OrderSide),
    price=exact_decimals,
    size=exact_decimals.filter(lambda value: value > 0),
    fee=exact_decimals,
)
"""Any valid fill: texts of any characters, exact decimals of any digits."""


@settings(max_examples=200)
@given(fill=any_fill)
def test_any_fill_survives_a_round_trip_digit_for_digit(fill: Fill) -> None:
    decoded = _round_trip(fill)

    assert decoded == fill
    assert decoded.ts_init == fill.ts_init
    for name in ("price", "size", "fee"):
        assert getattr(decoded, name).as_tuple() == getattr(fill, name).as_tuple()
