"""What of the broker's answers goes to whom: the reconciler's findings, as plain values.

The reconciler compares nothing itself: the state lives elsewhere, so its findings go where
it does. The normalizer adopts unknown open orders, books listed deals no callback brought
and closes ours the broker says are closed (``OrderTruth``); the account book compares
positions. These functions cut the broker's answers to what each job is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from actors.reconcile_schedule import AccountJob, OrdersJob
from messages.broker import BrokerFill, BrokerOrder, BrokerPosition


@attrs.frozen(kw_only=True, slots=True)
class AccountFindings:
    """One account's answer, cut to the job's scope: all of it is the broker's truth."""

    positions: tuple[BrokerPosition, ...]
    open_orders: tuple[BrokerOrder, ...]
    fills: tuple[BrokerFill, ...]


@attrs.frozen(kw_only=True, slots=True)
class OrdersFindings:
    """For one account of an orders job: those of the orders still open, and their deals."""

    account: str
    open_orders: tuple[BrokerOrder, ...]
    fills: tuple[BrokerFill, ...]


def account_findings(
    job: AccountJob,
    positions: Iterable[BrokerPosition],
    open_orders: Iterable[BrokerOrder],
    fills: Iterable[BrokerFill],
) -> AccountFindings:
    """A scoped job books only its securities' deals (the comparison is scoped by the job)."""
    if job.scope:
        fills = [fill for fill in fills if fill.security_id in job.scope]
    return AccountFindings(
        positions=tuple(positions), open_orders=tuple(open_orders), fills=tuple(fills)
    )


def orders_findings(
    job: OrdersJob,
    orders: Iterable[BrokerOrder],
    fills: Mapping[str, Iterable[BrokerFill]],
) -> tuple[OrdersFindings, ...]:
    """Per account whose deals were read, in that order: the job's orders of it the broker
    holds open (to adopt if unknown) and the job's orders' deals (to book if not booked)."""
    orders = tuple(orders)
    wanted = set(job.order_nos)
    return tuple(
        OrdersFindings(
            account=account,
            open_orders=tuple(o for o in orders if o.account == account and o.status.is_open),
            fills=tuple(fill for fill in account_fills if fill.order_no in wanted),
        )
        for account, account_fills in fills.items()
    )
