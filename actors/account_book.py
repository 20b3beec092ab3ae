"""AccountBook: positions as the broker holds them, per (account, security), to the digit.

The market PositionActors see the runtime's own orders by market and strategy; the broker
sees an account, whatever placed the orders. This book is that second view, kept from every
booked broker deal (ours or not) and every reconciliation adjustment, so it can be compared
with the broker's truth line by line. Accounting is the positions' own (``Leg``).

Each leg keeps the entries it was netted from, so a deal the broker takes back
(``DealReversed``) leaves the leg exactly as if the deal never came: it is netted again
from the entries that remain (a close's pro-rata rounding depends on what came before it,
so the leg is recomputed, not unwound), as ``PositionBook.apply_reversal`` does. A leg
restored from a snapshot written before legs kept their entries has no history: a reversal
leaves it as it is, for the reconcile the reversal asks for to correct.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from actors.position_accounting import Leg
from actors.settlement_calendar import deal_cash, hour_of
from messages.broker_events import DealBooked, DealReversed, FeeBooked, PositionCorrected
from messages.mementos import AccountCashMemento, AccountEntry, AccountLegMemento

AccountKey = tuple[str, str]
"""(account, security_id)."""


class AccountBook:
    """Net quantity, cost, realized PnL and fees per (account, security); and the cash the
    deals settle, per (account, UTC hour of match time), to date by the exchange's calendar
    when it is compared with the broker's settlements."""

    def __init__(self) -> None:
        self.legs: dict[AccountKey, Leg] = {}
        self.entries: dict[AccountKey, list[AccountEntry]] = {}
        self.untracked: set[AccountKey] = set()
        """Legs whose entries are unknown (restored from a snapshot that had none)."""
        self.cash: dict[tuple[str, int], Decimal] = {}
        self.deals = 0

    def book(self, deal: DealBooked) -> Leg:
        """Net one deal into its leg (the journal has already dropped a repeated deal)."""
        leg = self._leg(deal.account, deal.security_id)
        leg.trade(deal.signed_size, deal.price, deal.fee)
        entry = AccountEntry(
            fill_id=deal.fill_id, quantity=deal.signed_size, price=deal.price, fee=deal.fee
        )
        self._keep((deal.account, deal.security_id), entry)
        self._settle(
            deal.account, deal.match_ts, deal_cash(deal.side, deal.price, deal.size, deal.fee)
        )
        self.deals += 1
        return leg

    def charge(self, fee: FeeBooked) -> Leg:
        """The broker's fee and tax for a booked deal, in place of the fee it was booked with."""
        key = (fee.account, fee.security_id)
        leg = self._leg(*key)
        leg.fees += fee.change
        self.entries[key] = [
            _charged(entry, fee) if entry.fill_id == fee.fill_id else entry
            for entry in self.entries[key]
        ]
        self._settle(fee.account, fee.match_ts, -fee.change)
        return leg

    def correct(self, correction: PositionCorrected) -> Leg:
        """Book an adjustment: ``quantity`` (signed) at ``price``, no fee."""
        leg = self._leg(correction.account, correction.security_id)
        leg.trade(correction.quantity, correction.price)
        entry = AccountEntry(
            fill_id=None, quantity=correction.quantity, price=correction.price, fee=Decimal(0)
        )
        self._keep((correction.account, correction.security_id), entry)
        return leg

    def reverse(self, reversal: DealReversed) -> Leg | None:
        """Net the deal's leg again from its other entries; None, and nothing changes, when
        the leg holds no such deal (never booked, or reversed before)."""
        key = (reversal.account, reversal.security_id)
        entries = self.entries.get(key, [])
        kept = [entry for entry in entries if entry.fill_id != reversal.fill_id]
        if len(kept) == len(entries):
            return None
        leg = Leg(reversal.security_id)
        for entry in kept:
            leg.trade(entry.quantity, entry.price, entry.fee)
        leg.mark = self.legs[key].mark
        self.legs[key], self.entries[key] = leg, kept
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
            AccountLegMemento(
                account=account,
                leg=leg.memento(),
                entries=tuple(self.entries.get((account, security_id), ())),
            )
            for (account, security_id), leg in self.legs.items()
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
            key = (entry.account, entry.leg.security_id)
            book.legs[key] = Leg.from_memento(entry.leg)
            book.entries[key] = list(entry.entries)
            leg = entry.leg
            if not entry.entries and (leg.quantity or leg.cost or leg.realized_pnl or leg.fees):
                book.untracked.add(key)
        book.cash = {(entry.account, entry.hour): entry.amount for entry in cash}
        book.deals = deals
        return book

    def _keep(self, key: AccountKey, entry: AccountEntry) -> None:
        if key not in self.untracked:
            self.entries[key].append(entry)

    def _settle(self, account: str, match_ts: int, amount: Decimal) -> None:
        key = (account, hour_of(match_ts))
        self.cash[key] = self.cash.get(key, Decimal(0)) + amount

    def _leg(self, account: str, security_id: str) -> Leg:
        key = (account, security_id)
        leg = self.legs.get(key)
        if leg is None:
            leg = self.legs[key] = Leg(security_id)
            self.entries[key] = []
        return leg


def _charged(entry: AccountEntry, fee: FeeBooked) -> AccountEntry:
    """The entry of a deal with the broker's charge in place of the fee it was booked with."""
    return attrs.evolve(entry, fee=entry.fee + fee.change)
