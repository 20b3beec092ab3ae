"""One valid instance of every message kind the journal codec registers, with non-default
values wherever a field allows one: the codec round-trips them, the immutability test tries
to change them."""

from __future__ import annotations

import concurrent.futures
from decimal import Decimal
from typing import Any

import attrs

from messages import (
    broker,
    broker_events,
    client_requests,
    journal,
    journal_protocol,
    market_commands,
    market_data,
    markets,
    mementos,
    order_commands,
    orders,
    paper_broker,
    position_commands,
    positions,
    queries,
    reconciliation,
    risk,
    stats,
    subscriptions,
    supervision,
)
from messages.enums import BookSide, MarketPhase, OrderSide, OrderStatus, Outcome, PositionStatus
from messages.fills import Fill, FillCharged, FillReversed
from messages.refs import Recipient
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
REVERSAL = FillReversed(
    fill_id="F0",
    ts_init=113,
    ts_event=8,
    order_id="O1",
    market_id="m1",
    security_id="m1-YES",
    reason="trade T0 FAILED on chain after MATCHED",
)
CHARGE = FillCharged(
    fill_id="F1",
    ts_init=114,
    order_id="O1",
    market_id="m1",
    security_id="m1-YES",
    booked_fee=D("0.01"),
    fee=D("0.02"),
    tax=D("0.03"),
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
    manual=True,
)
LEG_MEMENTO = mementos.LegMemento(
    security_id="m1-YES",
    quantity=D("10"),
    cost=D("4.000"),
    realized_pnl=D("-0.3333333333333333333333333333"),
    fees=D("0.01"),
    mark=D("0.41"),
)

