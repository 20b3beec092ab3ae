"""The pre-trade rules, as one pure function: a signal, the limits and what the index says.

Each rule approves at its limit and denies just past it, with a reason that names the
numbers. PnL is realized + unrealized - fees; unrealized marks each leg at the latest mid
risk has seen for its security (a leg never marked counts no unrealized PnL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from messages.enums import OrderSide
from messages.risk import PositionMeta, RiskLimits, Trackers
from messages.signals import TradeSignal

ZERO = Decimal(0)


def needs_index(limits: RiskLimits) -> bool:
    """Whether any active rule reads positions (else a check needs no index lookup)."""
    return any(
        limit is not None
        for limit in (
            limits.max_position,
            limits.max_account_exposure,
            limits.daily_loss_limit,
            limits.profit_lock,
            limits.stop_loss,
        )
    )


def pnl(meta: PositionMeta, marks: Mapping[str, Decimal]) -> Decimal:
    mark = marks.get(meta.security_id)
    unrealized = meta.quantity * mark - meta.cost if mark is not None and meta.quantity else ZERO
    return meta.realized_pnl + unrealized - meta.fees


def denial(
    signal: TradeSignal,
    limits: RiskLimits,
    *,
    open_orders: int,
    trackers: Trackers | None = None,
    marks: Mapping[str, Decimal] | None = None,
) -> str | None:
    """Why ``signal`` must not become an order, or None to approve it.

    ``open_orders`` counts the orders open without this one; ``trackers`` is the index's
    answer for the signal's security and account (None when no rule needs it).
    """
    reason = _order_rules(signal, limits, open_orders)
    if reason is not None or trackers is None:
        return reason
    marks = marks or {}
    mine = [m for m in trackers.by_account if m.account == signal.account]
    return _position_rules(signal, limits, mine) or _pnl_rules(
        signal, limits, mine, marks, trackers.closed_pnl
    )


def _order_rules(signal: TradeSignal, limits: RiskLimits, open_orders: int) -> str | None:
    notional = signal.price * signal.size
    if limits.max_order_size is not None and signal.size > limits.max_order_size:
        return f"order size {signal.size} is over the maximum {limits.max_order_size}"
    if limits.max_order_notional is not None and notional > limits.max_order_notional:
        return f"order notional {notional} is over the maximum {limits.max_order_notional}"
    if limits.max_open_orders is not None and open_orders + 1 > limits.max_open_orders:
        return f"{open_orders} orders are open; the maximum is {limits.max_open_orders}"
    return None


def _position_rules(
    signal: TradeSignal,
    limits: RiskLimits,
    mine: list[PositionMeta],
) -> str | None:
    signed = signal.size if signal.side is OrderSide.BUY else -signal.size
    here = [m for m in mine if m.security_id == signal.security_id]
    net_after = _sum(m.quantity for m in here) + signed
    if limits.max_position is not None and abs(net_after) > limits.max_position:
        return (
            f"position in {signal.security_id} would be {net_after}; "
            f"the maximum is {limits.max_position}"
        )
    if limits.max_account_exposure is not None:
        elsewhere = _sum(abs(m.cost) for m in mine if m.security_id != signal.security_id)
        cost_after = _sum(m.cost for m in here) + signed * signal.price
        exposure = elsewhere + abs(cost_after)
        if exposure > limits.max_account_exposure:
            return (
                f"account exposure would be {exposure}; "
                f"the maximum is {limits.max_account_exposure}"
            )
    return None


def _pnl_rules(
    signal: TradeSignal,
    limits: RiskLimits,
    mine: list[PositionMeta],
    marks: Mapping[str, Decimal],
    closed_pnl: Decimal,
) -> str | None:
    if limits.daily_loss_limit is not None:
        account_pnl = closed_pnl + _sum(pnl(m, marks) for m in mine)
        if account_pnl < -limits.daily_loss_limit:
            return (
                f"account PnL {account_pnl} is past the daily loss limit -{limits.daily_loss_limit}"
            )
    position = [
        m for m in mine if m.market_id == signal.market_id and m.strategy == signal.strategy
    ]
    position_pnl = _sum(pnl(m, marks) for m in position)
    if limits.profit_lock is not None and position_pnl > limits.profit_lock:
        return f"profit lock: position PnL {position_pnl} is over {limits.profit_lock}"
    if limits.stop_loss is not None and position_pnl < -limits.stop_loss:
        return f"stop loss: position PnL {position_pnl} is under -{limits.stop_loss}"
    return None


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
