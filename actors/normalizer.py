"""NormalizerActor: raw broker callbacks in, exact and deduplicated runtime events out.

A broker repeats callbacks, drops them, reorders them and sends them for orders it has not
told us about yet. Here each raw event is:

- deduplicated on the broker's identity of it, ``(order_no, seq_no, match_ts)`` for a deal
  (a log line and a counter; the journal's dedup keys make the same true across restarts).
  A deal seen again with other terms (security, side, price, size) is no duplicate but a
  conflict: it is counted and sent on, once per version, for the journal to refuse (a
  ``DealRefused`` and, for our order, a ``FillRefused``), so the refusal is the same
  whether the first version was booked by this process or an earlier one;
- joined with the intent registry (``OrderRouted``: order_no → our order, account,
  strategy, market) — a deal becomes a ``DealBooked`` on the account's journal stream and,
  for our own order, a ``Fill`` with its fee published to execution, which journals it for
  the order;
- quarantined when its order is unknown, with a targeted reconcile asked for, and released
  once the order is known (routed, or adopted by reconciliation) — never dropped.

A broker order that carries a client order id but that no ``OrderRouted`` names is ours,
placed in a lockstep step a crash tore: the journal voided the step, and feeding it again
places the same order id again, which the broker answers with the same number. Until then
its listed deals are held (not booked as an outside deal, not counted in a comparison) and
the order is not adopted; the ``OrderRouted`` releases them to our order. One that no
``OrderRouted`` names within ``unrouted_grace_s`` was not ours after all (or a paced run
lost its intent): its deals are booked and the order adopted as an outside one.

It also watches the callback heartbeat: with our orders open and no callback for longer
than ``gap_s``, it asks the reconciler to reconcile those orders' securities.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pykka

from actors.base import PublishingActor, handles
from actors.metrics import BROKER_CALLBACKS_QUARANTINED, CALLBACK_GAP_SECONDS
from actors.runtime_state import account_stream
from actors.scheduler import REAL_SCHEDULER, Scheduler, Timer
from messages.broker import BrokerFill, BrokerOrder, BrokerOrderStatus, RawDealEvent, RawOrderEvent
from messages.broker_events import (
    CallbackQuarantined,
    Correction,
    CorrectionKind,
    DealBooked,
    OpenOrderAdopted,
    OpenOrderClosed,
    OrderRouted,
)
from messages.commands import Append, Forward
from messages.enums import OrderSide
from messages.fills import Fill
from messages.orders import OrderAccepted, OrderCancelled, OrderRejected
from messages.reconciliation import (
    BookInferred,
    ComparePositions,
    OpenOrdersSeen,
    OrdersMissing,
    OrderTruth,
    PositionCallback,
    ReconcileRequest,
    ReconcileWith,
)
from supervisors.child_spec import SupervisedContext
from supervisors.supervised import Supervised

EXTERNAL_STRATEGY = "external"
"""The strategy a deal of an order this runtime did not place is booked under."""

_CALLBACK = "callback"
_LISTED = "listed"

_FINAL = frozenset(
    {BrokerOrderStatus.FILLED, BrokerOrderStatus.CANCELLED, BrokerOrderStatus.REJECTED}
)


@attrs.frozen(kw_only=True, slots=True)
class NormalizerStats:
    """Counters a test or an operator can account every callback with.

    ``duplicates``: callbacks seen before from the broker. ``late``: callbacks for deals
    reconciliation had already booked from the broker's list. ``inferred``: deals booked
    from the list because no callback had brought them (lost, or late). ``conflicts``:
    deals seen again with other terms, sent to the journal to be refused.
    """

    deals: int
    conflicts: int
    order_events: int
    duplicates: int
    late: int
    quarantined: int
    released: int
    inferred: int
    open_orders: int
    last_callback_ns: int
    unrouted: int = 0
    """Broker orders of ours (by client order id) still waiting for their ``OrderRouted``."""
    malformed: int = 0
    """Callbacks quarantined as malformed (``CallbackQuarantined``): never applied."""


_Terms = tuple[str, OrderSide, Decimal, Decimal]
"""What a deal's identity must always come with: security, side, price and size."""


