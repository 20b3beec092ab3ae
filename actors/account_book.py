"""AccountBook: positions as the broker holds them, per (account, security), to the digit.

The market PositionActors see the runtime's own orders by market and strategy; the broker
sees an account, whatever placed the orders. This book is that second view, kept from every
booked broker deal (ours or not) and every reconciliation adjustment, so it can be compared
with the broker's truth line by line. Accounting is the positions' own (``Leg``).
"""

from __future__ import annotations

from decimal import Decimal

from actors.position_accounting import Leg
from actors.settlement_calendar import deal_cash, hour_of
from messages.broker_events import DealBooked, FeeBooked, PositionCorrected
from messages.mementos import AccountCashMemento, AccountLegMemento

AccountKey = tuple[str, str]
"""(account, security_id)."""


class AccountBook:
    """Net quantity, cost, realized PnL and fees per (account, security); and the cash the
    deals settle, per (account, UTC hour of match time), to date by the exchange's calendar
    when it is compared with the broker's settlements."""

    def __init__(self) -> None:
        self.legs: dict[AccountKey, Leg] = {}
        self.cash: dict[tuple[str, int], Decimal] = {}
        self.deals = 0

    def book(self, deal: DealBooked) -> Leg:
        """Net one deal into its leg (the journal has already dropped a repeated deal)."""
        leg = self._leg(deal.account, deal.security_id)
        leg.trade(deal.signed_size, deal.price, deal.fee)
        self._settle(
            deal.account, deal.match_ts, deal_cash(deal.side, deal.price, deal.size, deal.fee)
        )
        self.deals += 1
        return leg

    def charge(self, fee: FeeBooked) -> Leg:
        """The broker's fee and tax for a booked deal, in place of the fee it was booked with."""
        leg = self._leg(fee.account, fee.security_id)
        leg.fees += fee.change
        self._settle(fee.account, fee.match_ts, -fee.change)
        return leg

    def correct(self, correction: PositionCorrected) -> Leg:
        """Book an adjustment: ``quantity`` (signed) at ``price``, no fee."""
        leg = self._leg(correction.account, correction.security_id)
        leg.trade(correction.quantity, correction.price)
        return leg

    def quantity(self, account: str, security_id: str) -> Decimal:
        leg = self.legs.get((account, security_id))
        return leg.quantity if leg is not None else Decimal(0)

    def quantities(self, account: str) -> dict[str, Decimal]:
        """Every non-zero position of ``account``, by security."""
        return {
            security_id: leg.quantity
            for (owner, security_id), leg in self.legs.items()
            if owner == account and leg.quantity != 0
        }

    def memento(self) -> tuple[AccountLegMemento, ...]:
        return tuple(
            AccountLegMemento(account=account, leg=leg.memento())
            for (account, _), leg in self.legs.items()
        )

    def cash_memento(self) -> tuple[AccountCashMemento, ...]:
        return tuple(
            AccountCashMemento(account=account, hour=hour, amount=amount)
            for (account, hour), amount in self.cash.items()
        )

    @classmethod
    def from_memento(
        cls,
        legs: tuple[AccountLegMemento, ...],
        deals: int = 0,
        cash: tuple[AccountCashMemento, ...] = (),
    ) -> AccountBook:
        book = cls()
        for entry in legs:
            book.legs[(entry.account, entry.leg.security_id)] = Leg.from_memento(entry.leg)
        book.cash = {(entry.account, entry.hour): entry.amount for entry in cash}
        book.deals = deals
        return book

    def _settle(self, account: str, match_ts: int, amount: Decimal) -> None:
        key = (account, hour_of(match_ts))
        self.cash[key] = self.cash.get(key, Decimal(0)) + amount

    def _leg(self, account: str, security_id: str) -> Leg:
        key = (account, security_id)
        leg = self.legs.get(key)
        if leg is None:
            leg = self.legs[key] = Leg(security_id)
        return leg