CREATED = journal.OrderCreated(
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
    manual=True,
)
ORDER_MEMENTO = mementos.OrderMemento(
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
    manual=True,
    reversed=(
        mementos.ReversedFill(
            fill=attrs.evolve(FILL, fill_id="F0", size=D("2")), reversal=REVERSAL
        ),
    ),
    reopened=1,
    charges=(CHARGE,),
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
        market_commands.ArchiveMarket(ts_init=1, market_id="m1"),
        order_commands.CancelOrder(ts_init=2, order_id="O1", reason="stale"),
        position_commands.ClearPending(order_id="O1"),
        queries.GetSnapshot(),
        queries.ListRoutedOrders(),
        queries.ListPositions(),
        queries.ListMarkets(),
        queries.MarketState(
            market_id="m1", phase=MarketPhase.RESOLVED, winning_security_id="m1-YES"
        ),
        queries.MarketStates(
            markets=(queries.MarketState(market_id="m2", phase=MarketPhase.CLOSED),)
        ),
        position_commands.MarkPending(order_id="O1", security_id="m1-YES", side=OrderSide.SELL),
        markets.MarketDrained(market_id="m1"),
        orders.OrderClosed(order_id="O1", market_id="m1"),
        market_commands.SettlePosition(
            ts_init=3, market_id="m1", winning_security_id="m1-NO", payout=D("1")
        ),
        order_commands.SubmitOrder(
            ts_init=4,
            correlation_id="S1",
            order_id="O1",
            market_id="m1",
            security_id="m1-YES",
            side=BUY,
            price=D("0"),
            size=D("1E+2"),
        ),
        supervision.InjectFault(reason="chaos"),
        journal.CancelRequested(ts_init=5, order_id="O1", reason="switch"),
        journal.FillApplied(ts_init=6, position_id="P1", fill=FILL),
        journal.ReversalApplied(
            ts_init=6, position_id="P1", reversal=REVERSAL, correlation_id="S1"
        ),
        REVERSAL,
        CHARGE,
        journal.ChargeApplied(ts_init=6, position_id="P1", charge=CHARGE, correlation_id="S1"),
        orders.FillChargeRefused(
            ts_init=22,
            correlation_id="O1",
            charge=CHARGE,
            reason=orders.FillRefusal.UNKNOWN_FILL,
            detail="applied no fill F1",
        ),
        positions.PositionFillCharged(
            ts_init=29,
            correlation_id="O1",
            position_id="P1",
            market_id="m1",
            version=7,
            charge=CHARGE,
            leg=LEG,
        ),
        ORDER_MEMENTO.reversed[0],
        broker.RawDealReversal(
            order_no="B1", seq_no=2, match_ts=7, reason="trade FAILED on chain", recv_ns=9
        ),
        orders.FillReversalRefused(
            ts_init=21,
            correlation_id="O1",
            reversal=REVERSAL,
            reason=orders.FillRefusal.ALREADY_REVERSED,
            detail="reversed before",
        ),
        positions.PositionFillReversed(
            ts_init=28,
            correlation_id="O1",
            position_id="P1",
            market_id="m1",
            version=6,
            reversal=REVERSAL,
            leg=LEG,
        ),
        journal.MarketArchived(ts_init=7, market_id="m1"),
        CREATED,
        supervision.SuperviseOrder(created=CREATED),
        supervision.QuiesceOrder(order_id="O1"),
        supervision.OrderQuiesced(order_id="O1", snapshot=ORDER),
        supervision.StopOrder(order_id="O1"),
        supervision.ReviveOrder(order_id="O1"),
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
        market_data.ReferencePrice(
            ts_init=15,
            ts_event=4,
            market_id="m1",
            source="BTC-USD",
            price=D("97012.5"),
            strike=D("97000"),
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
        ORDER_MEMENTO,
        supervision.AdoptOrders(orders=(ORDER_MEMENTO,), closed=(ORDER,)),
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
            reversed=("F0",),
            charges=(CHARGE,),
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
            account_cash=(ACCOUNT_CASH,),
            routed=(ROUTED,),
            adopted=(ADOPTED,),
            venue_commands=(VENUE_CANCEL,),
        ),
        VENUE_CANCEL,
        ACCOUNT_LEG,
        ACCOUNT_LEG.entries[0],
        ACCOUNT_CASH,
        journal_protocol.GetFolded(stream="position:P1"),
        journal_protocol.Folded(memento=None, seq=41),
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
    entries=(
        mementos.AccountEntry(fill_id="B1:1:7", quantity=D("-4"), price=D("1.5"), fee=D("0.01")),
        mementos.AccountEntry(fill_id=None, quantity=D("0"), price=D("1.5"), fee=D("0")),
    ),
)
ACCOUNT_CASH = mementos.AccountCashMemento(account="A1", hour=498_961, amount=D("-25525.5"))
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
META = risk.PositionMeta(
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
)
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
    broker.BrokerProfitLoss(
        account="A1", security_id="2890", realized_pnl=D("-12.5"), fee=D("20"), tax=D("36")
    ),
    broker.BrokerSettlement(account="A1", date="2026-12-03", days=2, amount=D("-1234.5")),
    broker.BrokerDealCharge(
        order_no="B1",
        seq_no=2,
        match_ts=7,
        account="A1",
        security_id="2890",
        price=D("25.5"),
        size=D("1000"),
        fee=D("36"),
        tax=D("0"),
    ),
    broker_events.FeeBooked(
        ts_init=33,
        fill_id="B1:2:7",
        order_no="B1",
        account="A1",
        security_id="2890",
        booked_fee=D("25.5"),
        fee=D("36"),
        tax=D("76"),
    ),
    broker_events.PnlMismatch(
        ts_init=31,
        account="A1",
        security_id="2890",
        ours=D("10"),
        broker=D("-2.5"),
        difference=D("12.5"),
        fee=D("1"),
        tax=D("3"),
        reason="startup",
    ),
    broker_events.RecoverySlow(ts_init=32, duration_ms=12_000, limit_ms=10_000),
    broker_events.SettlementMismatch(
        ts_init=34,
        account="A1",
        date="2026-12-07",
        ours=D("-25525.5"),
        broker=D("-25700"),
        difference=D("174.5"),
        reason="full sync",
    ),
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
    broker_events.DealReversed(
        ts_init=10,
        fill_id="B1:1:7",
        order_no="B1",
        account="A1",
        security_id="AAPL",
        reason="trade t1 FAILED on chain after MATCHED",
        recv_ns=9,
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
    META,
    risk.Trackers(
        by_security=(META,),
        market_legs=(META,),
        exposure=D("1.2"),
        realized_net=D("0.049"),
        unrealized=D("-0.03"),
        closed_pnl=D("2"),
        context="S1",
    ),
    reconciliation.OrderTruth(orders=(), reason="gap"),
    reconciliation.OrdersMissing(order_nos=("B1", "B2")),
    reconciliation.PositionCallback(),
    reconciliation.SessionRenewed(session=2),
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


def example_of(cls: type) -> Any:
    """The example of registered kind ``cls``."""
    return next(example for example in EXAMPLES if type(example) is cls)


def holding_refs(ref: Recipient) -> list[object]:
    """One instance of every message class the codec leaves out (it holds an actor ref, a
    future, or any event), with ``ref`` for every actor ref."""
    fill = attrs.evolve(FILL, price=D("0.5"))
    forward = journal_protocol.Forward(message=SIGNAL, deliver_to=ref)
    return [
        client_requests.AwaitMarket(market_id="m1", answer=concurrent.futures.Future()),
        client_requests.SubmitSignal(signal=SIGNAL, answer=concurrent.futures.Future()),
        journal_protocol.Append(event=FILL, stream="order:O1", dedup_key="fill:F1", deliver_to=ref),
        journal_protocol.DuplicateRefused(
            event=fill, journaled=FILL, dedup_key="fill:F1", detail="price 0.5 (journaled 0.40)"
        ),
        forward,
        journal_protocol.Sync(last=journal_protocol.Append(event=FILL, stream="order:O1")),
        journal_protocol.AppendAll(
            appends=(
                journal_protocol.Append(event=FILL, stream="order:O1"),
                journal_protocol.Append(event=FILL, stream="order:O2", deliver_to=ref),
            )
        ),
        journal_protocol.Delivered(events=(FILL, REVERSAL)),
        journal_protocol.Route(stream="order:O1", subscriber=ref, after_seq=3),
        market_commands.CloseMarket(ts_init=1, market_id="m1", notify=ref),
        market_commands.SwitchMarket(
            ts_init=2,
            definition=definition("m1"),
            position=ref,
            position_id="P1",
            account="paper",
            strategy="default",
            supervisor=ref,
        ),
        queries.PositionRefs(live=(("m1", ref),), archived=(POSITION,)),
        queries.RoutedOrders(running=(("O1", ref),), starting=(CREATED,)),
        reconciliation.BookInferred(
            fills=(example_of(broker.BrokerFill),), reason="gap", recv_ns=5, then=forward
        ),
        reconciliation.ComparePositions(
            account="A1",
            positions=(example_of(broker.BrokerPosition),),
            since_ns=4,
            reason="gap",
            security_ids=("AAPL",),
            reply_to=ref,
            pending=("AAPL",),
        ),
        reconciliation.OpenOrdersSeen(
            account="A1", orders=(example_of(broker.BrokerOrder),), complete=False, reply_to=ref
        ),
        reconciliation.ReconcileRequest(
            ts_init=3, reason="command", order_nos=("B1",), security_ids=("AAPL",), reply_to=ref
        ),
        reconciliation.ReconcileWith(reconciler=ref),
        risk.CheckSignal(ts_init=4, signal=SIGNAL, open_orders=2, reply_to=ref),
        risk.TrackersFor(
            ts_init=5,
            security_ids=("m1-YES",),
            account="paper",
            market_id="m1",
            reply_to=ref,
            context="S1",
        ),
        subscriptions.Subscribe(subscriber=ref, welcome=False),
        subscriptions.Unsubscribe(subscriber=ref),
        supervision.OrderStarted(order_id="O1", ref=ref, submit=True),
        supervision.PositionRestarted(market_id="m1", position=ref),
    ]
