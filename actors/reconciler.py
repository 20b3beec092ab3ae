"""ReconcilerActor: broker truth against the journal's state, at startup and while trading.

- **Startup**: every account's positions, open orders and session fills are read from the
  broker (paced under its rate limit, backing off on refusal), compared with what the
  journal holds, corrected with a reason — and only then is execution told
  ``TradingEnabled``.
- **Runtime**: a targeted reconcile when the normalizer reports a callback gap with orders
  open or callbacks for unknown orders, a full one on ``ReconcileRequest``, and the
  position sync of seed 002: a deal callback triggers one, debounced to ``min_sync_s``
  apart, and a full sync runs every ``full_sync_s`` regardless.

Queries run on a worker thread (``bridges.query_worker``), paced under the rate limit, and
their answers come back as messages: the reconciler keeps answering (and can be stopped)
while the broker makes it wait. A broker query that fails is never read as "no positions"
or "flat": nothing is concluded, nothing corrected, and it is tried again later. A deal the
broker lists keeps the broker's identity as its fill id, so booking it twice (a second
reconcile, a restart, a late callback) is impossible. The work itself is done where the
state lives: the normalizer books listed deals and adopts unknown open orders, the account
book compares positions (after those deals, through the journal's ``Forward`` barrier).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka

from actors.base import RuntimeActor, handles, tell_quietly
from actors.metrics import RECONCILIATION_DURATION_MS
from actors.scheduler import REAL_SCHEDULER, Scheduler, Timer
from bridges.broker import Broker
from bridges.query_pacer import QueryPacer
from bridges.query_worker import JobDone, JobFailed, QueryWorker
from messages.broker import BrokerFill, BrokerOrder, BrokerPosition
from messages.commands import Forward
from messages.reconciliation import (
    BookInferred,
    ComparePositions,
    OpenOrdersSeen,
    OrdersMissing,
    OrderTruth,
    PositionCallback,
    PositionsCompared,
    ReconcileRequest,
    ReconcileWith,
    TradingEnabled,
)
from messages.stats import ActorStats
from supervisors.child_spec import SupervisedContext
from supervisors.supervised import Supervised


@attrs.frozen(kw_only=True, slots=True)
class ReconcilerStats:
    """What the reconciler did; the position sync's counters are seed 002's."""

    reconciles: int
    failures: int
    callback_triggers: int
    syncs: int
    skipped_by_debounce: int
    full_syncs: int
    trading_enabled: bool
    coalesced: int
    queries: int
    refused: int


STARTUP = "startup"


@attrs.frozen(kw_only=True, slots=True)
class _AccountJob:
    """A reconcile of one account waiting for the broker's answers."""

    account: str
    reason: str
    since_ns: int
    scope: tuple[str, ...]
    started_ns: int

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return (self.account, self.scope)


@attrs.frozen(kw_only=True, slots=True)
class _OrdersJob:
    """A reconcile of some orders waiting for the broker's answers."""

    order_nos: tuple[str, ...]
    reason: str


@attrs.frozen(kw_only=True, slots=True)
class _Startup:
    """Run (or retry) the startup reconciliation."""


@attrs.frozen(kw_only=True, slots=True)
class _FullSync:
    """The periodic full sync is due."""


