"""OrderActor: one per order; owns the order state machine and applies each fill once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.batch_delivery import BatchReceiver
from actors.fill_outcome import FillOutcome, FillResult, refused
from actors.metrics import FILL_CHARGES, FILL_REVERSALS
from actors.order_state import Order, apply_order_event
from actors.runtime_state import order_stream, position_stream
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal import CancelRequested, ChargeApplied, FillApplied, ReversalApplied
from messages.journal_protocol import Append, DuplicateRefused, Route
from messages.order_commands import CancelOrder
from messages.orders import (
    CancelDenied,
    CancelRejected,
    FillRefusal,
    FillRefused,
    OrderAccepted,
    OrderCancelled,
    OrderClosed,
    OrderRejected,
    OrderSnapshot,
    OrderUpdated,
)
from messages.position_commands import ClearPending, MarkPending
from messages.queries import GetSnapshot
from messages.refs import Recipient
from messages.supervision import AdoptOrders, OrderQuiesced, PositionRestarted, QuiesceOrder
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised

_CAUSES = {
    OrderAccepted: "accepted",
    OrderRejected: "rejected",
    OrderCancelled: "cancelled",
    CancelRejected: "cancel refused",
    CancelRequested: "cancel requested",
}


class OrderActor(BatchReceiver, Supervised, RuntimeActor):
    """Applies journaled venue reports to its Order and tells others what changed.

    Every event reaches this actor from the journal, after it is durable, in journal order.
    An applied fill is journaled again as FillApplied for the order's own PositionActor (the
    one of the order's market, fixed at creation, so a late fill after a market switch lands
    on the old market; when that position is restarted, the supervisor tells the order the
    new ref). A closed order is quiesced and stopped (execution keeps its last snapshot); a
    fill the venue made before a cancel took effect can still arrive: execution has the
    actor started again from the journal, and the fill is applied; so can a reversal (a fill
    the venue took back), journaled again as ReversalApplied for the position, and so can a
    broker's charge for a fill (FillCharged), journaled again as ChargeApplied. A reversal
    that opens a closed order again marks its side pending again and has execution guard
    it, and its next close is reported anew. Given a loader instead of
    an order (``supervisors.assembly.recovery.order_loader``), it rebuilds itself from the journal
    before it takes a message.
    """

    kind = "order"

    def __init__(
        self,
        order: Order | Callable[[], tuple[Order, int]],
        *,
        position: Recipient,
        position_id: str,
        execution: pykka.ActorRef[Any],
        venue: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
        journal: pykka.ActorRef[Any],
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self._source = order
        self._close_reported = False
        self.position = position
        self.position_id = position_id
        self.execution = execution
        self.venue = venue
        self.bus = bus
        self.journal = journal

    def on_start(self) -> None:
        """Take the order, or rebuild it from the journal, before the first message."""
        source = self._source
        if isinstance(source, Order):
            self.order = source
        else:
            self.order, covered = source()
            self.journal.tell(
                Route(
                    stream=order_stream(self.order.order_id),
                    subscriber=self.actor_ref,
                    after_seq=covered,
                )
            )
        self.log = self.log.bind(
            order_id=self.order.order_id,
            market_id=self.order.market_id,
            correlation_id=self.order.correlation_id,
        )
        if self.order.version == 0:
            self.log.info(
                "order_submitted",
                security_id=self.order.security_id,
                side=self.order.side,
                size=self.order.size,
                price=self.order.price,
            )
            self._publish("submitted")
        else:
            self._reassert()

    def _reassert(self) -> None:
        """Make again what a rebuilt order's events should have caused.

        The journal may hold events its predecessor never got to process (it died with them
        in its mailbox), so their effects may be missing: every fill is journaled again for
        the position and a closed order reports its close again. Dedup keys make each of
        these a no-op where the effect already exists.
        """
        for fill in self.order.memento().fills:
            self._apply_to_position(fill)
        for charge in self.order.charges:
            self._charge_on_position(charge)
        for entry in self.order.reversed_fills:
            self._apply_to_position(entry.fill)
            self._reverse_on_position(entry.reversal)
        if self.order.reopened and not self.order.is_closed:
            self._reopen()
        self.log.info("order_recovered", status=self.order.status)
        self._publish("recovered")

    @handles(GetSnapshot, reads_only=True)
    def _get_snapshot(self, _message: GetSnapshot) -> OrderSnapshot:
        return self.order.snapshot()

    @handles(QuiesceOrder)
    def _quiesce(self, _message: QuiesceOrder) -> None:
        """Everything routed here is handled: hand execution the snapshot to keep."""
        self.execution.tell(
            OrderQuiesced(order_id=self.order.order_id, snapshot=self.order.snapshot())
        )

    @handles(PositionRestarted)
    def _position_restarted(self, message: PositionRestarted) -> None:
        """The supervisor restarted this order's position: address the new actor from now."""
        if message.market_id == self.order.market_id:
            self.position = message.position
            self.log.info("position_ref_replaced")

    @handles(Fill)
    def _fill(self, fill: Fill) -> None:
        outcome = apply_order_event(self.order, fill)
        assert outcome is not None
        if outcome.result is FillResult.APPLIED:
            self.log.info(
                "fill_applied",
                fill_id=fill.fill_id,
                size=fill.size,
                price=fill.price,
                filled=self.order.filled,
                status=self.order.status,
            )
            self._apply_to_position(fill)
            self._publish("fill")
            return
        if outcome.result is FillResult.DUPLICATE:
            self.log.info("duplicate_fill_ignored", fill_id=fill.fill_id)
            return
        self._refuse(fill, outcome)

    @handles(FillReversed)
    def _fill_reversed(self, reversal: FillReversed) -> None:
        was_closed = self.order.is_closed
        outcome = apply_order_event(self.order, reversal)
        assert outcome is not None
        FILL_REVERSALS.labels(by="order", outcome=outcome.label).inc()
        if not outcome.applied:
            assert outcome.refusal is not None
            self.log.error(
                "fill_reversal_refused",
                fill_id=reversal.fill_id,
                reason=outcome.refusal.value,
                detail=outcome.detail,
            )
            self.bus.tell(outcome.reversal_refused(reversal, self.order.correlation_id))
            return
        self.log.warning(
            "fill_reversed",
            fill_id=reversal.fill_id,
            reason=reversal.reason,
            filled=self.order.filled,
            status=self.order.status,
        )
        self._reverse_on_position(reversal)
        if was_closed and not self.order.is_closed:
            self._reopen()
        self._publish(f"fill reversed: {reversal.reason}")

    @handles(FillCharged)
    def _fill_charged(self, charge: FillCharged) -> None:
        outcome = apply_order_event(self.order, charge)
        assert outcome is not None
        FILL_CHARGES.labels(by="order", outcome=outcome.label).inc()
        if outcome.result is FillResult.DUPLICATE:
            self.log.info("duplicate_charge_ignored", fill_id=charge.fill_id)
            return
        if not outcome.applied:
            self.log.error(
                "fill_charge_refused",
                fill_id=charge.fill_id,
                reason=outcome.label,
                detail=outcome.detail,
            )
            self.bus.tell(outcome.charge_refused(charge, self.order.correlation_id))
            return
        self.log.info(
            "fill_charged",
            fill_id=charge.fill_id,
            booked_fee=charge.booked_fee,
            fee=charge.fee,
            tax=charge.tax,
            fees=self.order.fees,
        )
        self._charge_on_position(charge)
        self._publish("fill charged")

    def _reopen(self) -> None:
        """Open again: the side is pending on the position and guarded by execution."""
        self._close_reported = False
        self._journal_for_position(
            MarkPending(
                order_id=self.order.order_id,
                security_id=self.order.security_id,
                side=self.order.side,
            ),
            dedup_key=f"pending:{self.order.order_id}:{self.order.reopened}",
        )
        self.execution.tell(AdoptOrders(orders=(self.order.memento(),)))

    @handles(DuplicateRefused)
    def _duplicate_refused(self, message: DuplicateRefused[Fill]) -> None:
        """The journal holds this fill's id with other data: refused before it got here."""
        fill = message.event
        self._refuse(
            fill,
            refused(
                FillRefusal.CONFLICTING_DUPLICATE,
                f"fill {fill.fill_id} was already journaled with other data: {message.detail}",
            ),
        )

    def _refuse(self, fill: Fill, outcome: FillOutcome) -> None:
        """Nothing changes; say so on the bus and in an error line."""
        assert outcome.refusal is not None
        alert = outcome.refusal is FillRefusal.CONFLICTING_DUPLICATE
        self.log.error(
            "fill_refused",
            fill_id=fill.fill_id,
            reason=outcome.refusal.value,
            detail=outcome.detail,
            alert=alert,
        )
        self.bus.tell(
            FillRefused(
                correlation_id=self.order.correlation_id,
                fill=fill,
                reason=outcome.refusal,
                detail=outcome.detail,
            )
        )

    @handles(OrderAccepted, OrderRejected, OrderCancelled, CancelRejected, CancelRequested)
    def _report(self, event: Any) -> None:
        version = self.order.version
        apply_order_event(self.order, event)
        if self.order.version == version:
            self.log.info("order_event_changed_nothing", kind=type(event).__name__)
            return
        if isinstance(event, CancelRequested):
            self.venue.tell(CancelOrder(order_id=self.order.order_id, reason=event.reason))
        reason = getattr(event, "reason", None)
        cause = _CAUSES[type(event)]
        self.log.info("order_" + cause.replace(" ", "_"), status=self.order.status, reason=reason)
        self._publish(f"{cause}: {reason}" if reason else cause)

    @handles(CancelOrder)
    def _cancel(self, message: CancelOrder) -> None:
        refusal = self.order.cancel_refusal()
        if refusal is not None:
            self.log.info("cancel_denied", reason=refusal)
            self.bus.tell(
                CancelDenied(
                    correlation_id=message.id, order_id=self.order.order_id, reason=refusal
                )
            )
            return
        self.journal.tell(
            Append(
                event=CancelRequested(order_id=self.order.order_id, reason=message.reason),
                stream=order_stream(self.order.order_id),
                deliver_to=self.actor_ref,
            )
        )

    def _apply_to_position(self, fill: Fill) -> None:
        self._journal_for_position(
            FillApplied(
                position_id=self.position_id,
                fill=fill,
                correlation_id=self.order.correlation_id,
            ),
            dedup_key=f"applied:{fill.fill_id}",
        )

    def _reverse_on_position(self, reversal: FillReversed) -> None:
        self._journal_for_position(
            ReversalApplied(
                position_id=self.position_id,
                reversal=reversal,
                correlation_id=self.order.correlation_id,
            ),
            dedup_key=f"unapplied:{reversal.fill_id}",
        )

    def _charge_on_position(self, charge: FillCharged) -> None:
        self._journal_for_position(
            ChargeApplied(
                position_id=self.position_id,
                charge=charge,
                correlation_id=self.order.correlation_id,
            ),
            dedup_key=f"charge_applied:{charge.fill_id}",
        )

    def _journal_for_position(self, event: object, dedup_key: str | None = None) -> None:
        self.journal.tell(
            Append(
                event=event,
                stream=position_stream(self.position_id),
                dedup_key=dedup_key,
                deliver_to=self.position,
            )
        )

    def _publish(self, cause: str) -> None:
        snapshot = self.order.snapshot()
        self.bus.tell(
            OrderUpdated(correlation_id=self.order.correlation_id, cause=cause, order=snapshot)
        )
        if self.order.is_closed and not self._close_reported:
            # Each close after a reopening is its own fact, so its key counts them.
            reopened = self.order.reopened
            self._journal_for_position(
                ClearPending(order_id=self.order.order_id),
                dedup_key=f"cleared:{self.order.order_id}" + (f":{reopened}" if reopened else ""),
            )
            self.execution.tell(
                OrderClosed(order_id=self.order.order_id, market_id=self.order.market_id)
            )
            self._close_reported = True
