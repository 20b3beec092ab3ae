"""PositionActor: journaled fills become deltas, duplicates change nothing, settlement closes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.position import PositionActor
from actors.position_accounting import PositionBook
from messages.enums import OrderSide, PositionStatus
from messages.fills import FillCharged
from messages.journal import ChargeApplied, FillApplied, PositionSettlement
from messages.orders import FillChargeRefused, FillRefusal, FillRefused
from messages.position_commands import ClearPending, MarkPending
from messages.positions import (
    PositionDelta,
    PositionFillCharged,
    PositionOpened,
    PositionSettled,
    PositionSnapshot,
)
from messages.queries import GetSnapshot
from messages.subscriptions import Subscribe
from tests.stubs import collector, fill, wait_for

pytestmark = pytest.mark.timeout(10)


def _book() -> PositionBook:
    return PositionBook(
        position_id="m1/p",
        market_id="m1",
        account="paper",
        strategy="s",
        security_ids=("m1-YES", "m1-NO"),
    )


def _applied(fill_id: str, **kwargs: str) -> FillApplied:
    return FillApplied(position_id="m1/p", fill=fill(fill_id, **kwargs))


def test_a_fill_publishes_a_delta_and_the_snapshot_shows_it() -> None:
    bus, events = collector()
    position = PositionActor.start(_book(), bus=bus)
    wait_for(events, lambda m: isinstance(m, PositionOpened))
    position.tell(_applied("F1", price="0.40", size="10", fee="0.004"))
    delta = wait_for(events, lambda m: isinstance(m, PositionDelta))
    assert delta.leg.quantity == Decimal(10)
    assert delta.fill.fill_id == "F1"
    snapshot = position.ask(GetSnapshot(), timeout=5)
    assert snapshot.leg("m1-YES").cost == Decimal("4.00")
    assert snapshot.fees == Decimal("0.004")


def test_a_repeated_fill_changes_nothing_and_a_conflicting_one_is_refused() -> None:
    bus, events = collector()
    position = PositionActor.start(_book(), bus=bus)
    position.tell(_applied("F1"))
    position.tell(_applied("F1"))
    position.tell(_applied("F1", size="11"))
    refused = wait_for(events, lambda m: isinstance(m, FillRefused))
    assert refused.reason is FillRefusal.CONFLICTING_DUPLICATE
    snapshot = position.ask(GetSnapshot(), timeout=5)
    assert snapshot.leg("m1-YES").quantity == Decimal(10)
    assert snapshot.version == 1


def test_pending_flags_reach_subscribers_and_clear_when_the_order_closes() -> None:
    bus, _ = collector()
    strategy, inbox = collector()
    position = PositionActor.start(_book(), bus=bus)
    position.tell(Subscribe(subscriber=strategy))
    position.tell(MarkPending(order_id="O1", security_id="m1-NO", side=OrderSide.BUY))
    pending = wait_for(inbox, lambda m: isinstance(m, PositionSnapshot) and m.version == 1)
    assert pending.leg("m1-NO").pending_buy
    position.tell(ClearPending(order_id="O1"))
    cleared = wait_for(inbox, lambda m: isinstance(m, PositionSnapshot) and m.version == 2)
    assert not cleared.leg("m1-NO").pending_buy


def test_settlement_pays_the_winner_and_refuses_later_fills() -> None:
    bus, events = collector()
    position = PositionActor.start(_book(), bus=bus)
    position.tell(_applied("F1", security_id="m1-YES", price="0.40", size="10"))
    position.tell(_applied("F2", security_id="m1-NO", price="0.55", size="10"))
    position.tell(
        PositionSettlement(
            position_id="m1/p", market_id="m1", winning_security_id="m1-NO", payout=Decimal(1)
        )
    )
    settled = wait_for(events, lambda m: isinstance(m, PositionSettled)).position
    assert settled.status is PositionStatus.SETTLED
    assert settled.realized_pnl == Decimal("0.50")
    position.tell(_applied("F3", price="0.40", size="1"))
    refused = wait_for(events, lambda m: isinstance(m, FillRefused))
    assert refused.reason is FillRefusal.POSITION_SETTLED


def _charge(fill_id: str, fee: str) -> ChargeApplied:
    return ChargeApplied(
        position_id="m1/p",
        charge=FillCharged(
            fill_id=fill_id,
            order_id="O1",
            market_id="m1",
            security_id="m1-YES",
            booked_fee=Decimal("0.004"),
            fee=Decimal(fee),
            tax=Decimal(0),
        ),
        correlation_id="S1",
    )


def test_a_broker_s_charge_changes_the_leg_s_fees_once_and_one_of_an_unknown_fill_is_refused() -> (
    None
):
    bus, events = collector()
    position = PositionActor.start(_book(), bus=bus)
    position.tell(_applied("F1", price="0.40", size="10", fee="0.004"))
    position.tell(_charge("F1", "0.02"))
    position.tell(_charge("F1", "0.02"))
    charged = wait_for(events, lambda m: isinstance(m, PositionFillCharged))
    assert (charged.leg.fees, charged.leg.realized_pnl, charged.leg.cost) == (
        Decimal("0.020"),
        0,
        Decimal("4.00"),
    )
    position.tell(_charge("F9", "0.02"))
    refused = wait_for(events, lambda m: isinstance(m, FillChargeRefused))
    assert (refused.reason, refused.charge.fill_id) == (FillRefusal.UNKNOWN_FILL, "F9")
    assert position.is_alive()
    snapshot = position.ask(GetSnapshot(), timeout=5)
    assert (snapshot.fees, snapshot.version) == (Decimal("0.020"), 2)
