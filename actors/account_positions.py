"""AccountPositionsActor: the broker-account view of positions, and where it is corrected.

It applies, in journal order, every booked broker deal and every adjustment (both come
through the journal, so a restarted one rebuilds exactly from the fold), publishes each
change, and compares itself with the broker's positions when the reconciler asks: a
difference no booked deal explains is booked as a ``PositionCorrected`` with the reason,
recorded as a ``Correction`` (old, new, why), and, above the alert threshold, logged as an
error and counted in a metric.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pykka

from actors.account_book import AccountBook
from actors.base import RuntimeActor, handles, tell_quietly
from actors.metrics import POSITION_DELTA_LATENCY_MS, RECONCILIATION_MISMATCH_ALERTS
from actors.position_accounting import Leg
from actors.runtime_state import account_stream
from messages.broker_events import (
    AccountPosition,
    AccountPositionChanged,
    Correction,
    CorrectionKind,
    DealBooked,
    DealRefused,
    PositionCorrected,
)
from messages.journal_protocol import Append, DuplicateRefused, Forward
from messages.orders import FillRefusal
from messages.reconciliation import ComparePositions, PositionsCompared
from supervisors.child_spec import SupervisedContext
from supervisors.supervised import Supervised

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
        clock: Callable[[], int] = time.time_ns,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.book = book
        self.journal = journal
        self.bus = bus
        self.alert_notional = alert_notional
        self.clock = clock
        self.last_recv_ns: dict[tuple[str, str], int] = {}
        self._absent_once: set[tuple[str, str]] = set()

    def positions(self) -> tuple[AccountPosition, ...]:
        """Every position the book holds, flat ones included (for callers outside)."""
        return tuple(account_position(account, leg) for (account, _), leg in self.book.legs.items())

    @handles(DealBooked)
    def _deal(self, deal: DealBooked) -> None:
        old = self.book.quantity(deal.account, deal.security_id)
        leg = self.book.book(deal)
        recv_ns = deal.recv_ns
        key = (deal.account, deal.security_id)
        self.last_recv_ns[key] = max(self.last_recv_ns.get(key, 0), recv_ns)
        applied_ns = self._changed(deal.account, leg, recv_ns)
        if not deal.inferred and recv_ns:
            POSITION_DELTA_LATENCY_MS.observe((applied_ns - recv_ns) / 1e6)
        if deal.inferred:
            self._record(
                Correction(
                    kind=CorrectionKind.MISSING_FILL,
                    account=deal.account,
                    security_id=deal.security_id,
                    subject=f"deal {deal.fill_id}",
                    old=str(old),
                    new=str(leg.quantity),
                    reason="the broker lists a deal no callback brought",
                )
            )

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

    @handles(PositionCorrected)
    def _corrected(self, correction: PositionCorrected) -> None:
        leg = self.book.correct(correction)
        self._changed(correction.account, leg, 0)

    @handles(ComparePositions)
    def _compare(self, message: ComparePositions) -> None:
        broker = {p.security_id: p for p in message.positions if p.account == message.account}
        ours = self.book.quantities(message.account)
        corrected = 0
        unsettled: list[str] = []
        scope = set(message.security_ids) or set(broker) | set(ours)
        for security_id in broker:
            self._absent_once.discard((message.account, security_id))
        for security_id in sorted(scope):
            truth = broker.get(security_id)
            want = truth.quantity if truth is not None else Decimal(0)
            have = ours.get(security_id, Decimal(0))
            if want == have:
                continue
            key = (message.account, security_id)
            if self.last_recv_ns.get(key, 0) > message.since_ns or security_id in message.pending:
                unsettled.append(security_id)
                continue
            if truth is None and key not in self._absent_once:
                # A paged answer can skip an entry when the list moves between pages; a
                # position is only corrected to nothing when two answers in a row omit it.
                self._absent_once.add(key)
                unsettled.append(security_id)
                continue
            self._absent_once.discard(key)
            price = (
                truth.avg_price if truth is not None else self._avg(message.account, security_id)
            )
            self._correct(message, security_id, have, want, price)
            corrected += 1
        if message.reply_to is not None:
            # Answered once the corrections are applied here: through the journal, behind them.
            answer = PositionsCompared(
                account=message.account, corrected=corrected, unsettled=tuple(unsettled)
            )
            self.journal.tell(
                Forward(
                    message=_Answer(to=message.reply_to, answer=answer),
                    deliver_to=self.actor_ref,
                )
            )

    @handles(_Answer)
    def _answer(self, message: _Answer) -> None:
        tell_quietly(message.to, message.answer)

    def _correct(
        self,
        message: ComparePositions,
        security_id: str,
        have: Decimal,
        want: Decimal,
        price: Decimal,
    ) -> None:
        account = message.account
        delta = want - have
        reason = (
            f"{message.reason}: the broker holds {want}, the book {have}, and no booked deal "
            "explains the difference"
        )
        self.journal.tell(
            Append(
                event=PositionCorrected(
                    account=account,
                    security_id=security_id,
                    quantity=delta,
                    price=price,
                    reason=reason,
                ),
                stream=account_stream(account),
                dedup_key=f"corrected:{account}:{security_id}:{have}:{want}:{self.book.deals}",
                deliver_to=self.actor_ref,
            )
        )
        self._record(
            Correction(
                kind=CorrectionKind.POSITION,
                account=account,
                security_id=security_id,
                subject="quantity",
                old=str(have),
                new=str(want),
                reason=reason,
            )
        )
        notional = abs(delta) * price
        if notional >= self.alert_notional:
            MISMATCH_ALERTS.labels(account=account).inc()
            self.log.error(
                "reconciliation_mismatch",
                account=account,
                security_id=security_id,
                ours=str(have),
                broker=str(want),
                notional=str(notional),
            )
        else:
            self.log.warning(
                "position_corrected",
                account=account,
                security_id=security_id,
                ours=str(have),
                broker=str(want),
            )

    def _avg(self, account: str, security_id: str) -> Decimal:
        leg = self.book.legs.get((account, security_id))
        return leg.avg_open_price if leg is not None else Decimal(0)

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
