"""NormalizerActor: raw broker callbacks in, exact and deduplicated runtime events out.

The thin shell of ``actors.callback_normalization``: its ``CallbackNormalizer`` decides
(dedup, the intent registry, quarantine, fees, unrouted holds, the callback heartbeat) and
this actor carries out the decisions — tells the journal, the bus and the reconciler,
publishes our orders' reports, logs, counts metrics — and owns the heartbeat's timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import attrs
import pykka

from actors.callback_normalization import CallbackNormalizer, NormalizerStats
from actors.metrics import BROKER_CALLBACKS_QUARANTINED, CALLBACK_GAP_SECONDS, FILL_REVERSALS
from actors.normalization_decisions import (
    AppendAccountEvent,
    AppendDeal,
    AppendFee,
    AppendReversedDeal,
    AskReconcile,
    DealCallback,
    Decision,
    Note,
    Publish,
    RecordCorrection,
    Refuse,
    Reply,
    SendOn,
)
from actors.runtime_state import account_stream
from messages.broker import RawDealEvent, RawDealReversal, RawOrderEvent
from messages.broker_events import CallbackQuarantined, OpenOrderAdopted, OrderRouted
from messages.journal_protocol import Append
from messages.reconciliation import (
    BookInferred,
    OpenOrdersSeen,
    OrderTruth,
    PositionCallback,
    ReconcileRequest,
    ReconcileWith,
    SessionRenewed,
)
from messages.refs import Recipient
from supervisors.kernel.base import PublishingActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler, Timer
from supervisors.kernel.supervised import Supervised


@attrs.frozen(kw_only=True, slots=True)
class _Tick:
    """Time to look at the callback heartbeat."""


class NormalizerActor(Supervised, PublishingActor):
    """Publishes our orders' reports (fills, reversals, accepts, cancels, rejects) to its
    subscribers: execution, which journals them for the order, as it does the simulated
    venue's."""

    kind = "normalizer"

    def __init__(
        self,
        *,
        journal: pykka.ActorRef[Any],
        account_positions: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any] | None = None,
        reconciler: Recipient | None = None,
        fee_rate: Decimal = Decimal("0.001"),
        routed: tuple[OrderRouted, ...] = (),
        open_order_ids: frozenset[str] = frozenset(),
        adopted: tuple[OpenOrderAdopted, ...] = (),
        gap_s: float = 2.0,
        grace_s: float = 0.5,
        unrouted_grace_s: float = 30.0,
        clock: Callable[[], int] = time.time_ns,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.journal = journal
        self.bus = bus
        self.account_positions = account_positions
        self.reconciler = reconciler
        self.clock = clock
        self.core = CallbackNormalizer(
            fee_rate=fee_rate,
            routed=routed,
            open_order_ids=open_order_ids,
            adopted=adopted,
            gap_s=gap_s,
            grace_s=grace_s,
            unrouted_grace_s=unrouted_grace_s,
            clock=clock,
        )
        self.scheduler = scheduler
        self._timer: Timer | None = None

    def on_start(self) -> None:
        if self.reconciler is not None:
            self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        """Watch callback gaps and quarantine graces, once there is a reconciler to ask."""
        if self._timer is None:
            self._timer = self.scheduler.timer("normalizer-heartbeat")
            self._schedule_tick()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    def counters(self) -> NormalizerStats:
        """For callers outside the actor: ``ref.proxy().counters().get()``."""
        return self.core.stats()

    @handles(ReconcileWith)
    def _reconcile_with(self, message: ReconcileWith) -> None:
        """The reconciler starts after this actor (it needs its ref), so it introduces itself."""
        self.reconciler = message.reconciler
        self._start_heartbeat()

    @handles(PositionCallback)
    def _position_pushed(self, message: PositionCallback) -> None:
        """The broker pushed a position change: the position sync's trigger."""
        if self.reconciler is not None:
            self.reconciler.tell(message)

    @handles(SessionRenewed)
    def _session_renewed(self, message: SessionRenewed) -> None:
        """What the broker pushed while the session was down is lost: read its truth."""
        self.log.info("broker_session_renewed", session=message.session)
        if self.reconciler is not None:
            self.reconciler.tell(
                ReconcileRequest(reason=f"broker session {message.session} after a lost one")
            )

    @handles(OrderRouted)
    def _routed(self, routed: OrderRouted) -> None:
        self._carry_out(self.core.routed(routed))

    @handles(OpenOrderAdopted)
    def _adopted(self, adopted: OpenOrderAdopted) -> None:
        self._carry_out(self.core.adopted(adopted))

    @handles(RawDealEvent, RawOrderEvent)
    def _callback(self, raw: RawDealEvent | RawOrderEvent) -> None:
        self._carry_out(self.core.callback(raw))

    @handles(RawDealReversal)
    def _reversal(self, raw: RawDealReversal) -> None:
        self._carry_out(self.core.reversal(raw))

    @handles(CallbackQuarantined)
    def _malformed(self, quarantined: CallbackQuarantined) -> None:
        """Kept, counted, logged, on the event stream; a reconcile books what it may have
        carried (a deal, a status) from the broker's own lists."""
        self.core.malformed_callback(quarantined)
        BROKER_CALLBACKS_QUARANTINED.labels(callback=quarantined.callback).inc()
        self.log.error(
            "malformed_callback_quarantined",
            callback=quarantined.callback,
            arguments=list(quarantined.arguments),
            reason=quarantined.reason,
        )
        if self.bus is not None:
            self.bus.tell(quarantined)
        if self.reconciler is not None:
            self.reconciler.tell(
                ReconcileRequest(reason=f"malformed {quarantined.callback}: {quarantined.reason}")
            )

    @handles(BookInferred)
    def _book_inferred(self, message: BookInferred) -> None:
        self._carry_out(self.core.book_inferred(message))

    @handles(OrderTruth)
    def _order_truth(self, message: OrderTruth) -> None:
        self._carry_out(self.core.order_truth(message))

    @handles(OpenOrdersSeen)
    def _open_orders_seen(self, message: OpenOrdersSeen) -> None:
        self._carry_out(self.core.open_orders_seen(message))

    @handles(_Tick)
    def _tick(self, _message: _Tick) -> None:
        self._schedule_tick()
        now = self.clock()
        CALLBACK_GAP_SECONDS.set((now - self.core.last_callback_ns) / 1e9)
        self._carry_out(self.core.tick(now))

    def _schedule_tick(self) -> None:
        if self._timer is None:
            return
        self._timer.tell_later(self.core.tick_ns, self.actor_ref, _Tick(), housekeeping=True)

    def _carry_out(self, decisions: Iterable[Decision]) -> None:
        """Each decision becomes its tell, publish or log line, in the core's order."""
        for decision in decisions:
            match decision:
                case (
                    AppendDeal(booked=entry)
                    | AppendFee(booked=entry)
                    | AppendReversedDeal(reversed=entry)
                ):
                    self.journal.tell(
                        Append(
                            event=entry,
                            stream=account_stream(entry.account),
                            dedup_key=decision.dedup_key,
                            deliver_to=self.account_positions,
                        )
                    )
                case AppendAccountEvent(event=event, dedup_key=dedup_key):
                    self.journal.tell(
                        Append(
                            event=event, stream=account_stream(event.account), dedup_key=dedup_key
                        )
                    )
                case RecordCorrection(correction=correction):
                    self.journal.tell(
                        Append(event=correction, stream=account_stream(correction.account))
                    )
                    if self.bus is not None:
                        self.bus.tell(correction)
                case Publish(report=report):
                    self.publish(report)
                case Refuse(refusal=refusal):
                    FILL_REVERSALS.labels(by="normalizer", outcome=refusal.reason.value).inc()
                    if self.bus is not None:
                        self.bus.tell(refusal)
                case SendOn(command=command):
                    self.journal.tell(command)
                case AskReconcile(request=request):
                    if self.reconciler is not None:
                        self.reconciler.tell(request)
                case DealCallback():
                    if self.reconciler is not None:
                        self.reconciler.tell(PositionCallback())
                case Reply(to=to, missing=missing):
                    to.tell(missing)
                case Note(level=level, event=event, fields=fields):
                    getattr(self.log, level)(event, **dict(fields))
