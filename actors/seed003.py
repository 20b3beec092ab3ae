"""Seed 003's whole strategy chain on a binary market, as one ``evaluate(market, position)``.

``--strategy actors.seed003:evaluate``. The priorities of ``TradeSignal.priority`` decide:

3. **Safety** blocks everything: a profit lock (whichever side wins, the position already
   makes ``profit_lock``) or a stop loss (marked at the books' mids, it has lost
   ``stop_loss``). No signal at all.
0. **Synthetic arbitrage** (``SyntheticArbitrage``): when it fires, its signals go alone,
   past the oracle; inventory management waits.
2. **Inventory management**: bootstrap (flat: buy the cheaper side), hedging (one side
   longer than the other, and buying the short side at its ask keeps the pair under the
   payout: buy the difference) and averaging down (the longer side's ask has fallen
   ``average_down`` below its average price: buy more).
1. **Oracle filter** on the inventory signals that add risk (bootstrap, averaging down):
   with the market's reference price and strike (``MarketSnapshot.reference``, e.g. BTC
   spot against the strike of a BTC up/down market), a buy of the side the reference says
   is losing by more than ``oracle_band`` is dropped; one it confirms goes on as priority 1.
   Without a reference, or within the band, they go on unfiltered as priority 2. Hedges
   reduce risk and pass untouched.

Not the default strategy: the default stays ``SyntheticArbitrage`` alone, whose runs the
project's determinism and lockstep tests pin.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from actors.synthetic_arbitrage import SyntheticArbitrage
from messages.enums import OrderSide, Outcome
from messages.market_data import InstrumentBook, MarketSnapshot
from messages.positions import LegSnapshot, PositionSnapshot
from messages.signals import TradeSignal

SAFETY, INVENTORY, ORACLE, ARBITRAGE = 3, 2, 1, 0


@attrs.frozen(kw_only=True, slots=True)
class Stages:
    """What each stage of the chain said about one tick, before the priorities decide."""

    blocked: str | None
    """Why safety blocks the tick; None if it does not."""
    arbitrage: list[TradeSignal]
    hedges: list[TradeSignal]
    """Inventory signals that reduce the position's risk: they skip the oracle."""
    adds: list[TradeSignal]
    """Inventory signals that add risk (bootstrap, averaging down): the oracle judges them."""