class ReconcilerActor(Supervised, RuntimeActor):
    kind = "reconciler"

    def __init__(
        self,
        broker: Broker,
        *,
        accounts: tuple[str, ...],
        normalizer: pykka.ActorRef[Any],
        account_positions: pykka.ActorRef[Any],
        journal: pykka.ActorRef[Any],
        execution: pykka.ActorRef[Any] | None = None,
        bus: pykka.ActorRef[Any] | None = None,
        session_start_ns: int = 0,
        pacer: QueryPacer | None = None,
        min_sync_s: float = 5.0,
        full_sync_s: float = 300.0,
        overlap_s: float = 5.0,
        retry_s: float = 0.5,
        clock: Callable[[], int] = time.time_ns,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.broker = broker
        self.accounts = accounts
        self.normalizer = normalizer
        self.account_positions = account_positions
        self.journal = journal
        self.execution = execution
        self.bus = bus
        self.session_start_ns = session_start_ns
        self.pacer = pacer if pacer is not None else QueryPacer()
        self.min_sync_s = min_sync_s
        self.full_sync_s = full_sync_s
        self.overlap_ns = int(overlap_s * 1e9)
        self._checked_ns: dict[str, int] = {}
        self.retry_s = retry_s
        self.clock = clock
        self.scheduler = scheduler
        self.trading_enabled = False
        self._startup_waiting: set[str] = set(accounts)
        self._startup_retry_s = retry_s
        self._last_sync = float("-inf")
        self._timer: Timer | None = None
        self._worker: QueryWorker | None = None
        self._in_flight: set[tuple[str, tuple[str, ...]]] = set()
        self._jobs = 0
        self.coalesced = 0
        self.reconciles = self.failures = 0
        self.callback_triggers = self.syncs = self.skipped = self.full_syncs = 0

    def on_start(self) -> None:
        self.normalizer.tell(ReconcileWith(reconciler=self.actor_ref))
        ref = self.actor_ref

        def deliver(message: object) -> None:
            tell_quietly(ref, message)

        self._worker = QueryWorker(self.pacer, deliver)
        self._last_sync = self._now_s()  # the startup reconcile is the first sync
        self._timer = self.scheduler.timer("reconciler")
        self._later(self.full_sync_s, _FullSync())
        self.actor_ref.tell(_Startup())

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._worker is not None:
            self._worker.stop()

    def counters(self) -> ReconcilerStats:
        """For callers outside the actor: ``ref.proxy().counters().get()``."""
        pacer = self.pacer.stats()
        return ReconcilerStats(
            reconciles=self.reconciles,
            failures=self.failures,
            callback_triggers=self.callback_triggers,
            syncs=self.syncs,
            skipped_by_debounce=self.skipped,
            full_syncs=self.full_syncs,
            trading_enabled=self.trading_enabled,
            coalesced=self.coalesced,
            queries=pacer.calls,
            refused=pacer.refused,
        )

    # -- triggers --------------------------------------------------------------------------

    @handles(_Startup)
    def _startup(self, _message: _Startup) -> None:
        for account in sorted(self._startup_waiting):
            self._reconcile(account, STARTUP, since_ns=self.session_start_ns)

    @handles(ReconcileRequest)
    def _request(self, request: ReconcileRequest) -> None:
        if request.order_nos and not request.security_ids:
            self._reconcile_orders(request.order_nos, request.reason)
            return
        for account in self.accounts:
            self._reconcile(
                account,
                request.reason,
                since_ns=self._since(account) if request.security_ids else self.session_start_ns,
                scope=request.security_ids,
            )

    @handles(PositionCallback)
    def _position_callback(self, _message: PositionCallback) -> None:
        """Seed 002's callback-triggered sync: at most one per ``min_sync_s``."""
        self.callback_triggers += 1
        now = self._now_s()
        if now - self._last_sync < self.min_sync_s:
            self.skipped += 1
            return
        self._last_sync = now
        self.syncs += 1
        for account in self.accounts:
            self._reconcile(account, "position callback", since_ns=self._since(account))

    @handles(_FullSync)
    def _full_sync(self, _message: _FullSync) -> None:
        self._later(self.full_sync_s, _FullSync())
        self.full_syncs += 1
        for account in self.accounts:
            self._reconcile(account, "periodic full sync", since_ns=self.session_start_ns)

    # -- answers ---------------------------------------------------------------------------

    @handles(JobDone)
    def _job_done(self, message: JobDone) -> None:
        self._jobs -= 1
        context = message.context
        if isinstance(context, _AccountJob):
            self._in_flight.discard(context.key)
            if not context.scope:
                self._checked_ns[context.account] = max(
                    self._checked_ns.get(context.account, 0), context.started_ns
                )
            positions, open_orders, fills = message.answer
            self._account_answer(context, positions, open_orders, fills)
            RECONCILIATION_DURATION_MS.observe((self.clock() - context.started_ns) / 1e6)
        elif isinstance(context, _OrdersJob):
            self._orders_answer(context, *message.answer)

    @handles(JobFailed)
    def _job_failed(self, message: JobFailed) -> None:
        """Nothing is concluded from a failed query; the same is tried again later."""
        self._jobs -= 1
        context = message.context
        self.failures += 1
        self.log.error(
            "reconcile_failed",
            reason=context.reason,
            error=f"{type(message.error).__name__}: {message.error}",
        )
        if isinstance(context, _AccountJob):
            self._in_flight.discard(context.key)
            if context.reason == STARTUP:
                self._later(self._startup_retry_s, _Startup())
                self._startup_retry_s = min(self._startup_retry_s * 2, 30.0)
                return
        self._later(self.retry_s, ReconcileRequest(reason=f"retry: {context.reason}"))

    @handles(PositionsCompared)
    def _compared(self, message: PositionsCompared) -> None:
        if message.unsettled:
            # Deals were moving while the broker was asked: compare those again shortly.
            self._later(
                self.retry_s,
                ReconcileRequest(
                    reason="deals moved during the last comparison",
                    security_ids=message.unsettled,
                ),
            )
        if message.account in self._startup_waiting:
            self._startup_waiting.discard(message.account)
            if not self._startup_waiting:
                self._enable_trading()

    @handles(OrdersMissing)
    def _orders_missing(self, message: OrdersMissing) -> None:
        """Our open orders the broker no longer lists: their callbacks were lost."""
        if message.order_nos:
            self._reconcile_orders(message.order_nos, "open here, not open at the broker")

    # -- the work --------------------------------------------------------------------------

    def _reconcile(
        self, account: str, reason: str, *, since_ns: int, scope: tuple[str, ...] = ()
    ) -> None:
        """Have the worker read the broker; the same reconcile already queued is not doubled."""
        job = _AccountJob(
            account=account,
            reason=reason,
            since_ns=since_ns,
            scope=scope,
            started_ns=self.clock(),
        )
        if job.key in self._in_flight:
            self.coalesced += 1
            return
        self._in_flight.add(job.key)
        broker = self.broker

        def read(pacer: QueryPacer) -> tuple[Any, Any, Any]:
            return (
                pacer.all_pages(functools.partial(broker.list_positions, account)),
                pacer.all_pages(functools.partial(broker.list_open_orders, account)),
                pacer.all_pages(functools.partial(broker.list_fills, account, since_ns)),
            )

        self._submit(read, job)

    def _account_answer(
        self,
        job: _AccountJob,
        positions: list[BrokerPosition],
        open_orders: list[BrokerOrder],
        fills: list[BrokerFill],
    ) -> None:
        """Hand the findings to the actors that own the state, in an order that holds."""
        if job.scope:
            fills = [fill for fill in fills if fill.security_id in job.scope]
        self.reconciles += 1
        self.log.info(
            "reconciling",
            account=job.account,
            reason=job.reason,
            positions=len(positions),
            open_orders=len(open_orders),
            fills=len(fills),
            scope=list(job.scope),
        )
        self.normalizer.tell(
            OpenOrdersSeen(account=job.account, orders=tuple(open_orders), reply_to=self.actor_ref)
        )
        compare = ComparePositions(
            account=job.account,
            positions=tuple(positions),
            since_ns=job.started_ns,
            reason=job.reason,
            security_ids=job.scope,
            reply_to=self.actor_ref,
        )
        self.normalizer.tell(
            BookInferred(
                fills=tuple(fills),
                reason=job.reason,
                recv_ns=self.clock(),
                then=Forward(message=compare, deliver_to=self.account_positions),
            )
        )

    def _reconcile_orders(self, order_nos: tuple[str, ...], reason: str) -> None:
        """Ask for each order's state and the deals of their accounts."""
        broker = self.broker
        since_ns = self.session_start_ns

        def read(pacer: QueryPacer) -> tuple[list[BrokerOrder], dict[str, list[BrokerFill]]]:
            orders = [pacer.call(functools.partial(broker.order_status, o)) for o in order_nos]
            fills = {
                account: pacer.all_pages(functools.partial(broker.list_fills, account, since_ns))
                for account in sorted({order.account for order in orders})
            }
            return orders, fills

        self._submit(read, _OrdersJob(order_nos=order_nos, reason=reason))

    def _orders_answer(
        self, job: _OrdersJob, orders: list[BrokerOrder], fills: dict[str, list[BrokerFill]]
    ) -> None:
        """Adopt the open ones we do not know, book their deals, correct their status."""
        self.reconciles += 1
        wanted = set(job.order_nos)
        for account, account_fills in fills.items():
            open_ones = tuple(o for o in orders if o.account == account and o.status.is_open)
            if open_ones:
                self.normalizer.tell(
                    OpenOrdersSeen(account=account, orders=open_ones, complete=False)
                )
            self.normalizer.tell(
                BookInferred(
                    fills=tuple(fill for fill in account_fills if fill.order_no in wanted),
                    reason=job.reason,
                    recv_ns=self.clock(),
                )
            )
        self.normalizer.tell(OrderTruth(orders=tuple(orders), reason=job.reason))

    def _since(self, account: str) -> int:
        """Where a sync or a targeted reconcile reads fills from: a margin before the start
        of the last full check of the account (its whole session before that one)."""
        checked = self._checked_ns.get(account)
        if checked is None:
            return self.session_start_ns
        return max(self.session_start_ns, checked - self.overlap_ns)

    def _submit(self, read: Callable[[QueryPacer], Any], context: object) -> None:
        assert self._worker is not None
        self._jobs += 1
        self._worker.submit(read, context)

    def stats(self) -> ActorStats:
        """Jobs at the broker are work in flight (``scheduled``) for anyone waiting for idle."""
        return ActorStats(kind=self.kind, handled=self.handled, scheduled=self._jobs)

    def _enable_trading(self) -> None:
        self.trading_enabled = True
        self.log.info("trading_enabled", accounts=list(self.accounts))
        enabled = TradingEnabled()
        for target in (self.execution, self.bus):
            if target is not None:
                tell_quietly(target, enabled)

    def _now_s(self) -> float:
        return self.scheduler.now_ns() / 1e9

    def _later(self, delay_s: float, message: object) -> None:
        if self._timer is None:
            return
        self._timer.tell_later(int(delay_s * 1e9), self.actor_ref, message)
