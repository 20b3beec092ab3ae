"""BrokerVenueActor: the venue role played by a broker, and the callback registration's owner.

Execution sends it what it sends the simulated venue (``SubmitOrder``, ``CancelOrder``); it
places them with the broker and journals the intent (``OrderRouted``: our order id is the
broker's order number), which it also tells the normalizer at once, so the broker's first
callbacks find the order known. Reports do not come back through here: the broker calls
the ``CallbackBridge``, which feeds the normalizer.

Registration follows seed 002: register on start, retry until it succeeds, notice a
disconnect and register again after it (and have the normalizer ask for a reconcile: the
callbacks of the lost session are gone), unregister on stop. A paper broker that matches
against the runtime's books (``MarketDataSink``) gets the market data the venue would.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import attrs
import pykka

from actors.broker import (
    Broker,
    BrokerError,
    CallbackBacklog,
    DealReversals,
    MarketDataSink,
    PositionPushes,
)
from actors.runtime_state import order_stream
from bridges.callback_bridge import CallbackBridge
from messages.broker import BrokerOrderRequest
from messages.broker_events import OrderRouted
from messages.journal_protocol import Append
from messages.market_data import MarketSnapshot
from messages.markets import MarketClosed, MarketOpened
from messages.order_commands import CancelOrder, SubmitOrder
from messages.orders import CancelRejected, OrderRejected
from messages.reconciliation import SessionRenewed
from messages.stats import ActorStats
from supervisors.kernel.base import PublishingActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler, Timer
from supervisors.kernel.supervised import Supervised


@attrs.frozen(kw_only=True, slots=True)
class LinkStatus:
    """The broker link as an operator sees it."""

    connected: bool
    registered: bool
    registrations: int
    registration_failures: int
    last_callback_ns: int
    callbacks: int


@attrs.frozen(kw_only=True, slots=True)
class _Check:
    """Time to look at the registration."""


class BrokerVenueActor(Supervised, PublishingActor):
    """Orders to the broker; rejections of orders it could not place go to subscribers."""

    kind = "broker_venue"

    def __init__(
        self,
        broker: Broker,
        *,
        normalizer: pykka.ActorRef[Any],
        journal: pykka.ActorRef[Any],
        account: str,
        strategy: str,
        routed: dict[str, str] | None = None,
        check_interval_s: float = 0.5,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.broker = broker
        self.normalizer = normalizer
        self.journal = journal
        self.account = account
        self.strategy = strategy
        self.order_numbers: dict[str, str] = dict(routed or {})
        self.check_interval_ns = int(check_interval_s * 1e9)
        self.bridge = CallbackBridge(normalizer)
        self.registered = False
        self._registered_session = -1
        self.registrations = self.registration_failures = 0
        self.scheduler = scheduler
        self._timer: Timer | None = None

    def on_start(self) -> None:
        self._timer = self.scheduler.timer("broker-link")
        self._ensure_registered()
        self._schedule_check()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if not self.registered:
            return
        self.registered = False
        try:
            self.broker.unregister_callbacks()
        except BrokerError as error:
            # The broker may go on calling: its callbacks find the normalizer gone and are
            # counted lost by the bridge; the next start registers anew.
            self.log.error("broker_unregister_failed", error=f"{type(error).__name__}: {error}")
            return
        self.log.info("broker_callbacks_unregistered")

    def on_failure(
        self,
        _exception_type: type[BaseException] | None,
        _exception_value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.on_stop()

    def stats(self) -> ActorStats:
        """A paper broker's undelivered callbacks are work in flight (``scheduled``)."""
        scheduled = (
            self.broker.pending_callbacks() if isinstance(self.broker, CallbackBacklog) else 0
        )
        return ActorStats(kind=self.kind, handled=self.handled, scheduled=scheduled)

    def status(self) -> LinkStatus:
        """For callers outside the actor: ``ref.proxy().status().get()``."""
        return LinkStatus(
            connected=self.broker.connected,
            registered=self.registered,
            registrations=self.registrations,
            registration_failures=self.registration_failures,
            last_callback_ns=self.bridge.last_callback_ns,
            callbacks=self.bridge.received,
        )

    # -- registration ----------------------------------------------------------------------

    @handles(_Check)
    def _check(self, _message: _Check) -> None:
        self._schedule_check()
        if self.registered and self.broker.session != self._registered_session:
            self.registered = False
            self.log.warning("broker_disconnected_registration_lost")
        self._ensure_registered()

    def _ensure_registered(self) -> None:
        if self.registered:
            return
        try:
            session = self.broker.session
            self.broker.register_callbacks(self.bridge.on_order, self.bridge.on_deal)
            if isinstance(self.broker, PositionPushes):
                self.broker.register_position_callback(self.bridge.on_position)
            if isinstance(self.broker, DealReversals):
                self.broker.register_reversal_callback(self.bridge.on_reversal)
        except BrokerError as error:
            self.registration_failures += 1
            self.log.warning("broker_registration_failed", error=str(error))
            return
        renewed = self.registrations > 0 or self.registration_failures > 0
        self.registered = True
        self._registered_session = session
        self.registrations += 1
        self.log.info("broker_callbacks_registered", registrations=self.registrations)
        if renewed:
            self.normalizer.tell(SessionRenewed(session=session))

    def _schedule_check(self) -> None:
        if self._timer is None:
            return
        self._timer.tell_later(self.check_interval_ns, self.actor_ref, _Check(), housekeeping=True)

    # -- orders ----------------------------------------------------------------------------

    @handles(SubmitOrder)
    def _submit(self, command: SubmitOrder) -> None:
        request = BrokerOrderRequest(
            client_order_id=command.order_id,
            account=self.account,
            security_id=command.security_id,
            side=command.side,
            price=command.price,
            size=command.size,
        )
        try:
            order_no = self.broker.place_order(request)
        except BrokerError as error:
            self.log.error("order_not_placed", order_id=command.order_id, error=str(error))
            self.publish(
                OrderRejected(
                    ts_event=0,
                    order_id=command.order_id,
                    reason=f"broker did not take the order: {error}",
                )
            )
            return
        self.order_numbers[command.order_id] = order_no
        routed = OrderRouted(
            order_id=command.order_id,
            order_no=order_no,
            account=self.account,
            strategy=self.strategy,
            market_id=command.market_id,
            security_id=command.security_id,
            side=command.side,
        )
        self.normalizer.tell(routed)
        self.journal.tell(
            Append(
                event=routed,
                stream=order_stream(command.order_id),
                dedup_key=f"routed:{command.order_id}",
            )
        )

    @handles(CancelOrder)
    def _cancel(self, command: CancelOrder) -> None:
        order_no = self.order_numbers.get(command.order_id)
        reason = None
        if order_no is None:
            reason = f"order {command.order_id} was never placed with the broker"
        else:
            try:
                self.broker.cancel_order(order_no)
            except BrokerError as error:
                reason = f"broker did not take the cancel: {error}"
        if reason is not None:
            self.log.warning("cancel_not_placed", order_id=command.order_id, reason=reason)
            self.publish(CancelRejected(ts_event=0, order_id=command.order_id, reason=reason))

    # -- market data, for a paper broker ---------------------------------------------------

    @handles(MarketOpened)
    def _market_opened(self, message: MarketOpened) -> None:
        if isinstance(self.broker, MarketDataSink):
            definition = message.definition
            self.broker.open_market(definition.market_id, definition.security_ids)

    @handles(MarketClosed)
    def _market_closed(self, message: MarketClosed) -> None:
        if isinstance(self.broker, MarketDataSink):
            self.broker.close_market(message.market_id)

    @handles(MarketSnapshot)
    def _market_snapshot(self, snapshot: MarketSnapshot) -> None:
        # The broker stamps what it matches with its own clock, as a real one does: the
        # feed's time is another clock, and a deal stamped with it fell before every
        # ``since`` the reconciler asks the broker's fills from, so no targeted reconcile
        # could see it, while the broker's positions held it.
        if isinstance(self.broker, MarketDataSink):
            for book in snapshot.books:
                self.broker.update_book(snapshot.market_id, book)
