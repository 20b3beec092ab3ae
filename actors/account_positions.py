"""AccountPositionsActor: the broker-account view of positions, and where it is corrected.

It applies, in journal order, every booked broker deal and every adjustment (both come
through the journal, so a restarted one rebuilds exactly from the fold), publishes each
change, and compares itself with the broker's positions when the reconciler asks: a
difference no booked deal explains is booked as a ``PositionCorrected`` with the reason,
recorded as a ``Correction`` (old, new, why), and, above the alert threshold, logged as an
error and counted in a metric. What to correct is ``AccountComparison``'s decision; this
actor journals, publishes and logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pykka

from actors.account_book import AccountBook
from actors.account_comparison import AccountComparison, Adjustment
from actors.metrics import (
    PNL_MISMATCH_ALERTS,
    POSITION_DELTA_LATENCY_MS,
    RECONCILIATION_MISMATCH_ALERTS,
    SETTLEMENT_MISMATCH_ALERTS,
)
from actors.position_accounting import Leg
from actors.runtime_state import account_stream
from actors.settlement_calendar import SettlementCalendar
from messages.broker_events import (
    AccountPosition,
    AccountPositionChanged,
    Correction,
    DealBooked,
    DealRefused,
    DealReversed,
    FeeBooked,
    PnlMismatch,
    PositionCorrected,
    SettlementMismatch,
)
from messages.journal_protocol import Append, DuplicateRefused, Forward
from messages.orders import FillRefusal
from messages.reconciliation import ComparePositions, PositionsCompared
from supervisors.kernel.base import RuntimeActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised

MISMATCH_ALERTS = RECONCILIATION_MISMATCH_ALERTS


def account_position(account: str, leg: Leg) -> AccountPosition:
    return AccountPosition(
        account=account,
        security_id=leg.security_id,
        quantity=leg.quantity,
        cost=leg.cost,
        avg_price=leg.avg_open_price,
        realized_pnl=leg.realized_pnl,
        fees=leg.fees,
    )


@attrs.frozen(kw_only=True, slots=True)
class _Answer:
    """A comparison's answer, held back until the corrections before it are applied."""

    to: Any
    answer: PositionsCompared