@attrs.frozen(kw_only=True, slots=True)
class Seed003Chain:
    """The chain's parameters, exact Decimals; calling it evaluates one tick."""

    payout: Decimal = Decimal(1)
    profit_lock: Decimal = Decimal(5)
    stop_loss: Decimal = Decimal(20)
    arbitrage: SyntheticArbitrage = attrs.field(factory=SyntheticArbitrage)
    order_size: Decimal = Decimal(10)
    max_position: Decimal = Decimal(200)
    hedge_margin: Decimal = Decimal("0.01")
    average_down: Decimal = Decimal("0.05")
    oracle_band: Decimal = Decimal("0.0005")

    def __call__(self, market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        return resolve(self.stages(market, position), market, self.oracle_band)

    def stages(self, market: MarketSnapshot, position: PositionSnapshot) -> Stages:
        yes, no = market.book_for(Outcome.YES), market.book_for(Outcome.NO)
        legs = position.leg(yes.security_id), position.leg(no.security_id)
        hedges, adds = self._inventory(market, (yes, legs[0]), (no, legs[1]))
        return Stages(
            blocked=self._safety(yes, no, *legs),
            # The example names its own strategy; here the signals are the chain's.
            arbitrage=[
                attrs.evolve(signal, strategy=None, account=None)
                for signal in self.arbitrage(market, position)
            ],
            hedges=hedges,
            adds=adds,
        )

    def _safety(
        self, yes: InstrumentBook, no: InstrumentBook, leg_yes: LegSnapshot, leg_no: LegSnapshot
    ) -> str | None:
        spent = leg_yes.cost + leg_no.cost - leg_yes.realized_pnl_net - leg_no.realized_pnl_net
        locked = min(leg_yes.quantity, leg_no.quantity) * self.payout - spent
        if leg_yes.quantity > 0 and leg_no.quantity > 0 and locked >= self.profit_lock:
            return f"profit lock: {locked} made whichever side wins"
        marked = leg_yes.quantity * _mark(yes) + leg_no.quantity * _mark(no) - spent
        if marked <= -self.stop_loss:
            return f"stop loss: {marked} at the mids"
        return None

    def _inventory(
        self,
        market: MarketSnapshot,
        yes: tuple[InstrumentBook, LegSnapshot],
        no: tuple[InstrumentBook, LegSnapshot],
    ) -> tuple[list[TradeSignal], list[TradeSignal]]:
        """(hedges, adds): at most one signal, in seed 003's order bootstrap, hedge, average
        down; none while either side has a buy pending (the pending-flag guard)."""
        if yes[1].pending_buy or no[1].pending_buy:
            return [], []
        (long_book, long_leg), (short_book, short_leg) = sorted(
            (yes, no), key=lambda side: side[1].quantity, reverse=True
        )
        if long_leg.quantity == 0:
            cheaper = min(
                (book for book in (yes[0], no[0]) if book.best_ask is not None),
                key=lambda book: book.best_ask.price,  # type: ignore[union-attr]
                default=None,
            )
            if cheaper is None:
                return [], []
            return [], self._buy(market, cheaper, self.order_size, "bootstrap: the cheaper side")
        short_ask = short_book.best_ask
        gap = long_leg.quantity - short_leg.quantity
        if (
            short_ask is not None
            and gap > 0
            and long_leg.avg_open_price + short_ask.price < self.payout - self.hedge_margin
        ):
            size = min(gap, short_ask.size)
            reason = f"hedge: {gap} more of the other side at {short_ask.price}"
            return self._buy(market, short_book, size, reason), []
        long_ask = long_book.best_ask
        if (
            long_ask is not None
            and long_ask.price <= long_leg.avg_open_price - self.average_down
            and long_leg.quantity < self.max_position
        ):
            reason = f"average down: ask {long_ask.price} under {long_leg.avg_open_price}"
            return [], self._buy(market, long_book, self.order_size, reason)
        return [], []

    def _buy(
        self, market: MarketSnapshot, book: InstrumentBook, size: Decimal, reason: str
    ) -> list[TradeSignal]:
        ask = book.best_ask
        size = min(size, ask.size) if ask is not None else Decimal(0)
        if ask is None or size <= 0:
            return []
        return [
            TradeSignal(
                market_id=market.market_id,
                security_id=book.security_id,
                side=OrderSide.BUY,
                price=ask.price,
                size=size,
                priority=INVENTORY,
                reason=reason,
            )
        ]


def resolve(stages: Stages, market: MarketSnapshot, band: Decimal) -> list[TradeSignal]:
    """The priorities: safety blocks all, arbitrage goes alone past the oracle, hedges go as
    they are and the inventory that adds risk goes through the oracle."""
    if stages.blocked is not None:
        return []
    if stages.arbitrage:
        return stages.arbitrage
    return [*stages.hedges, *(kept for add in stages.adds if (kept := oracle(add, market, band)))]


def oracle(signal: TradeSignal, market: MarketSnapshot, band: Decimal) -> TradeSignal | None:
    """The signal past the oracle: dropped if the reference says its side is losing (by more
    than ``band``, relative to the strike), priority 1 if it says it is winning, as it was
    when there is no reference or strike."""
    reference = market.reference
    if reference is None or reference.strike is None:
        return signal
    lead = (reference.price - reference.strike) / reference.strike
    if abs(lead) <= band:
        return signal
    winning = Outcome.YES if lead > 0 else Outcome.NO
    side = next(book.outcome for book in market.books if book.security_id == signal.security_id)
    if side is not winning:
        return None
    return attrs.evolve(signal, priority=ORACLE, reason=f"{signal.reason}; oracle agrees")


def _mark(book: InstrumentBook) -> Decimal:
    """What one share is worth now: the mid, else the best bid, else nothing."""
    if book.mid is not None:
        return book.mid
    return book.best_bid.price if book.best_bid is not None else Decimal(0)


evaluate = Seed003Chain()
"""The chain with its default parameters: ``--strategy actors.seed003:evaluate``."""
