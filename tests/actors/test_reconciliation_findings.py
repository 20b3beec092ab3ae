"""``actors.reconciliation_findings``: the broker's answers, cut to what each job is about."""

from __future__ import annotations

from decimal import Decimal

from actors.reconcile_schedule import AccountJob, OrdersJob
from actors.reconciliation_findings import OrdersFindings, account_findings, orders_findings
from messages.broker import BrokerFill, BrokerOrder, BrokerOrderStatus, BrokerPosition
from messages.enums import OrderSide


def fill(order_no: str, security_id: str = "yes", account: str = "a") -> BrokerFill:
    return BrokerFill(
        order_no=order_no,
        seq_no=1,
        match_ts=1,
        account=account,
        security_id=security_id,
        side=OrderSide.BUY,
        price=Decimal("0.5"),
        size=Decimal(1),
    )


def order(order_no: str, account: str, status: BrokerOrderStatus) -> BrokerOrder:
    return BrokerOrder(
        order_no=order_no,
        account=account,
        security_id="yes",
        side=OrderSide.BUY,
        price=Decimal("0.5"),
        size=Decimal(2),
        filled=Decimal(0),
        status=status,
    )


def job(scope: tuple[str, ...] = ()) -> AccountJob:
    return AccountJob(account="a", reason="r", since_ns=0, scope=scope, started_ns=0)


POSITION = BrokerPosition(account="a", security_id="no", quantity=Decimal(3), avg_price=Decimal(1))


def test_a_whole_account_job_keeps_every_deal() -> None:
    found = account_findings(job(), [POSITION], [], [fill("1", "yes"), fill("2", "no")])
    assert [f.order_no for f in found.fills] == ["1", "2"]
    assert found.positions == (POSITION,)


def test_a_scoped_job_keeps_only_its_securities_deals_and_every_position() -> None:
    found = account_findings(job(("yes",)), [POSITION], [], [fill("1", "yes"), fill("2", "no")])
    assert [f.order_no for f in found.fills] == ["1"]
    assert found.positions == (POSITION,)  # the comparison itself is scoped by the job


def test_an_orders_job_hands_each_account_its_open_orders_and_only_the_asked_deals() -> None:
    open_a = order("1", "a", BrokerOrderStatus.PARTIALLY_FILLED)
    closed_a = order("2", "a", BrokerOrderStatus.FILLED)
    open_b = order("3", "b", BrokerOrderStatus.SUBMITTED)
    found = orders_findings(
        OrdersJob(order_nos=("1", "2", "3"), reason="r"),
        [open_a, closed_a, open_b],
        {
            "a": [fill("1"), fill("2"), fill("9")],
            "b": [fill("3", account="b")],
        },
    )
    assert found == (
        OrdersFindings(account="a", open_orders=(open_a,), fills=(fill("1"), fill("2"))),
        OrdersFindings(account="b", open_orders=(open_b,), fills=(fill("3", account="b"),)),
    )
