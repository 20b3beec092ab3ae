"""Netting accounting for one position (one market, account and strategy), in exact Decimals.

Plain classes with no threads: the PositionActor owns a ``PositionBook`` and turns messages
into calls here. Each instrument of the market is a ``Leg`` that nets buys against sells.

Cash is conserved to the last digit: for every leg, ``realized_pnl - cost`` is exactly the
sum of the fills' cash flows. Only the pro-rata share of cost removed by a partial close is
rounded (a 28-digit division); the same rounded amount leaves ``cost`` and enters
``realized_pnl``, and every addition, subtraction and multiplication runs in ``EXACT`` so
nothing else rounds. The price of that guarantee is that ``cost`` and ``realized_pnl`` can
carry more than 28 digits after such a close.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

from actors.exact_decimal import EXACT, PRO_RATA
from actors.fill_outcome import APPLIED, FillOutcome, charge_repeat, refused, repeat_outcome
from messages.enums import OrderSide, PositionStatus
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import ChargeApplied, FillApplied, PositionSettlement, ReversalApplied
from messages.market_data import MarketSnapshot
from messages.mementos import LegMemento, OrderMemento, PositionMemento
from messages.orders import FillRefusal
from messages.position_commands import ClearPending, MarkPending
from messages.positions import LegSnapshot, PositionSnapshot


class Leg:
    """One instrument of a position: a signed quantity netted at average cost.

    ``cost`` is the signed cash paid to open the current quantity (negative for a short),
    ``realized_pnl`` is gross of fees and ``fees`` are kept apart, so a snapshot can show
    both gross and net PnL.
    """

    __slots__ = ("cost", "fees", "mark", "quantity", "realized_pnl", "security_id")

    def __init__(self, security_id: str) -> None:
        self.security_id = security_id
        self.quantity = Decimal(0)
        self.cost = Decimal(0)
        self.realized_pnl = Decimal(0)
        self.fees = Decimal(0)
        self.mark: Decimal | None = None

    @property
    def avg_open_price(self) -> Decimal:
        """Average price paid (or received, for a short) per unit held; 0 when flat."""
        if self.quantity == 0:
            return Decimal(0)
        return abs(self.cost / self.quantity)

    @property
    def unrealized_pnl(self) -> Decimal:
        """What closing at the mark would realize; 0 when flat or never marked.

        Exact (no rounding), so ``realized_pnl + unrealized_pnl`` is the exact cash-flow PnL.
        """
        if self.mark is None or self.quantity == 0:
            return Decimal(0)
        return EXACT.subtract(EXACT.multiply(self.quantity, self.mark), self.cost)

    def apply(self, fill: Fill) -> None:
        """Net one fill into the leg: open or add, close pro rata, or close and flip.

        Raises ``ValueError`` for another instrument's fill: the book routes fills by
        ``security_id``, so that would be a bug, not a venue's doing.
        """
        if fill.security_id != self.security_id:
            raise ValueError(
                f"fill {fill.fill_id} is for {fill.security_id}, not leg {self.security_id}"
            )
        self.trade(fill.signed_size, fill.price, fill.fee)

    def trade(self, signed: Decimal, price: Decimal, fee: Decimal = Decimal(0)) -> None:
        """Net ``signed`` units at ``price`` (positive buys) into the leg, paying ``fee``."""
        self.fees = EXACT.add(self.fees, fee)
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            self._open(signed, price)
            return
        held = self.quantity.copy_abs()
        close = min(held, signed.copy_abs())
        signed_close = close if signed > 0 else close.copy_negate()
        if close == held:
            removed_cost = self.cost
        else:
            removed_cost = PRO_RATA.divide(EXACT.multiply(self.cost, close), held)
        cash_received = EXACT.multiply(signed_close.copy_negate(), price)
        self.realized_pnl = EXACT.add(
            self.realized_pnl, EXACT.subtract(cash_received, removed_cost)
        )
        self.quantity = EXACT.add(self.quantity, signed_close)
        if self.quantity == 0:
            self.cost = Decimal(0)
        else:
            self.cost = EXACT.subtract(self.cost, removed_cost)
        rest = EXACT.subtract(signed, signed_close)
        if rest != 0:
            self._open(rest, price)

    def settle(self, price: Decimal) -> None:
        """Close the whole quantity at the resolution ``price`` (the payout, or 0).

        The market no longer trades, so what the leg held becomes realized PnL and the mark
        stays at the price it settled at.
        """
        proceeds = EXACT.multiply(self.quantity, price)
        self.realized_pnl = EXACT.add(self.realized_pnl, EXACT.subtract(proceeds, self.cost))
        self.quantity = Decimal(0)
        self.cost = Decimal(0)
        self.mark = price

    def snapshot(self, *, pending_buy: bool, pending_sell: bool) -> LegSnapshot:
        """The leg as an immutable message; the book knows the pending orders, so it says."""
        return LegSnapshot(
            security_id=self.security_id,
            quantity=self.quantity,
            cost=self.cost,
            avg_open_price=self.avg_open_price,
            realized_pnl=self.realized_pnl,
            fees=self.fees,
            mark=self.mark,
            unrealized_pnl=self.unrealized_pnl,
            pending_buy=pending_buy,
            pending_sell=pending_sell,
        )

    def memento(self) -> LegMemento:
        """The leg's numbers, digit for digit, for a position's memento."""
        return LegMemento(
            security_id=self.security_id,
            quantity=self.quantity,
            cost=self.cost,
            realized_pnl=self.realized_pnl,
            fees=self.fees,
            mark=self.mark,
        )

    @classmethod
    def from_memento(cls, memento: LegMemento) -> Leg:
        """The leg ``memento`` was taken from (no fill replayed, so nothing rounds again)."""
        leg = cls(memento.security_id)
        leg.quantity = memento.quantity
        leg.cost = memento.cost
        leg.realized_pnl = memento.realized_pnl
        leg.fees = memento.fees
        leg.mark = memento.mark
        return leg

    def _open(self, signed: Decimal, price: Decimal) -> None:
        self.quantity = EXACT.add(self.quantity, signed)
        self.cost = EXACT.add(self.cost, EXACT.multiply(signed, price))

    def __repr__(self) -> str:
        return (
            f"Leg({self.security_id} qty={self.quantity} cost={self.cost} "
            f"realized={self.realized_pnl} fees={self.fees} mark={self.mark})"
        )


class PositionBook:
    """One position's legs, the fills already applied, and the orders still open on it.

    Fills are keyed on ``fill_id`` so a redelivery is a no-op. ``version`` goes up by one on
    every change and never on a refusal or a no-op, so subscribers can drop stale snapshots.
    """

    def __init__(
        self,
        *,
        position_id: str,
        market_id: str,
        account: str,
        strategy: str,
        security_ids: tuple[str, ...],
    ) -> None:
        if not security_ids or len(set(security_ids)) != len(security_ids):
            raise ValueError(f"security_ids must be non-empty and distinct, got {security_ids}")
        self.position_id = position_id
        self.market_id = market_id
        self.account = account
        self.strategy = strategy
        self.security_ids = security_ids
        self._legs = {security_id: Leg(security_id) for security_id in security_ids}
        self._fills: dict[str, Fill] = {}
        self._reversed: list[str] = []
        self._charges: dict[str, FillCharged] = {}
        self._pending: dict[str, tuple[str, OrderSide]] = {}
        self._status = PositionStatus.OPEN
        self._version = 0

    @property
    def status(self) -> PositionStatus:
        return self._status

    @property
    def version(self) -> int:
        return self._version

    def leg(self, security_id: str) -> Leg:
        """The live leg of ``security_id``; raises ``KeyError`` for an instrument not held."""
        return self._legs[security_id]

    def apply_fill(self, fill: Fill) -> FillOutcome:
        """Apply a fill once, or say why not; a refusal or a duplicate changes nothing.

        A fill already applied is answered as a duplicate even after settlement: its
        redelivery is harmless and should not raise a settled-position alarm.
        """
        if fill.market_id != self.market_id or fill.security_id not in self._legs:
            return refused(
                FillRefusal.MISMATCHED_ORDER,
                f"fill {fill.fill_id} is for {fill.market_id}/{fill.security_id}; position "
                f"{self.position_id} holds {self.market_id}/{', '.join(self.security_ids)}",
            )
        repeat = repeat_outcome(self._fills, fill)
        if repeat is not None:
            return repeat
        if fill.fill_id in self._reversed:
            return refused(FillRefusal.ALREADY_REVERSED, f"fill {fill.fill_id} was reversed before")
        if self._status is PositionStatus.SETTLED:
            return refused(
                FillRefusal.POSITION_SETTLED,
                f"fill {fill.fill_id} arrived after position {self.position_id} settled",
            )
        self._legs[fill.security_id].apply(fill)
        self._fills[fill.fill_id] = fill
        self._version += 1
        return APPLIED

    def apply_reversal(self, reversal: FillReversed) -> FillOutcome:
        """Take back an applied fill: its leg is netted again from the fills that remain.

        Quantity, cost, realized PnL and fees are then exactly what they would be had the
        fill never come (a close's pro-rata rounding depends on what came before it, so the
        leg is recomputed, not unwound); the mark stays. A settled position paid out on the
        quantity it held, so it refuses, as it does a fill; a repeated reversal, or one of a
        fill it never applied, is refused and changes nothing.
        """
        fill_id = reversal.fill_id
        if fill_id in self._reversed:
            return refused(FillRefusal.ALREADY_REVERSED, f"fill {fill_id} was reversed before")
        fill = self._fills.get(fill_id)
        if fill is None:
            return refused(
                FillRefusal.UNKNOWN_FILL, f"position {self.position_id} applied no fill {fill_id}"
            )
        if self._status is PositionStatus.SETTLED:
            return refused(
                FillRefusal.POSITION_SETTLED,
                f"reversal of {fill_id} arrived after position {self.position_id} settled",
            )
        del self._fills[fill_id]
        self._reversed.append(fill_id)
        self._charges.pop(fill_id, None)
        old = self._legs[fill.security_id]
        leg = Leg(fill.security_id)
        for kept in self._fills.values():
            if kept.security_id == leg.security_id:
                leg.apply(kept)
        for charge in self._charges.values():
            if charge.security_id == leg.security_id:
                leg.fees = EXACT.add(leg.fees, charge.change)
        leg.mark = old.mark
        self._legs[fill.security_id] = leg
        self._version += 1
        return APPLIED

    def apply_charge(self, charge: FillCharged) -> FillOutcome:
        """The broker's fee and tax for an applied fill, in place of the fee it was booked
        with: its leg's fees change by ``charge.change``, once; quantity, cost and realized
        PnL (gross of fees) do not. A repeat is a duplicate; other figures for a charged
        fill, a charge of a fill this position does not hold (never applied, or reversed),
        or one after settlement (it paid out, its fees are final) are refused and change
        nothing.
        """
        fill_id = charge.fill_id
        repeat = charge_repeat(self._charges, charge)
        if repeat is not None:
            return repeat
        if fill_id in self._reversed:
            return refused(FillRefusal.ALREADY_REVERSED, f"fill {fill_id} was reversed")
        fill = self._fills.get(fill_id)
        if fill is None:
            return refused(
                FillRefusal.UNKNOWN_FILL, f"position {self.position_id} applied no fill {fill_id}"
            )
        if self._status is PositionStatus.SETTLED:
            return refused(
                FillRefusal.POSITION_SETTLED,
                f"charge of {fill_id} arrived after position {self.position_id} settled",
            )
        if charge.security_id != fill.security_id:
            return refused(
                FillRefusal.MISMATCHED_ORDER,
                f"charge of {fill_id} is for {charge.security_id}, its fill {fill.security_id}",
            )
        leg = self._legs[fill.security_id]
        leg.fees = EXACT.add(leg.fees, charge.change)
        self._charges[fill_id] = charge
        self._version += 1
        return APPLIED

    def mark_pending(self, order_id: str, security_id: str, side: OrderSide) -> None:
        """Record an open order, so strategies see that side of the leg as already working.

        Raises ``KeyError`` for an instrument the position does not hold (a routing bug).
        """
        self.leg(security_id)
        if self._pending.get(order_id) == (security_id, side):
            return
        self._pending[order_id] = (security_id, side)
        self._version += 1

    def clear_pending(self, order_id: str) -> None:
        """Forget an order that reached a terminal state; an unknown order is a no-op."""
        if self._pending.pop(order_id, None) is not None:
            self._version += 1

    def carries(self, order: OrderMemento) -> bool:
        """Whether every effect of ``order`` is here: each of its fills applied (and
        charged), each it took back applied and reversed, and the order no longer pending.
        A closed order that a recovered position carries has nothing to journal for it
        again."""
        return (
            order.order_id not in self._pending
            and all(fill.fill_id in self._fills for fill in order.fills)
            and all(charge.fill_id in self._charges for charge in order.charges)
            and all(entry.fill.fill_id in self._reversed for entry in order.reversed)
        )

    def is_pending(self, security_id: str, side: OrderSide) -> bool:
        """True while any open order works ``side`` of the leg ``security_id``."""
        return (security_id, side) in self._pending.values()

    def set_marks(self, snapshot: MarketSnapshot) -> bool:
        """Mark each leg at its book's mid, so unrealized PnL follows the market.

        A book without a mid leaves the mark as it was; books of other instruments are
        ignored. A settled position keeps its settlement marks. Returns whether any mark
        changed (and so whether ``version`` went up).
        """
        if self._status is PositionStatus.SETTLED:
            return False
        changed = False
        for book in snapshot.books:
            leg = self._legs.get(book.security_id)
            mid = book.mid
            if leg is None or mid is None or mid == leg.mark:
                continue
            leg.mark = mid
            changed = True
        if changed:
            self._version += 1
        return changed

    def settle(self, winning_security_id: str, payout: Decimal) -> None:
        """Close every leg at resolution: the winner at ``payout``, the others at 0.

        Settling twice is a no-op, so a redelivered resolution cannot pay out again. Raises
        ``ValueError`` when the winner is not one of the legs: settling every leg at 0 on a
        wrong id would silently book the whole position as a loss.
        """
        if self._status is PositionStatus.SETTLED:
            return
        if winning_security_id not in self._legs:
            raise ValueError(
                f"winning security {winning_security_id} is not a leg of position "
                f"{self.position_id} ({', '.join(self.security_ids)})"
            )
        for security_id, leg in self._legs.items():
            leg.settle(payout if security_id == winning_security_id else Decimal(0))
        self._pending.clear()
        self._status = PositionStatus.SETTLED
        self._version += 1

    def snapshot(self) -> PositionSnapshot:
        """The position as an immutable message, legs in ``security_ids`` order."""
        return PositionSnapshot(
            position_id=self.position_id,
            market_id=self.market_id,
            account=self.account,
            strategy=self.strategy,
            status=self._status,
            version=self._version,
            legs=tuple(self.leg_snapshot(security_id) for security_id in self._legs),
        )

    def leg_snapshot(self, security_id: str) -> LegSnapshot:
        """One leg as an immutable message, with its pending flags (a delta needs no more)."""
        return self._legs[security_id].snapshot(
            pending_buy=self.is_pending(security_id, OrderSide.BUY),
            pending_sell=self.is_pending(security_id, OrderSide.SELL),
        )

    def memento(self) -> PositionMemento:
        """Everything the position holds, so a journal snapshot can restore it without replay."""
        return PositionMemento(
            position_id=self.position_id,
            market_id=self.market_id,
            account=self.account,
            strategy=self.strategy,
            security_ids=self.security_ids,
            status=self._status,
            version=self._version,
            legs=tuple(leg.memento() for leg in self._legs.values()),
            pending=tuple(
                (order_id, security_id, side)
                for order_id, (security_id, side) in self._pending.items()
            ),
            fills=tuple(self._fills.values()),
            reversed=tuple(self._reversed),
            charges=tuple(self._charges.values()),
        )

    @classmethod
    def from_memento(cls, memento: PositionMemento) -> PositionBook:
        """The position ``memento`` was taken from, state set directly rather than replayed.

        Replaying the fills would bump ``version`` for every mark and pending change lost on
        the way; the restored book answers every later call exactly as the original would.
        """
        book = cls(
            position_id=memento.position_id,
            market_id=memento.market_id,
            account=memento.account,
            strategy=memento.strategy,
            security_ids=memento.security_ids,
        )
        book._legs = {leg.security_id: Leg.from_memento(leg) for leg in memento.legs}
        book._fills = {fill.fill_id: fill for fill in memento.fills}
        book._reversed = list(memento.reversed)
        book._charges = {charge.fill_id: charge for charge in memento.charges}
        book._pending = {
            order_id: (security_id, side) for order_id, security_id, side in memento.pending
        }
        book._status = memento.status
        book._version = memento.version
        return book

    def __repr__(self) -> str:
        return (
            f"PositionBook({self.position_id} {self.market_id} {self._status.name} "
            f"v{self._version})"
        )


PositionEvent: TypeAlias = (
    FillApplied | ReversalApplied | ChargeApplied | MarkPending | ClearPending | PositionSettlement
)
"""What the journal's ``position:<id>`` stream holds after the position's creation."""


def apply_position_event(book: PositionBook, event: PositionEvent) -> FillOutcome | None:
    """One journaled position event, applied: the only code the PositionActor and the fold use.

    A fill, a reversal or a charge answers its outcome; the other events answer None (compare
    ``version`` to see a change). Raises what the book raises for a broken invariant (a
    pending flag or a winner on an instrument it does not hold), and ``TypeError`` for any
    other kind.
    """
    if isinstance(event, FillApplied):
        return book.apply_fill(event.fill)
    if isinstance(event, ReversalApplied):
        return book.apply_reversal(event.reversal)
    if isinstance(event, ChargeApplied):
        return book.apply_charge(event.charge)
    if isinstance(event, MarkPending):
        book.mark_pending(event.order_id, event.security_id, event.side)
    elif isinstance(event, ClearPending):
        book.clear_pending(event.order_id)
    elif isinstance(event, PositionSettlement):
        book.settle(event.winning_security_id, event.payout)
    else:
        raise TypeError(f"{type(event).__name__} is not a position event")
    return None
