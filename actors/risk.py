"""RiskActor: every signal is checked against the limits before it can become an order.

Execution tells it ``CheckSignal`` and goes on with its mailbox; the answer comes back as a
tell (``RiskApproved`` / ``RiskDenied``), so nothing blocks on anything. When a rule needs
positions, risk asks the position index the same way (``TrackersFor`` → ``Trackers``) and
decides when the answer arrives; checks are answered in the order they came. Marks for
unrealized PnL come from the markets' snapshots, which risk subscribes to. Limits are
replaced at run time with ``SetLimits`` and journaled, so a restart keeps them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pykka

from actors.risk_rules import denial, lookup_for, needs_index
from actors.runtime_state import RISK_STREAM
from messages.journal_protocol import Append
from messages.market_data import MarketSnapshot
from messages.risk import (
    CheckSignal,
    LimitsChanged,
    RiskApproved,
    RiskDenied,
    RiskLimits,
    SetLimits,
    Trackers,
)
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised


class RiskActor(Supervised, RuntimeActor):
    kind = "risk"

    def __init__(
        self,
        *,
        index: pykka.ActorRef[Any] | None,
        limits: RiskLimits | None = None,
        journal: pykka.ActorRef[Any] | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.index = index
        self.journal = journal
        self.limits = limits if limits is not None else RiskLimits()
        self.marks: dict[str, Decimal] = {}
        self.waiting: dict[str | None, CheckSignal] = {}
        self.approved = self.denied = 0

    @handles(SetLimits)
    def _set_limits(self, message: SetLimits) -> None:
        self.limits = message.limits
        if self.journal is not None:
            self.journal.tell(
                Append(event=LimitsChanged(limits=message.limits), stream=RISK_STREAM)
            )
        self.log.info("risk_limits_set", limits=str(message.limits))

    @handles(MarketSnapshot)
    def _market(self, snapshot: MarketSnapshot) -> None:
        for book in snapshot.books:
            if book.mid is not None:
                self.marks[book.security_id] = book.mid

    @handles(CheckSignal)
    def _check(self, check: CheckSignal) -> None:
        if self.index is None or not needs_index(self.limits):
            self._answer(check, None)
            return
        self.waiting[check.id] = check
        self.index.tell(
            lookup_for(check.signal, self.limits, reply_to=self.actor_ref, context=check.id)
        )

    @handles(Trackers)
    def _trackers(self, trackers: Trackers) -> None:
        check = self.waiting.pop(trackers.context, None)
        if check is None:
            self.log.warning("trackers_for_no_check", context=str(trackers.context))
            return
        self._answer(check, trackers)

    def _answer(self, check: CheckSignal, trackers: Trackers | None) -> None:
        signal = check.signal
        reason = denial(
            signal,
            self.limits,
            open_orders=check.open_orders,
            trackers=trackers,
            marks=self.marks,
        )
        if reason is None:
            self.approved += 1
            answer: RiskApproved | RiskDenied = RiskApproved(signal=signal)
        else:
            self.denied += 1
            self.log.info(
                "signal_denied_by_risk",
                market_id=signal.market_id,
                security_id=signal.security_id,
                reason=reason,
            )
            answer = RiskDenied(signal=signal, reason=reason)
        if check.reply_to is not None:
            check.reply_to.tell(answer)
