"""AccountComparison: the account book against the broker's positions, and what to correct.

A plain class with no threads, so it is tested without actors. It owns the ``AccountBook``
and the two things a fair comparison must remember: when each (account, security) last
had a deal (one booked while the broker was asked is still moving, not wrong) and which
were absent from the broker's last answer (a paged answer can skip an entry, so a position
is corrected to nothing only when two answers in a row omit it). ``compare`` decides; the
``AccountPositionsActor`` journals, publishes and logs what it decided.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

import attrs

from actors.account_book import AccountBook, AccountKey
from actors.position_accounting import Leg
from actors.settlement_calendar import SettlementCalendar
from messages.broker_events import (
    Correction,
    CorrectionKind,
    DealBooked,
    DealReversed,
    PnlMismatch,
    PositionCorrected,
    SettlementMismatch,
)
from messages.reconciliation import ComparePositions, PositionsCompared


@attrs.frozen(kw_only=True, slots=True)
class Adjustment:
    """One security to correct: the adjustment to journal (under ``dedup_key``, so a
    comparison repeated before it is applied books it once), its record, and whether its
    notional reaches the alert threshold."""

    event: PositionCorrected
    dedup_key: str
    record: Correction
    notional: Decimal
    alert: bool


@attrs.frozen(kw_only=True, slots=True)
class Comparison:
    """What one ``ComparePositions`` decided: the adjustments in security order, and the
    answer (to send once they are applied)."""

    adjustments: tuple[Adjustment, ...]
    answer: PositionsCompared
    pnl_mismatches: tuple[PnlMismatch, ...] = ()
    settlement_mismatches: tuple[SettlementMismatch, ...] = ()


class AccountComparison:
    """Books deals and corrections into ``book``; compares it with the broker's positions."""

    def __init__(
        self,
        book: AccountBook,
        *,
        alert_notional: Decimal = Decimal(1000),
        pnl_alert: Decimal = Decimal(100),
        calendar: SettlementCalendar | None = None,
        settlement_alert: Decimal = Decimal(100),
    ) -> None:
        self.book = book
        self.alert_notional = alert_notional
        self.pnl_alert = pnl_alert
        self.calendar = calendar if calendar is not None else SettlementCalendar()
        self.settlement_alert = settlement_alert
        self.last_recv_ns: dict[AccountKey, int] = {}
        self.absent_once: set[AccountKey] = set()

    def book_deal(self, deal: DealBooked) -> tuple[Leg, Correction | None]:
        """Net the deal into its leg; a deal no callback brought (``inferred``) is also a
        correction, recorded as such."""
        old = self.book.quantity(deal.account, deal.security_id)
        leg = self.book.book(deal)
        key = (deal.account, deal.security_id)
        self.last_recv_ns[key] = max(self.last_recv_ns.get(key, 0), deal.recv_ns)
        if not deal.inferred:
            return leg, None
        return leg, Correction(
            kind=CorrectionKind.MISSING_FILL,
            account=deal.account,
            security_id=deal.security_id,
            subject=f"deal {deal.fill_id}",
            old=str(old),
            new=str(leg.quantity),
            reason="the broker lists a deal no callback brought",
        )

    def correct(self, correction: PositionCorrected) -> Leg:
        """Apply a journaled adjustment."""
        return self.book.correct(correction)

    def reverse(self, reversal: DealReversed) -> Leg | None:
        """Take a booked deal back (None if the book holds no such deal); the leg moved, so
        a comparison read before the reversal leaves it unsettled."""
        leg = self.book.reverse(reversal)
        if leg is not None:
            key = (reversal.account, reversal.security_id)
            self.last_recv_ns[key] = max(self.last_recv_ns.get(key, 0), reversal.recv_ns)
        return leg

    def compare(self, message: ComparePositions) -> Comparison:
        """Every difference no booked deal explains, as an adjustment to the broker's
        quantity at its average price; what is still moving or once absent is unsettled."""
        account = message.account
        broker = {p.security_id: p for p in message.positions if p.account == account}
        ours = self.book.quantities(account)
        adjustments: list[Adjustment] = []
        unsettled: list[str] = []
        scope = set(message.security_ids) or set(broker) | set(ours)
        for security_id in broker:
            self.absent_once.discard((account, security_id))
        for security_id in sorted(scope):
            truth = broker.get(security_id)
            want = truth.quantity if truth is not None else Decimal(0)
            have = ours.get(security_id, Decimal(0))
            if want == have:
                continue
            key = (account, security_id)
            if self.last_recv_ns.get(key, 0) > message.since_ns or security_id in message.pending:
                unsettled.append(security_id)
                continue
            if truth is None and key not in self.absent_once:
                self.absent_once.add(key)
                unsettled.append(security_id)
                continue
            self.absent_once.discard(key)
            price = truth.avg_price if truth is not None else self._avg(account, security_id)
            adjustments.append(self._adjustment(message, security_id, have, want, price))
        answer = PositionsCompared(
            account=account,
            corrected=len(adjustments),
            unsettled=tuple(unsettled),
            reason=message.reason if unsettled else "",
        )
        mismatches = self._compare_pnl(
            message, skip=set(unsettled) | {a.event.security_id for a in adjustments}
        )
        return Comparison(
            adjustments=tuple(adjustments),
            answer=answer,
            pnl_mismatches=mismatches,
            settlement_mismatches=self._compare_settlements(message),
        )

    def _compare_settlements(self, message: ComparePositions) -> tuple[SettlementMismatch, ...]:
        """The cash our deals settle on each date the broker reports, against its amount,
        while no deal of the account is moving. A date whose cash comes from trade dates
        before the book's first deal is not compared: the broker's amount holds deals this
        journal never saw."""
        if message.settlements is None:
            return ()
        account = message.account
        if any(
            recv_ns > message.since_ns
            for (owner, _), recv_ns in self.last_recv_ns.items()
            if owner == account
        ):
            return ()
        by_date: defaultdict[datetime.date, Decimal] = defaultdict(Decimal)
        for (owner, hour), amount in self.book.cash.items():
            if owner == account:
                by_date[self.calendar.trade_date(hour)] += amount
        if not by_date:
            return ()
        first = min(by_date)
        ours: defaultdict[datetime.date, Decimal] = defaultdict(Decimal)
        for trade_date, amount in by_date.items():
            ours[self.calendar.settles_on(trade_date)] += amount
        mismatches = []
        for settlement in message.settlements:
            if settlement.account != account:
                continue
            try:
                day = datetime.date.fromisoformat(settlement.date)
            except ValueError:
                continue  # a broker's date we cannot read is not ours to compare
            traded = self.calendar.first_trade_date(day)
            if traded is None or traded < first:
                continue
            difference = ours[day] - settlement.amount
            if abs(difference) <= self.settlement_alert:
                continue
            mismatches.append(
                SettlementMismatch(
                    account=account,
                    date=settlement.date,
                    ours=ours[day],
                    broker=settlement.amount,
                    difference=difference,
                    reason=f"{message.reason}: the cash settling on {settlement.date} differs "
                    f"from the broker's by {difference}, over the threshold "
                    f"{self.settlement_alert}",
                )
            )
        return tuple(mismatches)

    def _compare_pnl(self, message: ComparePositions, *, skip: set[str]) -> tuple[PnlMismatch, ...]:
        """Realized PnL (gross of fees) against the broker's, where no deal is moving and no
        position is being corrected; a difference over ``pnl_alert`` is a mismatch. Not
        corrected: the book's PnL follows from its deals, so a difference is the broker's
        to explain (a fee booked as PnL, a deal priced otherwise), and an operator's to see."""
        if message.profit_loss is None:
            return ()
        account = message.account
        broker = {p.security_id: p for p in message.profit_loss if p.account == account}
        ours = {
            security_id: leg.realized_pnl
            for (owner, security_id), leg in self.book.legs.items()
            if owner == account
        }
        scope = set(message.security_ids) or set(broker) | set(ours)
        mismatches = []
        for security_id in sorted(scope - skip):
            if self.last_recv_ns.get((account, security_id), 0) > message.since_ns:
                continue
            truth = broker.get(security_id)
            theirs = truth.realized_pnl if truth is not None else Decimal(0)
            have = ours.get(security_id, Decimal(0))
            difference = have - theirs
            if abs(difference) <= self.pnl_alert:
                continue
            mismatches.append(
                PnlMismatch(
                    account=account,
                    security_id=security_id,
                    ours=have,
                    broker=theirs,
                    difference=difference,
                    fee=truth.fee if truth is not None else Decimal(0),
                    tax=truth.tax if truth is not None else Decimal(0),
                    reason=f"{message.reason}: realized PnL differs from the broker's by "
                    f"{difference}, over the threshold {self.pnl_alert}",
                )
            )
        return tuple(mismatches)

    def _adjustment(
        self,
        message: ComparePositions,
        security_id: str,
        have: Decimal,
        want: Decimal,
        price: Decimal,
    ) -> Adjustment:
        account = message.account
        delta = want - have
        reason = (
            f"{message.reason}: the broker holds {want}, the book {have}, and no booked deal "
            "explains the difference"
        )
        notional = abs(delta) * price
        return Adjustment(
            event=PositionCorrected(
                account=account,
                security_id=security_id,
                quantity=delta,
                price=price,
                reason=reason,
            ),
            dedup_key=f"corrected:{account}:{security_id}:{have}:{want}:{self.book.deals}",
            record=Correction(
                kind=CorrectionKind.POSITION,
                account=account,
                security_id=security_id,
                subject="quantity",
                old=str(have),
                new=str(want),
                reason=reason,
            ),
            notional=notional,
            alert=notional >= self.alert_notional,
        )

    def _avg(self, account: str, security_id: str) -> Decimal:
        leg = self.book.legs.get((account, security_id))
        return leg.avg_open_price if leg is not None else Decimal(0)
