"""OrderActor: one per order; owns the order state machine and applies each fill once."""

from __future__ import annotations

from typing import Any

import pykka

from actors.base import RuntimeActor, handles
from actors.errors import InvalidTransitionError
from actors.fill_outcome import FillResult
from actors.order_state import Order
from messages.commands import CancelOrder, ClearPending, GetSnapshot, OrderClosed
from messages.fills import Fill
from messages.orders import (
    CancelDenied,
    CancelRejected,
    FillRefusal,
    FillRefused,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderSnapshot,
    OrderUpdated,
)


class OrderActor(RuntimeActor):
    """Turns venue reports into state-machine triggers and tells others what changed.

    An applied fill goes to the order's own PositionActor (the one of the order's market,
    fixed at creation, so a late fill after a market switch lands on the old market). A
    closed order stays alive and addressable: a fill the venue made before a cancel took
    effect can still arrive, and is applied.
    """

    kind = "order"

    def __init__(
        self,
        order: Order,
        *,
        position: pykka.ActorRef[Any],
        execution: pykka.ActorRef[Any],
        venue: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any],
    ) -> None:
        super().__init__(order_id=order.order_id, market_id=order.market_id)
        self.order = order
        self.position = position
        self.execution = execution
        self.venue = venue
        self.bus = bus
        self._close_reported = False

    def on_start(self) -> None:
        self._publish("submitted")

    @handles(GetSnapshot)
    def _get_snapshot(self, _message: GetSnapshot) -> OrderSnapshot:
        return self.order.snapshot()

    @handles(Fill)
    def _fill(self, fill: Fill) -> None:
        outcome = self.order.apply_fill(fill)
        if outcome.result is FillResult.APPLIED:
            self.position.tell(fill)
            self._publish("fill")
            return
        if outcome.result is FillResult.DUPLICATE:
            self.log.info("duplicate_fill_ignored", fill_id=fill.fill_id)
            return
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

    @handles(OrderAccepted)
    def _accepted(self, _message: OrderAccepted) -> None:
        version = self.order.version
        self.order.accept()
        if self.order.version != version:
            self._publish("accepted")

    @handles(OrderRejected)
    def _rejected(self, message: OrderRejected) -> None:
        try:
            self.order.reject()
        except InvalidTransitionError as error:
            self.log.error("venue_reject_ignored", reason=message.reason, transition=str(error))
            return
        self.log.warning("order_rejected", reason=message.reason)
        self._publish(f"rejected: {message.reason}")

    @handles(CancelOrder)
    def _cancel(self, message: CancelOrder) -> None:
        refusal = self.order.request_cancel()
        if refusal is not None:
            self.log.info("cancel_denied", reason=refusal)
            self.bus.tell(
                CancelDenied(
                    correlation_id=message.id, order_id=self.order.order_id, reason=refusal
                )
            )
            return
        self.venue.tell(message)
        self._publish("cancel requested")

    @handles(OrderCancelled)
    def _cancelled(self, message: OrderCancelled) -> None:
        version = self.order.version
        self.order.cancelled()
        if self.order.version != version:
            self._publish(f"cancelled: {message.reason}")

    @handles(CancelRejected)
    def _cancel_rejected(self, message: CancelRejected) -> None:
        version = self.order.version
        self.order.cancel_refused()
        if self.order.version != version:
            self._publish(f"cancel refused: {message.reason}")

    def _publish(self, cause: str) -> None:
        snapshot = self.order.snapshot()
        self.bus.tell(
            OrderUpdated(correlation_id=self.order.correlation_id, cause=cause, order=snapshot)
        )
        if self.order.is_closed and not self._close_reported:
            self._close_reported = True
            self.position.tell(ClearPending(order_id=self.order.order_id))
            self.execution.tell(
                OrderClosed(order_id=self.order.order_id, market_id=self.order.market_id)
            )