def _terms(deal: RawDealEvent | BrokerFill) -> _Terms:
    return (deal.security_id, deal.side, deal.price, deal.size)


def _describe(terms: _Terms) -> str:
    security_id, side, price, size = terms
    return f"{side.value} {size} {security_id} @ {price}"


@attrs.frozen(kw_only=True, slots=True)
class _Tick:
    """Time to look at the callback heartbeat."""


@attrs.define
class _Intent:
    """What the registry knows of one broker order."""

    order_no: str
    account: str
    strategy: str
    security_id: str
    order_id: str | None = None
    market_id: str | None = None
    open: bool = True


class NormalizerActor(Supervised, PublishingActor):
    """Publishes our orders' reports (fills, accepts, cancels, rejects) to its subscribers:
    execution, which journals them for the order, as it does the simulated venue's."""

    kind = "normalizer"

    def __init__(
        self,
        *,
        journal: pykka.ActorRef[Any],
        account_positions: pykka.ActorRef[Any],
        bus: pykka.ActorRef[Any] | None = None,
        reconciler: pykka.ActorRef[Any] | None = None,
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
        self.fee_rate = fee_rate
        self.gap_ns = int(gap_s * 1e9)
        self.clock = clock
        self.intents: dict[str, _Intent] = {}
        for entry in routed:
            self._register(entry, open_=entry.order_id in open_order_ids)
        for order in adopted:
            self._adopt(order)
        self.seen: dict[str, str] = {}
        """Deal and order-event keys already handled, and whether a callback or a list did."""
        self.terms: dict[str, _Terms] = {}
        """The terms each deal key was first seen with."""
        self.conflicting: set[tuple[str, _Terms]] = set()
        """Other terms seen for a deal key, each sent on once for the journal to refuse."""
        self.quarantine: dict[str, list[RawOrderEvent | RawDealEvent]] = defaultdict(list)
        self.quarantined_at: dict[str, int] = {}
        self.unrouted: dict[str, dict[str, BrokerFill]] = {}
        """Our broker orders no ``OrderRouted`` names yet, with their listed deals by key."""
        self.unrouted_open: dict[str, BrokerOrder] = {}
        self.unrouted_since: dict[str, int] = {}
        self.not_ours: set[str] = set()
        """Client order ids' orders no ``OrderRouted`` named in time: outside orders."""
        self.unrouted_grace_ns = int(unrouted_grace_s * 1e9)
        self.malformed: list[CallbackQuarantined] = []
        """Callbacks whose arguments made no raw event, kept with why."""
        self.grace_ns = int(grace_s * 1e9)
        self.last_callback_ns = clock()
        self._gap_wait_ns = self.gap_ns
        self.deals = self.order_events = self.duplicates = self.conflicts = 0
        self.quarantined = self.released = self.inferred = self.late = 0
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
        return NormalizerStats(
            deals=self.deals,
            conflicts=self.conflicts,
            order_events=self.order_events,
            duplicates=self.duplicates,
            late=self.late,
            quarantined=self.quarantined,
            released=self.released,
            inferred=self.inferred,
            open_orders=sum(1 for intent in self.intents.values() if intent.open),
            last_callback_ns=self.last_callback_ns,
            unrouted=len(self.unrouted),
            malformed=len(self.malformed),
        )

    # -- the intent registry ---------------------------------------------------------------

    @handles(ReconcileWith)
    def _reconcile_with(self, message: ReconcileWith) -> None:
        """The reconciler starts after this actor (it needs its ref), so it introduces itself."""
        self.reconciler = message.reconciler
        self._start_heartbeat()

    @handles(OrderRouted)
    def _routed(self, routed: OrderRouted) -> None:
        self._register(routed, open_=True)
        self._release(routed.order_no)
        self._release_unrouted(routed.order_no)

    @handles(OpenOrderAdopted)
    def _adopted(self, adopted: OpenOrderAdopted) -> None:
        self._adopt(adopted)
        self._release(adopted.order_no)

    def _register(self, routed: OrderRouted, *, open_: bool) -> None:
        self.intents[routed.order_no] = _Intent(
            order_no=routed.order_no,
            account=routed.account,
            strategy=routed.strategy,
            security_id=routed.security_id,
            order_id=routed.order_id,
            market_id=routed.market_id,
            open=open_,
        )

    def _adopt(self, adopted: OpenOrderAdopted) -> None:
        self.intents.setdefault(
            adopted.order_no,
            _Intent(
                order_no=adopted.order_no,
                account=adopted.account,
                strategy=EXTERNAL_STRATEGY,
                security_id=adopted.security_id,
            ),
        )

    def _release(self, order_no: str) -> None:
        self.quarantined_at.pop(order_no, None)
        for raw in self.quarantine.pop(order_no, ()):
            self.released += 1
            self.log.info("quarantine_released", order_no=order_no, kind=type(raw).__name__)
            self._raw(raw, dedup=False)

    def _holds(self, order_no: str, client_order_id: str | None) -> bool:
        """Whether a listed order or deal is one of ours waiting for its ``OrderRouted``."""
        return (
            client_order_id is not None
            and order_no not in self.intents
            and order_no not in self.not_ours
        )

    def _hold_unrouted(self, order_no: str, client_order_id: str) -> None:
        if order_no not in self.unrouted:
            self.unrouted[order_no] = {}
            self.unrouted_since[order_no] = self.clock()
            self.log.warning(
                "broker_order_not_in_journal_held",
                order_no=order_no,
                client_order_id=client_order_id,
            )

    def _release_unrouted(self, order_no: str) -> None:
        """Our order's deals listed before its ``OrderRouted`` (a torn step fed again)."""
        held = self.unrouted.pop(order_no, None)
        was_open = self.unrouted_open.pop(order_no, None) is not None
        self.unrouted_since.pop(order_no, None)
        if held is None:
            return
        intent = self.intents[order_no]
        if was_open:
            self._order_event(intent, BrokerOrderStatus.SUBMITTED, self.clock(), "")
        for key, fill in held.items():
            if key in self.seen:
                continue
            self.seen[key] = _LISTED
            self.inferred += 1
            self._book_deal(intent, fill, inferred=True, recv_ns=self.clock())
        self.log.info("broker_order_not_in_journal_released", order_no=order_no, deals=len(held))

    # -- raw callbacks ---------------------------------------------------------------------

    @handles(RawDealEvent, RawOrderEvent)
    def _callback(self, raw: RawDealEvent | RawOrderEvent) -> None:
        self.last_callback_ns = max(self.last_callback_ns, raw.recv_ns)
        self._gap_wait_ns = self.gap_ns
        self._raw(raw, dedup=True)

    def _raw(self, raw: RawDealEvent | RawOrderEvent, *, dedup: bool) -> None:
        key = raw.key if isinstance(raw, RawDealEvent) else f"{raw.order_no}:{raw.seq_no}"
        conflict = isinstance(raw, RawDealEvent) and self._conflicts(key, _terms(raw))
        if dedup and not conflict:
            source = self.seen.get(key)
            self.seen[key] = _CALLBACK
            if source == _CALLBACK:
                self.duplicates += 1
                self.log.info(
                    "duplicate_callback_dropped",
                    order_no=raw.order_no,
                    key=key,
                    kind=type(raw).__name__,
                )
                return
            if source == _LISTED:
                # Reconciliation booked it from the broker's list before its callback came.
                self.late += 1
                return
        intent = self.intents.get(raw.order_no)
        if intent is None:
            self._quarantine(raw)
            return
        if isinstance(raw, RawDealEvent):
            self._book_deal(intent, raw, inferred=False)
            if self.reconciler is not None:
                self.reconciler.tell(PositionCallback())
        else:
            self._order_event(intent, raw.status, raw.broker_ts_ns, raw.reason)

    def _conflicts(self, key: str, terms: _Terms) -> bool:
        """Whether deal ``key`` comes with other terms than it was first seen with, for the
        first time in these terms (a repeat of a conflict is a duplicate like any other)."""
        first = self.terms.setdefault(key, terms)
        if first == terms or (key, terms) in self.conflicting:
            return False
        self.conflicting.add((key, terms))
        self.conflicts += 1
        self.log.warning(
            "conflicting_deal",
            key=key,
            first=_describe(first),
            now=_describe(terms),
        )
        return True

    @handles(CallbackQuarantined)
    def _malformed(self, quarantined: CallbackQuarantined) -> None:
        """Kept, counted, logged, on the event stream; a reconcile books what it may have
        carried (a deal, a status) from the broker's own lists."""
        self.last_callback_ns = max(self.last_callback_ns, quarantined.recv_ns)
        self.malformed.append(quarantined)
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

    def _quarantine(self, raw: RawDealEvent | RawOrderEvent) -> None:
        """Hold it; if its order is still unknown after ``grace_s``, reconcile that order.

        The grace covers the ordinary race: the broker's first callback can arrive before
        the ``OrderRouted`` that names the order.
        """
        self.quarantined += 1
        self.quarantine[raw.order_no].append(raw)
        self.quarantined_at.setdefault(raw.order_no, self.clock())
        self.log.warning(
            "callback_for_unknown_order_quarantined",
            order_no=raw.order_no,
            kind=type(raw).__name__,
        )

    def _book_deal(
        self,
        intent: _Intent,
        deal: RawDealEvent | BrokerFill,
        *,
        inferred: bool,
        recv_ns: int | None = None,
    ) -> None:
        fee = self.fee_rate * deal.price * deal.size
        if self.terms.get(deal.key) == _terms(deal):
            self.deals += 1  # not a conflict: that was counted as one, for the journal to refuse
        booked = DealBooked(
            fill_id=deal.key,
            order_no=deal.order_no,
            order_id=intent.order_id,
            account=intent.account,
            strategy=intent.strategy,
            security_id=deal.security_id,
            side=deal.side,
            price=deal.price,
            size=deal.size,
            fee=fee,
            match_ts=deal.match_ts,
            recv_ns=deal.recv_ns if isinstance(deal, RawDealEvent) else (recv_ns or 0),
            inferred=inferred,
        )
        self.journal.tell(
            Append(
                event=booked,
                stream=account_stream(intent.account),
                dedup_key=f"deal:{deal.key}",
                deliver_to=self.account_positions,
            )
        )
        if intent.order_id is not None and intent.market_id is not None:
            self.publish(
                Fill(
                    fill_id=deal.key,
                    ts_event=deal.match_ts,
                    order_id=intent.order_id,
                    market_id=intent.market_id,
                    security_id=deal.security_id,
                    side=deal.side,
                    price=deal.price,
                    size=deal.size,
                    fee=fee,
                )
            )

    def _order_event(
        self, intent: _Intent, status: BrokerOrderStatus, ts_ns: int, reason: str
    ) -> None:
        self.order_events += 1
        if status in _FINAL:
            was_open, intent.open = intent.open, False
            if intent.order_id is None and was_open:
                self.journal.tell(
                    Append(
                        event=OpenOrderClosed(
                            order_no=intent.order_no, account=intent.account, status=status
                        ),
                        stream=account_stream(intent.account),
                        dedup_key=f"closed:{intent.order_no}",
                    )
                )
        if intent.order_id is None:
            return
        report: OrderAccepted | OrderCancelled | OrderRejected | None = None
        if status is BrokerOrderStatus.SUBMITTED:
            report = OrderAccepted(ts_event=ts_ns, order_id=intent.order_id)
        elif status is BrokerOrderStatus.CANCELLED:
            report = OrderCancelled(
                ts_event=ts_ns, order_id=intent.order_id, reason=reason or "cancelled at broker"
            )
        elif status is BrokerOrderStatus.REJECTED:
            report = OrderRejected(
                ts_event=ts_ns, order_id=intent.order_id, reason=reason or "rejected by broker"
            )
        if report is not None:
            self.publish(report)

    # -- reconciliation's findings ---------------------------------------------------------

    @handles(BookInferred)
    def _book_inferred(self, message: BookInferred) -> None:
        """Book listed deals no callback brought (the journal drops those already booked);
        hold those of our orders not routed yet, and keep their securities out of ``then``'s
        comparison."""
        held: set[str] = set()
        for fill in message.fills:
            known = fill.key in self.seen
            if self._conflicts(fill.key, _terms(fill)):
                intent = self._intent_of(fill)
                self._book_deal(intent, fill, inferred=True, recv_ns=message.recv_ns)
                continue
            if known:
                continue
            if fill.client_order_id is not None and self._holds(
                fill.order_no, fill.client_order_id
            ):
                self._hold_unrouted(fill.order_no, fill.client_order_id)
                self.unrouted[fill.order_no][fill.key] = fill
                held.add(fill.security_id)
                continue
            self.seen[fill.key] = _LISTED
            intent = self._intent_of(fill)
            self.inferred += 1
            self._book_deal(intent, fill, inferred=True, recv_ns=message.recv_ns)
            self._release(fill.order_no)
            self.log.info(
                "deal_inferred", order_no=fill.order_no, key=fill.key, reason=message.reason
            )
        then = message.then
        if held and isinstance(then, Forward) and isinstance(then.message, ComparePositions):
            pending = tuple(sorted(held.union(then.message.pending)))
            then = attrs.evolve(then, message=attrs.evolve(then.message, pending=pending))
        if then is not None:
            self.journal.tell(then)

    def _intent_of(self, fill: BrokerFill) -> _Intent:
        """The registry's entry for a listed deal's order; an outside order's if unknown."""
        intent = self.intents.get(fill.order_no)
        if intent is None:
            intent = _Intent(
                order_no=fill.order_no,
                account=fill.account,
                strategy=EXTERNAL_STRATEGY,
                security_id=fill.security_id,
                open=False,
            )
            self.intents[fill.order_no] = intent
        return intent

    @handles(OrderTruth)
    def _order_truth(self, message: OrderTruth) -> None:
        for order in message.orders:
            intent = self.intents.get(order.order_no)
            if intent is None or not intent.open or order.status.is_open:
                continue
            self._correct_status(intent, order, message.reason)

    def _correct_status(self, intent: _Intent, order: BrokerOrder, reason: str) -> None:
        self._order_event(intent, order.status, self.clock(), f"reconciled: {reason}")
        self._record(
            Correction(
                kind=CorrectionKind.ORDER_STATUS,
                account=intent.account,
                security_id=intent.security_id,
                subject=f"order {order.order_no}",
                old="open",
                new=order.status.value,
                reason=reason,
            )
        )
        self.log.warning("order_status_corrected", order_no=order.order_no, new=order.status.value)

    @handles(OpenOrdersSeen)
    def _open_orders_seen(self, message: OpenOrdersSeen) -> None:
        """Adopt broker orders we do not know; report ours the broker no longer lists.

        A broker that answered is alive: the callback silence is measured from here.
        """
        self.last_callback_ns = max(self.last_callback_ns, self.clock())
        listed = {order.order_no for order in message.orders}
        for order in message.orders:
            if order.order_no in self.intents:
                continue
            if order.client_order_id is not None and self._holds(
                order.order_no, order.client_order_id
            ):
                self._hold_unrouted(order.order_no, order.client_order_id)
                self.unrouted_open[order.order_no] = order
                continue
            adopted = OpenOrderAdopted(
                order_no=order.order_no,
                account=order.account,
                security_id=order.security_id,
                side=order.side,
                price=order.price,
                size=order.size,
                filled=order.filled,
            )
            self._adopt(adopted)
            stream = account_stream(order.account)
            self.journal.tell(
                Append(event=adopted, stream=stream, dedup_key=f"adopted:{order.order_no}")
            )
            self._record(
                Correction(
                    kind=CorrectionKind.OPEN_ORDER,
                    account=order.account,
                    security_id=order.security_id,
                    subject=f"order {order.order_no}",
                    old="unknown",
                    new=f"open {order.side.value} {order.size - order.filled} @ {order.price}",
                    reason="open at the broker, not placed by this runtime",
                )
            )
            self._release(order.order_no)
        if not message.complete or message.reply_to is None:
            return
        missing = tuple(
            intent.order_no
            for intent in self.intents.values()
            if intent.open and intent.account == message.account and intent.order_no not in listed
        )
        message.reply_to.tell(OrdersMissing(order_nos=missing))

    def _record(self, correction: Correction) -> None:
        """A correction goes to the journal and onto the event stream."""
        self.journal.tell(Append(event=correction, stream=account_stream(correction.account)))
        if self.bus is not None:
            self.bus.tell(correction)

    # -- the heartbeat ---------------------------------------------------------------------

    @handles(_Tick)
    def _tick(self, _message: _Tick) -> None:
        self._schedule_tick()
        now = self.clock()
        CALLBACK_GAP_SECONDS.set((now - self.last_callback_ns) / 1e9)
        self._reconcile_unknown(now)
        self._watch_gap(now)
        self._give_up_unrouted(now)

    def _give_up_unrouted(self, now: int) -> None:
        """Held orders no ``OrderRouted`` named within the grace are outside orders."""
        overdue = [
            order_no
            for order_no, since in self.unrouted_since.items()
            if now - since > self.unrouted_grace_ns
        ]
        for order_no in overdue:
            self.not_ours.add(order_no)
            del self.unrouted_since[order_no]
            fills = tuple(self.unrouted.pop(order_no, {}).values())
            order = self.unrouted_open.pop(order_no, None)
            self.log.warning(
                "broker_order_not_routed_booked_as_outside", order_no=order_no, deals=len(fills)
            )
            if order is not None:
                self._open_orders_seen(
                    OpenOrdersSeen(account=order.account, orders=(order,), complete=False)
                )
            if fills:
                self._book_inferred(
                    BookInferred(fills=fills, reason="not routed in time", recv_ns=now)
                )

    def _reconcile_unknown(self, now: int) -> None:
        overdue = [
            order_no
            for order_no, since in self.quarantined_at.items()
            if now - since > self.grace_ns
        ]
        if not overdue or self.reconciler is None:
            return
        for order_no in overdue:
            self.quarantined_at[order_no] = now  # asked again only after another grace
        self.reconciler.tell(
            ReconcileRequest(
                reason=f"callbacks for unknown orders {', '.join(overdue)}",
                order_nos=tuple(overdue),
            )
        )

    def _watch_gap(self, now: int) -> None:
        """Our own open orders only: adopted ones rest for days, and the periodic full sync
        follows them."""
        open_orders = [
            intent for intent in self.intents.values() if intent.open and intent.order_id
        ]
        silent_ns = now - self.last_callback_ns
        if not open_orders or silent_ns <= self._gap_wait_ns or self.reconciler is None:
            return
        # Resting orders are quiet by nature: each alert without a callback in between
        # waits twice as long as the one before (up to a minute).
        self.last_callback_ns = now
        self._gap_wait_ns = min(self._gap_wait_ns * 2, 60_000_000_000)
        self.log.warning(
            "callback_gap", silent_s=round(silent_ns / 1e9, 3), open_orders=len(open_orders)
        )
        self.reconciler.tell(
            ReconcileRequest(
                reason=f"no callback for {silent_ns / 1e9:.1f} s with {len(open_orders)} "
                "orders open",
                order_nos=tuple(intent.order_no for intent in open_orders),
                security_ids=tuple(sorted({intent.security_id for intent in open_orders})),
            )
        )

    def _schedule_tick(self) -> None:
        if self._timer is None:
            return
        delay_ns = max(min(self.gap_ns, self.grace_ns) // 4, 1_000_000)
        self._timer.tell_later(delay_ns, self.actor_ref, _Tick())
