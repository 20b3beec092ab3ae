"""PositionActor: one per market (and account, strategy); the netted position of its legs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.batch_delivery import BatchReceiver
from actors.fill_outcome import FillResult
from actors.metrics import FILL_CHARGES, FILL_REVERSALS
from actors.position_accounting import PositionBook, apply_position_event
from actors.runtime_state import position_stream
from messages.enums import PositionStatus
from messages.journal import ChargeApplied, FillApplied, PositionSettlement, ReversalApplied
from messages.journal_protocol import Route
from messages.market_data import MarketSnapshot
from messages.orders import FillRefused
from messages.position_commands import ClearPending, MarkPending
from messages.positions import (
    PositionDelta,
    PositionFillCharged,
    PositionFillReversed,
    PositionOpened,
    PositionSettled,
    PositionSnapshot,
)
from messages.queries import GetSnapshot
from messages.refs import Recipient
from supervisors.kernel.base import PublishingActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised


class PositionActor(BatchReceiver, Supervised, PublishingActor):
    """Applies journaled fills, pending flags and settlement; marks legs at the mid.

    Everything that changes the position reaches it from the journal, in journal order, so
    the journal's replay of the position stream rebuilds exactly this state; given a loader
    instead of a book (``supervisors.assembly.recovery.position_loader``), the actor rebuilds itself
    from the journal before it takes a message. Subscribers
    (strategies) get a PositionSnapshot on every fill, pending-flag change and settlement;
    the position index and then the event bus get PositionDelta per fill,
    PositionFillReversed per fill taken back, PositionFillCharged per broker's charge for a
    fill, and the lifecycle events (opened, settled).
    Mark-only changes are not pushed (they follow every book tick); ask GetSnapshot for them.
    """

    kind = "position"

    def __init__(
        self,
        book: PositionBook | Callable[[], tuple[PositionBook, int]],
        *,
        bus: pykka.ActorRef[Any],
        parent: pykka.ActorRef[Any] | None = None,
        journal: pykka.ActorRef[Any] | None = None,
        index: pykka.ActorRef[Any] | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self._source = book
        self.bus = bus
        self.index = index
        self.parent = parent
        self.journal = journal

    def on_start(self) -> None:
        """Take the book, or rebuild it from the journal, before the first message."""
        source = self._source
        if isinstance(source, PositionBook):
            self.book = source
        else:
            self.book, covered = source()
            if self.journal is not None:
                self.journal.tell(
                    Route(
                        stream=position_stream(self.book.position_id),
                        subscriber=self.actor_ref,
                        after_seq=covered,
                    )
                )
        self.log = self.log.bind(
            market_id=self.book.market_id, account=self.book.account, strategy=self.book.strategy
        )
        self._lifecycle(PositionOpened(position=self.book.snapshot()))
        if self.book.status is PositionStatus.SETTLED and self.parent is not None:
            # Its predecessor may have died before telling the parent; archiving twice is a
            # no-op there.
            tell_quietly(self.parent, PositionSettled(position=self.book.snapshot()))

    def welcome(self, subscriber: Recipient) -> None:
        tell_quietly(subscriber, self.book.snapshot())

    @handles(GetSnapshot, reads_only=True)
    def _get_snapshot(self, _message: GetSnapshot) -> PositionSnapshot:
        return self.book.snapshot()

    @handles(FillApplied)
    def _fill(self, message: FillApplied) -> None:
        fill = message.fill
        outcome = apply_position_event(self.book, message)
        assert outcome is not None
        if outcome.result is FillResult.DUPLICATE:
            self.log.info("duplicate_fill_ignored", fill_id=fill.fill_id, order_id=fill.order_id)
            return
        if outcome.result is FillResult.REFUSED:
            assert outcome.refusal is not None
            self.log.error(
                "fill_refused",
                fill_id=fill.fill_id,
                order_id=fill.order_id,
                reason=outcome.refusal.value,
                detail=outcome.detail,
            )
            self.bus.tell(
                FillRefused(
                    correlation_id=fill.order_id,
                    fill=fill,
                    reason=outcome.refusal,
                    detail=outcome.detail,
                )
            )
            return
        leg = self.book.leg_snapshot(fill.security_id)
        correlation_id = message.correlation_id or fill.order_id
        self.log.info(
            "fill_booked",
            order_id=fill.order_id,
            correlation_id=correlation_id,
            fill_id=fill.fill_id,
            security_id=fill.security_id,
            quantity=leg.quantity,
            realized_pnl=leg.realized_pnl,
        )
        self._lifecycle(
            PositionDelta(
                correlation_id=correlation_id,
                position_id=self.book.position_id,
                market_id=self.book.market_id,
                version=self.book.version,
                fill=fill,
                leg=leg,
            )
        )
        if self.subscribers:
            self.publish(self.book.snapshot())

    @handles(ReversalApplied)
    def _reversal(self, message: ReversalApplied) -> None:
        reversal = message.reversal
        outcome = apply_position_event(self.book, message)
        assert outcome is not None
        FILL_REVERSALS.labels(by="position", outcome=outcome.label).inc()
        if not outcome.applied:
            assert outcome.refusal is not None
            self.log.error(
                "fill_reversal_refused",
                fill_id=reversal.fill_id,
                order_id=reversal.order_id,
                reason=outcome.refusal.value,
                detail=outcome.detail,
            )
            self.bus.tell(outcome.reversal_refused(reversal, reversal.order_id))
            return
        leg = self.book.leg_snapshot(reversal.security_id)
        correlation_id = message.correlation_id or reversal.order_id
        self.log.warning(
            "fill_reversal_booked",
            order_id=reversal.order_id,
            correlation_id=correlation_id,
            fill_id=reversal.fill_id,
            security_id=reversal.security_id,
            quantity=leg.quantity,
            realized_pnl=leg.realized_pnl,
            reason=reversal.reason,
        )
        self._lifecycle(
            PositionFillReversed(
                correlation_id=correlation_id,
                position_id=self.book.position_id,
                market_id=self.book.market_id,
                version=self.book.version,
                reversal=reversal,
                leg=leg,
            )
        )
        if self.subscribers:
            self.publish(self.book.snapshot())

    @handles(ChargeApplied)
    def _charge(self, message: ChargeApplied) -> None:
        charge = message.charge
        outcome = apply_position_event(self.book, message)
        assert outcome is not None
        FILL_CHARGES.labels(by="position", outcome=outcome.label).inc()
        if outcome.result is FillResult.DUPLICATE:
            self.log.info("duplicate_charge_ignored", fill_id=charge.fill_id)
            return
        if not outcome.applied:
            self.log.error(
                "fill_charge_refused",
                fill_id=charge.fill_id,
                order_id=charge.order_id,
                reason=outcome.label,
                detail=outcome.detail,
            )
            self.bus.tell(outcome.charge_refused(charge, charge.order_id))
            return
        leg = self.book.leg_snapshot(charge.security_id)
        correlation_id = message.correlation_id or charge.order_id
        self.log.info(
            "fill_charge_booked",
            order_id=charge.order_id,
            correlation_id=correlation_id,
            fill_id=charge.fill_id,
            security_id=charge.security_id,
            change=charge.change,
            fees=leg.fees,
        )
        self._lifecycle(
            PositionFillCharged(
                correlation_id=correlation_id,
                position_id=self.book.position_id,
                market_id=self.book.market_id,
                version=self.book.version,
                charge=charge,
                leg=leg,
            )
        )
        if self.subscribers:
            self.publish(self.book.snapshot())

    def _lifecycle(
        self,
        event: PositionOpened
        | PositionDelta
        | PositionFillReversed
        | PositionFillCharged
        | PositionSettled,
    ) -> None:
        """The index hears a change first, then the bus; subscribers after both, so nothing
        a change causes can reach risk before the index has it."""
        if self.index is not None:
            tell_quietly(self.index, event)
        self.bus.tell(event)

    @handles(MarketSnapshot)
    def _market(self, message: MarketSnapshot) -> None:
        if message.market_id == self.book.market_id:
            self.book.set_marks(message)

    @handles(MarkPending)
    def _mark_pending(self, message: MarkPending) -> None:
        version = self.book.version
        apply_position_event(self.book, message)
        if self.book.version != version:
            self.publish(self.book.snapshot())

    @handles(ClearPending)
    def _clear_pending(self, message: ClearPending) -> None:
        version = self.book.version
        apply_position_event(self.book, message)
        if self.book.version != version:
            self.publish(self.book.snapshot())

    @handles(PositionSettlement)
    def _settle(self, message: PositionSettlement) -> None:
        version = self.book.version
        apply_position_event(self.book, message)
        if self.book.version == version:
            return
        settled = PositionSettled(position=self.book.snapshot())
        self.log.info(
            "position_settled",
            realized_pnl=settled.position.realized_pnl,
            fees=settled.position.fees,
        )
        self._lifecycle(settled)
        self.publish(settled.position)
        if self.parent is not None:
            # A dead parent means the core is restarting: its successor archives what the
            # journal shows settled.
            tell_quietly(self.parent, settled)
