"""Raw broker callbacks in, exact and deduplicated runtime events out, as decisions.

A plain class with no threads: the NormalizerActor owns a ``CallbackNormalizer``, hands it
each message and carries out the decisions (``actors.normalization_decisions``) it returns.

A broker repeats callbacks, drops them, reorders them and sends them for orders it has not
told us about yet. Here each raw event is:

- deduplicated on the broker's identity of it, ``(order_no, seq_no, match_ts)`` for a deal
  (``actors.callback_dedup``). A deal seen again with other terms is no duplicate but a
  conflict: counted and sent on, once per version, for the journal to refuse (a
  ``DealRefused`` and, for our order, a ``FillRefused``), so the refusal is the same
  whether the first version was booked by this process or an earlier one;
- joined with the intent registry (``OrderRouted``: order_no → our order, account,
  strategy, market) — a deal becomes a ``DealBooked`` on the account's journal stream and,
  for our own order, a ``Fill`` with its fee published to execution, which journals it for
  the order;
- quarantined when its order is unknown, with a targeted reconcile asked for, and released
  once the order is known (routed, or adopted by reconciliation) — never dropped.

A reversal (``RawDealReversal``: the broker took back a booked deal, a Polymarket trade that
FAILED on chain) of our own order's deal becomes a ``FillReversed`` published to execution,
which journals it for the order like a fill; the order is open again in the registry, and
a reconcile of that order is asked for with the reversal's reason, so the order follows
what the broker then says of it (closed as cancelled, with the reversal's reason, when the
broker has it closed). The deal is taken back on its account too (a ``DealReversed`` for
the account book), an outside order's as well. A repeated reversal is refused (a
``FillReversalRefused`` with the reason, a warning, a count); one whose deal this process
never saw goes on, for the order (whose fills the journal rebuilt) to take back or refuse.

A broker order that carries a client order id but that no ``OrderRouted`` names is ours,
placed in a lockstep step a crash tore: the journal voided the step, and feeding it again
places the same order id again, which the broker answers with the same number. Until then
its listed deals are held (not booked as an outside deal, not counted in a comparison) and
the order is not adopted; the ``OrderRouted`` releases them to our order. One that no
``OrderRouted`` names within ``unrouted_grace_s`` was not ours after all (or a paced run
lost its intent): its deals are booked and the order adopted as an outside one.

It also watches the callback heartbeat: with our orders open and no callback for longer
than ``gap_s``, it asks for a reconcile of those orders' securities.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import attrs

from actors.callback_dedup import CallbackDedup, Source, Terms, describe, terms_of
from actors.normalization_decisions import (
    DEAL_CALLBACK,
    AppendAccountEvent,
    AppendDeal,
    AppendFee,
    AppendReversedDeal,
    AskReconcile,
    Decision,
    Publish,
    RecordCorrection,
    Refuse,
    Reply,
    SendOn,
    note,
)
from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    RawDealEvent,
    RawDealReversal,
    RawOrderEvent,
)
from messages.broker_events import (
    CallbackQuarantined,
    Correction,
    CorrectionKind,
    DealBooked,
    DealReversed,
    FeeBooked,
    OpenOrderAdopted,
    OpenOrderClosed,
    OrderRouted,
)
from messages.fills import Fill, FillCharged, FillReversed
from messages.journal_protocol import Forward
from messages.orders import (
    FillRefusal,
    FillReversalRefused,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from messages.reconciliation import (
    BookInferred,
    ComparePositions,
    OpenOrdersSeen,
    OrdersMissing,
    OrderTruth,
    ReconcileRequest,
)

EXTERNAL_STRATEGY = "external"
"""The strategy a deal of an order this runtime did not place is booked under."""

_FINAL = frozenset(
    {BrokerOrderStatus.FILLED, BrokerOrderStatus.CANCELLED, BrokerOrderStatus.REJECTED}
)

_MAX_GAP_WAIT_NS = 60_000_000_000


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
    reversals: int = 0
    """Reversals sent on to be taken back (our orders' deals)."""
    reversals_refused: int = 0
    """Reversals refused here: a deal reversed before, or one of an order not ours."""


@attrs.define
class Intent:
    """What the registry knows of one broker order."""

    order_no: str
    account: str
    strategy: str
    security_id: str
    order_id: str | None = None
    market_id: str | None = None
    open: bool = True


class CallbackNormalizer:
    """The intent registry, dedup, quarantine, fees and unrouted holds of the broker edge.

    Each method that takes a message returns the decisions it came to, in order (a
    malformed callback's handling is all the actor's: it only keeps it here).
    ``clock`` stamps what the broker did not (a hold's start, a corrected status's time).
    """

    def __init__(
        self,
        *,
        fee_rate: Decimal = Decimal("0.001"),
        routed: tuple[OrderRouted, ...] = (),
        open_order_ids: frozenset[str] = frozenset(),
        adopted: tuple[OpenOrderAdopted, ...] = (),
        gap_s: float = 2.0,
        grace_s: float = 0.5,
        unrouted_grace_s: float = 30.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.fee_rate = fee_rate
        self.gap_ns = int(gap_s * 1e9)
        self.grace_ns = int(grace_s * 1e9)
        self.unrouted_grace_ns = int(unrouted_grace_s * 1e9)
        self.clock = clock
        self.intents: dict[str, Intent] = {}
        for entry in routed:
            self._register(entry, open_=entry.order_id in open_order_ids)
        for order in adopted:
            self._adopt(order)
        self.dedup = CallbackDedup()
        self.quarantine: dict[str, list[RawOrderEvent | RawDealEvent | RawDealReversal]] = (
            defaultdict(list)
        )
        self.reversed: set[str] = set()
        """Deal keys reversed in this process (the journal's keys say so across restarts)."""
        self.booked: dict[str, DealBooked] = {}
        """Each deal booked in this process (a restart's startup reconcile lists them again),
        with the fee it was booked with: what a broker's charge for it replaces."""
        self.charged: set[str] = set()
        """Deal keys whose broker charge was journaled in this process (the journal's
        ``fee:`` keys say so across restarts)."""
        self.reversal_reasons: dict[str, str] = {}
        """Our orders' last reversal reason by order number: why the broker closed them."""
        self.quarantined_at: dict[str, int] = {}
        self.unrouted: dict[str, dict[str, BrokerFill]] = {}
        """Our broker orders no ``OrderRouted`` names yet, with their listed deals by key."""
        self.unrouted_open: dict[str, BrokerOrder] = {}
        self.unrouted_since: dict[str, int] = {}
        self.not_ours: set[str] = set()
        """Client order ids' orders no ``OrderRouted`` named in time: outside orders."""
        self.malformed: list[CallbackQuarantined] = []
        """Callbacks whose arguments made no raw event, kept with why."""
        self.last_callback_ns = clock()
        self._gap_wait_ns = self.gap_ns
        self.deals = self.order_events = self.duplicates = self.conflicts = 0
        self.quarantined = self.released = self.inferred = self.late = 0
        self.reversals = self.reversals_refused = 0

    @property
    def tick_ns(self) -> int:
        """How often ``tick`` should run: often enough for the shorter of the two graces."""
        return max(min(self.gap_ns, self.grace_ns) // 4, 1_000_000)

    def stats(self) -> NormalizerStats:
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
            reversals=self.reversals,
            reversals_refused=self.reversals_refused,
        )

    # -- the intent registry ---------------------------------------------------------------

    def routed(self, routed: OrderRouted) -> list[Decision]:
        out: list[Decision] = []
        self._register(routed, open_=True)
        self._release(routed.order_no, out)
        self._release_unrouted(routed.order_no, out)
        return out

    def adopted(self, adopted: OpenOrderAdopted) -> list[Decision]:
        out: list[Decision] = []
        self._adopt(adopted)
        self._release(adopted.order_no, out)
        return out

    def _register(self, routed: OrderRouted, *, open_: bool) -> None:
        self.intents[routed.order_no] = Intent(
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
            Intent(
                order_no=adopted.order_no,
                account=adopted.account,
                strategy=EXTERNAL_STRATEGY,
                security_id=adopted.security_id,
            ),
        )

    def _release(self, order_no: str, out: list[Decision]) -> None:
        self.quarantined_at.pop(order_no, None)
        for raw in self.quarantine.pop(order_no, ()):
            self.released += 1
            out.append(note("info", "quarantine_released", order_no=order_no, kind=_kind(raw)))
            if isinstance(raw, RawDealReversal):
                self._reversal(raw, out)
            else:
                self._raw(raw, dedup=False, out=out)

    def _holds(self, order_no: str, client_order_id: str | None) -> bool:
        """Whether a listed order or deal is one of ours waiting for its ``OrderRouted``."""
        return (
            client_order_id is not None
            and order_no not in self.intents
            and order_no not in self.not_ours
        )

    def _hold_unrouted(self, order_no: str, client_order_id: str, out: list[Decision]) -> None:
        if order_no not in self.unrouted:
            self.unrouted[order_no] = {}
            self.unrouted_since[order_no] = self.clock()
            out.append(
                note(
                    "warning",
                    "broker_order_not_in_journal_held",
                    order_no=order_no,
                    client_order_id=client_order_id,
                )
            )

    def _release_unrouted(self, order_no: str, out: list[Decision]) -> None:
        """Our order's deals listed before its ``OrderRouted`` (a torn step fed again)."""
        held = self.unrouted.pop(order_no, None)
        was_open = self.unrouted_open.pop(order_no, None) is not None
        self.unrouted_since.pop(order_no, None)
        if held is None:
            return
        intent = self.intents[order_no]
        if was_open:
            self._order_event(intent, BrokerOrderStatus.SUBMITTED, self.clock(), "", out)
        for key, fill in held.items():
            if key in self.dedup:
                continue
            self.dedup.listed(key)
            self.inferred += 1
            self._book_deal(intent, fill, inferred=True, recv_ns=self.clock(), out=out)
        out.append(
            note("info", "broker_order_not_in_journal_released", order_no=order_no, deals=len(held))
        )

    # -- raw callbacks ---------------------------------------------------------------------

    def callback(self, raw: RawDealEvent | RawOrderEvent) -> list[Decision]:
        out: list[Decision] = []
        self.last_callback_ns = max(self.last_callback_ns, raw.recv_ns)
        self._gap_wait_ns = self.gap_ns
        self._raw(raw, dedup=True, out=out)
        return out

    def reversal(self, raw: RawDealReversal) -> list[Decision]:
        """A booked deal the broker took back; see the module docstring."""
        out: list[Decision] = []
        self.last_callback_ns = max(self.last_callback_ns, raw.recv_ns)
        self._gap_wait_ns = self.gap_ns
        self._reversal(raw, out)
        return out

    def _reversal(self, raw: RawDealReversal, out: list[Decision]) -> None:
        intent = self.intents.get(raw.order_no)
        if intent is None:
            self._quarantine(raw, out)
            return
        key = raw.key
        if intent.order_id is None or intent.market_id is None:
            # An outside order's deal: only the account view held it.
            self.reversals_refused += 1
            out.append(note("warning", "reversal_of_outside_deal", order_no=raw.order_no, key=key))
            if key not in self.reversed:
                self.reversed.add(key)
                out.append(AppendReversedDeal(reversed=_deal_reversed(intent, raw)))
            return
        reversal = FillReversed(
            fill_id=key,
            ts_event=raw.recv_ns,
            order_id=intent.order_id,
            market_id=intent.market_id,
            security_id=intent.security_id,
            reason=raw.reason,
        )
        if key in self.reversed:
            self.reversals_refused += 1
            out.append(note("warning", "repeated_reversal_refused", order_no=raw.order_no, key=key))
            out.append(
                Refuse(
                    refusal=FillReversalRefused(
                        correlation_id=intent.order_id,
                        reversal=reversal,
                        reason=FillRefusal.ALREADY_REVERSED,
                        detail=f"deal {key} was reversed before",
                    )
                )
            )
            return
        self.reversed.add(key)
        self.reversals += 1
        intent.open = True
        self.reversal_reasons[raw.order_no] = raw.reason
        out.append(
            note("warning", "deal_reversed", order_no=raw.order_no, key=key, reason=raw.reason)
        )
        out.append(AppendReversedDeal(reversed=_deal_reversed(intent, raw)))
        out.append(Publish(report=reversal))
        out.append(
            AskReconcile(request=ReconcileRequest(reason=raw.reason, order_nos=(raw.order_no,)))
        )

    def malformed_callback(self, quarantined: CallbackQuarantined) -> None:
        """Kept and counted; the broker was heard from, whatever it said."""
        self.last_callback_ns = max(self.last_callback_ns, quarantined.recv_ns)
        self.malformed.append(quarantined)

    def _raw(self, raw: RawDealEvent | RawOrderEvent, *, dedup: bool, out: list[Decision]) -> None:
        key = raw.key if isinstance(raw, RawDealEvent) else f"{raw.order_no}:{raw.seq_no}"
        conflict = isinstance(raw, RawDealEvent) and self._conflicts(key, terms_of(raw), out)
        if dedup and not conflict:
            source = self.dedup.callback(key)
            if source is Source.CALLBACK:
                self.duplicates += 1
                out.append(
                    note(
                        "info",
                        "duplicate_callback_dropped",
                        order_no=raw.order_no,
                        key=key,
                        kind=_kind(raw),
                    )
                )
                return
            if source is Source.LISTED:
                # Reconciliation booked it from the broker's list before its callback came.
                self.late += 1
                return
        intent = self.intents.get(raw.order_no)
        if intent is None:
            self._quarantine(raw, out)
            return
        if isinstance(raw, RawDealEvent):
            self._book_deal(intent, raw, inferred=False, out=out)
            out.append(DEAL_CALLBACK)
        else:
            self._order_event(intent, raw.status, raw.broker_ts_ns, raw.reason, out)

    def _conflicts(self, key: str, terms: Terms, out: list[Decision]) -> bool:
        """Whether deal ``key`` comes with other terms than it was first seen with, for the
        first time in these terms."""
        first = self.dedup.conflict(key, terms)
        if first is None:
            return False
        self.conflicts += 1
        out.append(
            note("warning", "conflicting_deal", key=key, first=describe(first), now=describe(terms))
        )
        return True

    def _quarantine(
        self, raw: RawDealEvent | RawOrderEvent | RawDealReversal, out: list[Decision]
    ) -> None:
        """Hold it; if its order is still unknown after ``grace_s``, ``tick`` asks for a
        reconcile of that order.

        The grace covers the ordinary race: the broker's first callback can arrive before
        the ``OrderRouted`` that names the order.
        """
        self.quarantined += 1
        self.quarantine[raw.order_no].append(raw)
        self.quarantined_at.setdefault(raw.order_no, self.clock())
        out.append(
            note(
                "warning",
                "callback_for_unknown_order_quarantined",
                order_no=raw.order_no,
                kind=_kind(raw),
            )
        )

    def _book_deal(
        self,
        intent: Intent,
        deal: RawDealEvent | BrokerFill,
        *,
        inferred: bool,
        out: list[Decision],
        recv_ns: int | None = None,
    ) -> None:
        fee = self.fee_rate * deal.price * deal.size if deal.fee is None else deal.fee
        if self.dedup.first_terms(deal.key) == terms_of(deal):
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
        self.booked.setdefault(deal.key, booked)
        out.append(AppendDeal(booked=booked))
        if intent.order_id is not None and intent.market_id is not None:
            out.append(
                Publish(
                    report=Fill(
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
            )

    def _order_event(
        self,
        intent: Intent,
        status: BrokerOrderStatus,
        ts_ns: int,
        reason: str,
        out: list[Decision],
    ) -> None:
        self.order_events += 1
        if status in _FINAL:
            was_open, intent.open = intent.open, False
            if intent.order_id is None and was_open:
                out.append(
                    AppendAccountEvent(
                        event=OpenOrderClosed(
                            order_no=intent.order_no, account=intent.account, status=status
                        ),
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
            out.append(Publish(report=report))

    # -- reconciliation's findings ---------------------------------------------------------

    def book_inferred(self, message: BookInferred) -> list[Decision]:
        """Book listed deals no callback brought (the journal drops those already booked);
        hold those of our orders not routed yet, and keep their securities out of ``then``'s
        comparison."""
        out: list[Decision] = []
        held: set[str] = set()
        for fill in message.fills:
            known = fill.key in self.dedup
            if self._conflicts(fill.key, terms_of(fill), out):
                intent = self._intent_of(fill)
                self._book_deal(intent, fill, inferred=True, recv_ns=message.recv_ns, out=out)
                continue
            if known:
                continue
            if fill.client_order_id is not None and self._holds(
                fill.order_no, fill.client_order_id
            ):
                self._hold_unrouted(fill.order_no, fill.client_order_id, out)
                self.unrouted[fill.order_no][fill.key] = fill
                held.add(fill.security_id)
                continue
            self.dedup.listed(fill.key)
            intent = self._intent_of(fill)
            self.inferred += 1
            self._book_deal(intent, fill, inferred=True, recv_ns=message.recv_ns, out=out)
            self._release(fill.order_no, out)
            out.append(
                note(
                    "info",
                    "deal_inferred",
                    order_no=fill.order_no,
                    key=fill.key,
                    reason=message.reason,
                )
            )
        for charge in message.charges:
            self._charge(charge, out)
        then = message.then
        if held and isinstance(then, Forward) and isinstance(then.message, ComparePositions):
            pending = tuple(sorted(held.union(then.message.pending)))
            then = attrs.evolve(then, message=attrs.evolve(then.message, pending=pending))
        if then is not None:
            out.append(SendOn(command=then))
        return out

    def _charge(self, charge: BrokerDealCharge, out: list[Decision]) -> None:
        """Book the broker's fee and tax for a deal booked here, once, on its account and,
        for our order's deal, as a ``FillCharged`` for its order and position; one we have
        not booked (yet) or whose terms differ is left for a later reconcile, noted."""
        if charge.key in self.charged:
            return
        deal = self.booked.get(charge.key)
        if deal is None or (deal.price, deal.size) != (charge.price, charge.size):
            out.append(note("info", "deal_charge_unmatched", key=charge.key))
            return
        self.charged.add(charge.key)
        out.append(
            AppendFee(
                booked=FeeBooked(
                    fill_id=charge.key,
                    order_no=deal.order_no,
                    account=deal.account,
                    security_id=deal.security_id,
                    booked_fee=deal.fee,
                    fee=charge.fee,
                    tax=charge.tax,
                    match_ts=deal.match_ts,
                )
            )
        )
        intent = self.intents.get(deal.order_no)
        if deal.order_id is not None and intent is not None and intent.market_id is not None:
            out.append(
                Publish(
                    report=FillCharged(
                        fill_id=charge.key,
                        order_id=deal.order_id,
                        market_id=intent.market_id,
                        security_id=deal.security_id,
                        booked_fee=deal.fee,
                        fee=charge.fee,
                        tax=charge.tax,
                    )
                )
            )

    def _intent_of(self, fill: BrokerFill) -> Intent:
        """The registry's entry for a listed deal's order; an outside order's if unknown."""
        intent = self.intents.get(fill.order_no)
        if intent is None:
            intent = Intent(
                order_no=fill.order_no,
                account=fill.account,
                strategy=EXTERNAL_STRATEGY,
                security_id=fill.security_id,
                open=False,
            )
            self.intents[fill.order_no] = intent
        return intent

    def order_truth(self, message: OrderTruth) -> list[Decision]:
        """Close our open orders the broker says are closed."""
        out: list[Decision] = []
        for order in message.orders:
            intent = self.intents.get(order.order_no)
            if intent is None or not intent.open or order.status.is_open:
                continue
            self._correct_status(intent, order, message.reason, out)
        return out

    def _correct_status(
        self, intent: Intent, order: BrokerOrder, reason: str, out: list[Decision]
    ) -> None:
        why = self.reversal_reasons.get(order.order_no, reason)
        self._order_event(intent, order.status, self.clock(), f"reconciled: {why}", out)
        out.append(
            RecordCorrection(
                correction=Correction(
                    kind=CorrectionKind.ORDER_STATUS,
                    account=intent.account,
                    security_id=intent.security_id,
                    subject=f"order {order.order_no}",
                    old="open",
                    new=order.status.value,
                    reason=reason,
                )
            )
        )
        out.append(
            note(
                "warning", "order_status_corrected", order_no=order.order_no, new=order.status.value
            )
        )

    def open_orders_seen(self, message: OpenOrdersSeen) -> list[Decision]:
        """Adopt broker orders we do not know; report ours the broker no longer lists.

        A broker that answered is alive: the callback silence is measured from here.
        """
        out: list[Decision] = []
        self.last_callback_ns = max(self.last_callback_ns, self.clock())
        listed = {order.order_no for order in message.orders}
        for order in message.orders:
            if order.order_no in self.intents:
                continue
            if order.client_order_id is not None and self._holds(
                order.order_no, order.client_order_id
            ):
                self._hold_unrouted(order.order_no, order.client_order_id, out)
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
            out.append(AppendAccountEvent(event=adopted, dedup_key=f"adopted:{order.order_no}"))
            out.append(
                RecordCorrection(
                    correction=Correction(
                        kind=CorrectionKind.OPEN_ORDER,
                        account=order.account,
                        security_id=order.security_id,
                        subject=f"order {order.order_no}",
                        old="unknown",
                        new=f"open {order.side.value} {order.size - order.filled} @ {order.price}",
                        reason="open at the broker, not placed by this runtime",
                    )
                )
            )
            self._release(order.order_no, out)
        if not message.complete or message.reply_to is None:
            return out
        missing = tuple(
            intent.order_no
            for intent in self.intents.values()
            if intent.open and intent.account == message.account and intent.order_no not in listed
        )
        out.append(Reply(to=message.reply_to, missing=OrdersMissing(order_nos=missing)))
        return out

    # -- the heartbeat ---------------------------------------------------------------------

    def tick(self, now: int) -> list[Decision]:
        """Every ``tick_ns``, while there is a reconciler to ask: quarantined orders past
        their grace, a callback gap, held orders no ``OrderRouted`` named in time."""
        out: list[Decision] = []
        self._reconcile_unknown(now, out)
        self._watch_gap(now, out)
        self._give_up_unrouted(now, out)
        return out

    def _give_up_unrouted(self, now: int, out: list[Decision]) -> None:
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
            out.append(
                note(
                    "warning",
                    "broker_order_not_routed_booked_as_outside",
                    order_no=order_no,
                    deals=len(fills),
                )
            )
            if order is not None:
                out += self.open_orders_seen(
                    OpenOrdersSeen(account=order.account, orders=(order,), complete=False)
                )
            if fills:
                out += self.book_inferred(
                    BookInferred(fills=fills, reason="not routed in time", recv_ns=now)
                )

    def _reconcile_unknown(self, now: int, out: list[Decision]) -> None:
        overdue = [
            order_no
            for order_no, since in self.quarantined_at.items()
            if now - since > self.grace_ns
        ]
        if not overdue:
            return
        for order_no in overdue:
            self.quarantined_at[order_no] = now  # asked again only after another grace
        out.append(
            AskReconcile(
                request=ReconcileRequest(
                    reason=f"callbacks for unknown orders {', '.join(overdue)}",
                    order_nos=tuple(overdue),
                )
            )
        )

    def _watch_gap(self, now: int, out: list[Decision]) -> None:
        """Our own open orders only: adopted ones rest for days, and the periodic full sync
        follows them."""
        open_orders = [
            intent for intent in self.intents.values() if intent.open and intent.order_id
        ]
        silent_ns = now - self.last_callback_ns
        if not open_orders or silent_ns <= self._gap_wait_ns:
            return
        # Resting orders are quiet by nature: each alert without a callback in between
        # waits twice as long as the one before (up to a minute).
        self.last_callback_ns = now
        self._gap_wait_ns = min(self._gap_wait_ns * 2, _MAX_GAP_WAIT_NS)
        out.append(
            note(
                "warning",
                "callback_gap",
                silent_s=round(silent_ns / 1e9, 3),
                open_orders=len(open_orders),
            )
        )
        out.append(
            AskReconcile(
                request=ReconcileRequest(
                    reason=f"no callback for {silent_ns / 1e9:.1f} s with {len(open_orders)} "
                    "orders open",
                    order_nos=tuple(intent.order_no for intent in open_orders),
                    security_ids=tuple(sorted({intent.security_id for intent in open_orders})),
                )
            )
        )


def _kind(raw: RawDealEvent | RawOrderEvent | RawDealReversal) -> str:
    return type(raw).__name__


def _deal_reversed(intent: Intent, raw: RawDealReversal) -> DealReversed:
    return DealReversed(
        fill_id=raw.key,
        order_no=raw.order_no,
        account=intent.account,
        security_id=intent.security_id,
        reason=raw.reason,
        recv_ns=raw.recv_ns,
    )