class AccountPositionsActor(Supervised, RuntimeActor):
    kind = "account_positions"

    def __init__(
        self,
        book: AccountBook,
        *,
        journal: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
        alert_notional: Decimal = Decimal(1000),
        pnl_alert: Decimal = Decimal(100),
        calendar: SettlementCalendar | None = None,
        settlement_alert: Decimal = Decimal(100),
        clock: Callable[[], int] = time.time_ns,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.accounts = AccountComparison(
            book,
            alert_notional=alert_notional,
            pnl_alert=pnl_alert,
            calendar=calendar,
            settlement_alert=settlement_alert,
        )
        self.journal = journal
        self.bus = bus
        self.clock = clock

    def positions(self) -> tuple[AccountPosition, ...]:
        """Every position the book holds, flat ones included (for callers outside)."""
        legs = self.accounts.book.legs.items()
        return tuple(account_position(account, leg) for (account, _), leg in legs)

    @handles(DealBooked)
    def _deal(self, deal: DealBooked) -> None:
        leg, correction = self.accounts.book_deal(deal)
        applied_ns = self._changed(deal.account, leg, deal.recv_ns)
        if not deal.inferred and deal.recv_ns:
            POSITION_DELTA_LATENCY_MS.observe((applied_ns - deal.recv_ns) / 1e6)
        if correction is not None:
            self._record(correction)

    @handles(FeeBooked)
    def _fee(self, fee: FeeBooked) -> None:
        leg = self.accounts.book.charge(fee)
        self.log.info(
            "deal_fee_booked",
            fill_id=fee.fill_id,
            booked_fee=str(fee.booked_fee),
            fee=str(fee.fee),
            tax=str(fee.tax),
        )
        self._changed(fee.account, leg, 0)

    @handles(DuplicateRefused)
    def _deal_refused(self, message: DuplicateRefused[DealBooked]) -> None:
        """The journal holds this deal's identity with other data: the book is unchanged."""
        deal, booked = message.event, message.journaled
        self.log.error(
            "deal_refused",
            fill_id=deal.fill_id,
            account=deal.account,
            reason=FillRefusal.CONFLICTING_DUPLICATE.value,
            detail=message.detail,
        )
        self.bus.tell(
            DealRefused(
                deal=deal,
                booked=booked,
                reason=FillRefusal.CONFLICTING_DUPLICATE,
                detail=message.detail,
            )
        )

    @handles(DealReversed)
    def _deal_reversed(self, reversal: DealReversed) -> None:
        """The broker took a booked deal back: its leg as if the deal never came."""
        leg = self.accounts.reverse(reversal)
        if leg is None:
            self.log.warning(
                "account_reversal_of_unbooked_deal",
                fill_id=reversal.fill_id,
                account=reversal.account,
                reason=reversal.reason,
            )
            return
        self._changed(reversal.account, leg, reversal.recv_ns)

    @handles(PositionCorrected)
    def _corrected(self, correction: PositionCorrected) -> None:
        leg = self.accounts.correct(correction)
        self._changed(correction.account, leg, 0)

    @handles(ComparePositions)
    def _compare(self, message: ComparePositions) -> None:
        comparison = self.accounts.compare(message)
        for adjustment in comparison.adjustments:
            self._correct(adjustment)
        for mismatch in comparison.pnl_mismatches:
            self._pnl_mismatch(mismatch)
        for settlement in comparison.settlement_mismatches:
            self._settlement_mismatch(settlement)
        if message.reply_to is not None:
            # Answered once the corrections are applied here: through the journal, behind them.
            self.journal.tell(
                Forward(
                    message=_Answer(to=message.reply_to, answer=comparison.answer),
                    deliver_to=self.actor_ref,
                )
            )

    @handles(_Answer)
    def _answer(self, message: _Answer) -> None:
        tell_quietly(message.to, message.answer)

    def _correct(self, adjustment: Adjustment) -> None:
        event, record = adjustment.event, adjustment.record
        self.journal.tell(
            Append(
                event=event,
                stream=account_stream(event.account),
                dedup_key=adjustment.dedup_key,
                deliver_to=self.actor_ref,
            )
        )
        self._record(record)
        if adjustment.alert:
            MISMATCH_ALERTS.labels(account=event.account).inc()
            self.log.error(
                "reconciliation_mismatch",
                account=event.account,
                security_id=event.security_id,
                ours=record.old,
                broker=record.new,
                notional=str(adjustment.notional),
            )
        else:
            self.log.warning(
                "position_corrected",
                account=event.account,
                security_id=event.security_id,
                ours=record.old,
                broker=record.new,
            )

    def _pnl_mismatch(self, mismatch: PnlMismatch) -> None:
        """An alert, not a correction: journaled for the audit trail and published."""
        PNL_MISMATCH_ALERTS.labels(account=mismatch.account).inc()
        self.log.error(
            "pnl_mismatch",
            account=mismatch.account,
            security_id=mismatch.security_id,
            ours=str(mismatch.ours),
            broker=str(mismatch.broker),
            difference=str(mismatch.difference),
            fee=str(mismatch.fee),
            tax=str(mismatch.tax),
        )
        self.journal.tell(Append(event=mismatch, stream=account_stream(mismatch.account)))
        self.bus.tell(mismatch)

    def _settlement_mismatch(self, mismatch: SettlementMismatch) -> None:
        """An alert like a PnL mismatch: journaled, published, logged and counted."""
        SETTLEMENT_MISMATCH_ALERTS.labels(account=mismatch.account).inc()
        self.log.error(
            "settlement_mismatch",
            account=mismatch.account,
            date=mismatch.date,
            ours=str(mismatch.ours),
            broker=str(mismatch.broker),
            difference=str(mismatch.difference),
        )
        self.journal.tell(Append(event=mismatch, stream=account_stream(mismatch.account)))
        self.bus.tell(mismatch)

    def _record(self, correction: Correction) -> None:
        self.journal.tell(Append(event=correction, stream=account_stream(correction.account)))
        self.bus.tell(correction)

    def _changed(self, account: str, leg: Leg, recv_ns: int) -> int:
        applied_ns = self.clock()
        self.bus.tell(
            AccountPositionChanged(
                position=account_position(account, leg), recv_ns=recv_ns, applied_ns=applied_ns
            )
        )
        return applied_ns
