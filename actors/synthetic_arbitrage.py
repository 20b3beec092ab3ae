"""The shipped example strategy: synthetic arbitrage on a binary market (seed 003, priority 0).

Buying one YES and one NO share costs ``ask_yes + ask_no`` and pays exactly the payout at
resolution, whichever side wins. When the two best asks sum to less than the payout minus a
margin, buy both. Never while an order is pending on either side (the pending-flag guard),
and never past ``max_position`` shares per leg.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.enums import OrderSide, Outcome
from messages.market_data import MarketSnapshot
from messages.positions import PositionSnapshot
from messages.signals import TradeSignal


@attrs.frozen(kw_only=True, slots=True)
class SyntheticArbitrage:
    """``evaluate(market, position)`` for the StrategyActor; parameters are exact Decimals."""

    payout: Decimal = Decimal(1)
    margin: Decimal = Decimal("0.02")
    max_order_size: Decimal = Decimal(50)
    max_position: Decimal = Decimal(500)
    strategy: str | None = None
    account: str | None = None
    """Left None, the signals are for the market's position, whichever strategy name and
    account the run gave it (a named one that differs is denied as misaddressed)."""

    def __call__(self, market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        yes, no = market.book_for(Outcome.YES), market.book_for(Outcome.NO)
        ask_yes, ask_no = yes.best_ask, no.best_ask
        if ask_yes is None or ask_no is None:
            return []
        total = ask_yes.price + ask_no.price
        if total >= self.payout - self.margin:
            return []
        leg_yes, leg_no = position.leg(yes.security_id), position.leg(no.security_id)
        if leg_yes.pending_buy or leg_no.pending_buy:
            return []
        room = self.max_position - max(leg_yes.quantity, leg_no.quantity)
        size = min(ask_yes.size, ask_no.size, self.max_order_size, room)
        if size <= 0:
            return []
        reason = f"synthetic arbitrage: asks {ask_yes.price} + {ask_no.price} = {total}"
        return [
            TradeSignal(
                market_id=market.market_id,
                security_id=book.security_id,
                side=OrderSide.BUY,
                price=level.price,
                size=size,
                priority=0,
                reason=reason,
                strategy=self.strategy,
                account=self.account,
            )
            for book, level in ((yes, ask_yes), (no, ask_no))
        ]
