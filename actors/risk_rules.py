"""The pre-trade rules, as one pure function: a signal, the limits and what the index says.

Each rule approves at its limit and denies just past it, with a reason that names the
numbers. PnL is realized + unrealized - fees; unrealized marks each leg at the latest mid for its
security (a leg never marked counts no unrealized PnL): the index's running total for the
account, risk's own marks for the signal's position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from messages.enums import OrderSide
from messages.risk import PositionMeta, RiskLimits, Trackers, TrackersFor
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
    answer for the signal's security, market and account (None when no rule needs it).
    The signal names the position its order lands on (execution fills in what it left
    unnamed), so the PnL rules count exactly that position's legs.
    """
    if signal.account is None or signal.strategy is None:
        # Execution names the position before it asks; a rule must never guess which.
        return "the signal names no position (account and strategy) to judge"
    try:
        reason = _order_rules(signal, limits, open_orders)
        if reason is not None or trackers is None:
            return reason
        marks = marks or {}
        return _position_rules(signal, limits, trackers) or _pnl_rules(
            signal, limits, trackers, marks
        )
    except ArithmeticError as error:
        # The edges bound what they let in; a number past that is refused, never a crash.
        return f"numbers out of range for the risk rules ({type(error).__name__})"


def lookup_for(
    signal: TradeSignal, limits: RiskLimits, *, reply_to: Any, context: Any
) -> TrackersFor:
    """What to ask the index for ``signal`` under ``limits``: never more than the rules read."""
    return TrackersFor(
        security_ids=(signal.security_id,),
        account=signal.account,
        market_id=signal.market_id
        if limits.profit_lock is not None or limits.stop_loss is not None
        else None,
        reply_to=reply_to,
        context=context,
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


def _position_rules(signal: TradeSignal, limits: RiskLimits, trackers: Trackers) -> str | None:
    signed = signal.size if signal.side is OrderSide.BUY else -signal.size
    here = [
        m
        for m in trackers.by_security
        if m.account == signal.account and m.security_id == signal.security_id
    ]
    net_after = _sum(m.quantity for m in here) + signed
    if limits.max_position is not None and abs(net_after) > limits.max_position:
        return (
            f"position in {signal.security_id} would be {net_after}; "
            f"the maximum is {limits.max_position}"
        )
    if limits.max_account_exposure is not None:
        elsewhere = trackers.exposure - _sum(abs(m.cost) for m in here)
        exposure = elsewhere + abs(_sum(m.cost for m in here) + signed * signal.price)
        if exposure > limits.max_account_exposure:
            return (
                f"account exposure would be {exposure}; "
                f"the maximum is {limits.max_account_exposure}"
            )
    return None


def _pnl_rules(
    signal: TradeSignal,
    limits: RiskLimits,
    trackers: Trackers,
    marks: Mapping[str, Decimal],
) -> str | None:
    if limits.daily_loss_limit is not None:
        account_pnl = trackers.closed_pnl + trackers.realized_net + trackers.unrealized
        if account_pnl < -limits.daily_loss_limit:
            return (
                f"account PnL {account_pnl} is past the daily loss limit -{limits.daily_loss_limit}"
            )
    position = [
        m
        for m in trackers.market_legs
        if m.account == signal.account and m.strategy == signal.strategy
    ]
    position_pnl = _sum(pnl(m, marks) for m in position)
    if limits.profit_lock is not None and position_pnl > limits.profit_lock:
        return f"profit lock: position PnL {position_pnl} is over {limits.profit_lock}"
    if limits.stop_loss is not None and position_pnl < -limits.stop_loss:
        return f"stop loss: position PnL {position_pnl} is under -{limits.stop_loss}"
    return None


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
