"""ReconcilerActor: broker truth against the journal's state, at startup and while trading.

- **Startup**: every account's positions, open orders and session fills are read from the
  broker (paced under its rate limit, backing off on refusal), compared with what the
  journal holds, corrected with a reason — and only then is execution told
  ``TradingEnabled``; a recovery longer than ``recovery_alert_s`` (seed 001: 10 s) is an
  alert (``RecoverySlow``) published before it. A broker that reports realized PnL and
  settlements (``ProfitLossQueries``) has those read too on every whole-account reconcile:
  the account book compares the PnL and the cash to settle per date, and a difference over
  its threshold is an alert.
- **Runtime**: a targeted reconcile when the normalizer reports a callback gap with orders
  open or callbacks for unknown orders, a full one on ``ReconcileRequest``, and the
  position sync of seed 002: a deal callback triggers one, debounced to ``min_sync_s``
  apart, and a full sync runs every ``full_sync_s`` regardless.

The thin shell of ``actors.reconcile_schedule`` (which reconciles to run, and when) and
``actors.reconciliation_findings`` (what of the answers goes to whom): this actor owns the
timer, the query worker and the tells.

Queries run on a worker thread (``actors.query_worker``), paced under the rate limit, and
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
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pykka

from actors.broker import Broker, DealCharges, ProfitLossQueries
from actors.metrics import RECONCILIATION_DURATION_MS, RECOVERY_SLOW_ALERTS
from actors.query_pacer import QueryPacer
from actors.query_worker import JobDone, JobFailed, QueryWorker
from actors.reconcile_schedule import AccountJob, Job, OrdersJob, ReconcileSchedule, Retry
from actors.reconciliation_findings import account_findings, orders_findings
from messages.broker import (
    BrokerDealCharge,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
)
from messages.broker_events import RecoverySlow
from messages.journal_protocol import Forward
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
from supervisors.kernel.base import RuntimeActor, handles, tell_quietly
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler, Timer
from supervisors.kernel.supervised import Supervised


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


@attrs.frozen(kw_only=True, slots=True)
class _Startup:
    """Run (or retry) the startup reconciliation."""


@attrs.frozen(kw_only=True, slots=True)
class _FullSync:
    """The periodic full sync is due."""


@attrs.frozen(kw_only=True, slots=True)
class _OwedSync:
    """The debounce is over: the sync skipped callbacks are owed is due."""


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
        recovery_alert_s: float = 10.0,
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
        self.full_sync_s = full_sync_s
        self.recovery_alert_s = recovery_alert_s
        self.clock = clock
        self.scheduler = scheduler
        self.schedule = ReconcileSchedule(
            accounts=accounts,
            session_start_ns=session_start_ns,
            min_sync_s=min_sync_s,
            overlap_s=overlap_s,
            retry_s=retry_s,
            clock=clock,
        )
        self._timer: Timer | None = None
        self._worker: QueryWorker | None = None
        self._jobs = 0
        self._owed_sync_timer = False
        self._started_ns = 0

    def on_start(self) -> None:
        self.normalizer.tell(ReconcileWith(reconciler=self.actor_ref))
        ref = self.actor_ref

        def deliver(message: object) -> None:
            tell_quietly(ref, message)

        self._worker = QueryWorker(self.pacer, deliver)
        self._started_ns = self.scheduler.now_ns()
        self.schedule.started(self._now_s())
        self._timer = self.scheduler.timer("reconciler")
        self._later(self.full_sync_s, _FullSync(), housekeeping=True)
        self.actor_ref.tell(_Startup())

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._worker is not None:
            self._worker.stop()

    @property
    def trading_enabled(self) -> bool:
        return self.schedule.trading_enabled

    def counters(self) -> ReconcilerStats:
        """For callers outside the actor: ``ref.proxy().counters().get()``."""
        pacer = self.pacer.stats()
        schedule = self.schedule
        return ReconcilerStats(
            reconciles=schedule.reconciles,
            failures=schedule.failures,
            callback_triggers=schedule.callback_triggers,
            syncs=schedule.syncs,
            skipped_by_debounce=schedule.skipped,
            full_syncs=schedule.full_syncs,
            trading_enabled=schedule.trading_enabled,
            coalesced=schedule.coalesced,
            queries=pacer.calls,
            refused=pacer.refused,
        )

    # -- triggers --------------------------------------------------------------------------

    @handles(_Startup)
    def _startup(self, _message: _Startup) -> None:
        self._run(self.schedule.startup())

    @handles(ReconcileRequest)
    def _request(self, request: ReconcileRequest) -> None:
        self._run(self.schedule.request(request))

    @handles(PositionCallback)
    def _position_callback(self, _message: PositionCallback) -> None:
        now = self._now_s()
        self._run(self.schedule.position_callback(now))
        if self.schedule.owes_sync and not self._owed_sync_timer:
            self._owed_sync_timer = True
            self._later(self.schedule.next_sync_due - now, _OwedSync(), housekeeping=True)

    @handles(_OwedSync)
    def _owed_sync(self, _message: _OwedSync) -> None:
        self._owed_sync_timer = False
        self._run(self.schedule.owed_sync(self._now_s()))

    @handles(_FullSync)
    def _full_sync(self, _message: _FullSync) -> None:
        self._later(self.full_sync_s, _FullSync(), housekeeping=True)
        self._run(self.schedule.full_sync())

    @handles(OrdersMissing)
    def _orders_missing(self, message: OrdersMissing) -> None:
        self._run(self.schedule.orders_missing(message.order_nos))

    # -- answers ---------------------------------------------------------------------------

    @handles(JobDone)
    def _job_done(self, message: JobDone) -> None:
        self._jobs -= 1
        job = message.context
        self.schedule.done(job)
        if isinstance(job, AccountJob):
            self._account_answer(job, message.answer)
            RECONCILIATION_DURATION_MS.observe((self.clock() - job.started_ns) / 1e6)
        elif isinstance(job, OrdersJob):
            self._orders_answer(job, *message.answer)

    @handles(JobFailed)
    def _job_failed(self, message: JobFailed) -> None:
        self._jobs -= 1
        job = message.context
        retry = self.schedule.failed(job)
        self.log.error(
            "reconcile_failed",
            reason=job.reason,
            error=f"{type(message.error).__name__}: {message.error}",
        )
        self._retry(retry)

    @handles(PositionsCompared)
    def _compared(self, message: PositionsCompared) -> None:
        was_enabled = self.schedule.trading_enabled
        retry = self.schedule.compared(message)
        if retry is not None:
            self._retry(retry)
        if self.schedule.trading_enabled and not was_enabled:
            self._enable_trading()

    # -- the work --------------------------------------------------------------------------

    def _run(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            if isinstance(job, AccountJob):
                self._read_account(job)
            else:
                self._read_orders(job)

    def _read_account(self, job: AccountJob) -> None:
        """Have the worker read the broker: positions, open orders, fills since the job's."""
        broker = self.broker
        account, since_ns = job.account, job.since_ns

        reports = isinstance(broker, ProfitLossQueries) and not job.scope
        charges = isinstance(broker, DealCharges) and not job.scope

        def read(pacer: QueryPacer) -> tuple[Any, ...]:
            answer = (
                pacer.all_pages(functools.partial(broker.list_positions, account)),
                pacer.all_pages(functools.partial(broker.list_open_orders, account)),
                pacer.all_pages(functools.partial(broker.list_fills, account, since_ns)),
            )
            charged: list[BrokerDealCharge] = []
            if charges:
                assert isinstance(broker, DealCharges)
                charged = pacer.all_pages(functools.partial(broker.list_deal_charges, account))
            if not reports:
                return (*answer, None, None, charged)
            assert isinstance(broker, ProfitLossQueries)
            return (
                *answer,
                pacer.all_pages(functools.partial(broker.list_profit_loss, account)),
                pacer.all_pages(functools.partial(broker.list_settlements, account)),
                charged,
            )

        self._submit(read, job)

    def _account_answer(self, job: AccountJob, answer: tuple[Any, ...]) -> None:
        """Hand the findings to the actors that own the state, in an order that holds.

        ``answer``: positions, open orders, fills, then realized PnL and settlements (None
        when the broker reports none, or the job is scoped), then the deals' charges.
        """
        positions: list[BrokerPosition]
        open_orders: list[BrokerOrder]
        fills: list[BrokerFill]
        profit_loss: list[BrokerProfitLoss] | None
        settlements: list[BrokerSettlement] | None
        charged: list[BrokerDealCharge]
        positions, open_orders, fills, profit_loss, settlements, charged = answer
        found = account_findings(job, positions, open_orders, fills)
        self.log.info(
            "reconciling",
            account=job.account,
            reason=job.reason,
            positions=len(found.positions),
            open_orders=len(found.open_orders),
            fills=len(found.fills),
            scope=list(job.scope),
        )
        self.normalizer.tell(
            OpenOrdersSeen(account=job.account, orders=found.open_orders, reply_to=self.actor_ref)
        )
        compare = ComparePositions(
            account=job.account,
            positions=found.positions,
            since_ns=job.started_ns,
            reason=job.reason,
            security_ids=job.scope,
            reply_to=self.actor_ref,
            profit_loss=None if profit_loss is None else tuple(profit_loss),
            settlements=None if settlements is None else tuple(settlements),
        )
        self.normalizer.tell(
            BookInferred(
                fills=found.fills,
                reason=job.reason,
                recv_ns=self.clock(),
                then=Forward(message=compare, deliver_to=self.account_positions),
                charges=tuple(c for c in charged if c.account == job.account),
            )
        )

    def _read_orders(self, job: OrdersJob) -> None:
        """Ask for each order's state and the deals of their accounts."""
        broker = self.broker
        order_nos = job.order_nos
        since_ns = self.session_start_ns

        def read(pacer: QueryPacer) -> tuple[list[BrokerOrder], dict[str, list[BrokerFill]]]:
            orders = [pacer.call(functools.partial(broker.order_status, o)) for o in order_nos]
            fills = {
                account: pacer.all_pages(functools.partial(broker.list_fills, account, since_ns))
                for account in sorted({order.account for order in orders})
            }
            return orders, fills

        self._submit(read, job)

    def _orders_answer(
        self, job: OrdersJob, orders: list[BrokerOrder], fills: dict[str, list[BrokerFill]]
    ) -> None:
        """Adopt the open ones we do not know, book their deals, correct their status."""
        for found in orders_findings(job, orders, fills):
            if found.open_orders:
                self.normalizer.tell(
                    OpenOrdersSeen(account=found.account, orders=found.open_orders, complete=False)
                )
            self.normalizer.tell(
                BookInferred(fills=found.fills, reason=job.reason, recv_ns=self.clock())
            )
        self.normalizer.tell(OrderTruth(orders=tuple(orders), reason=job.reason))

    def _submit(self, read: Callable[[QueryPacer], Any], job: Job) -> None:
        assert self._worker is not None
        self._jobs += 1
        self._worker.submit(read, job)

    def stats(self) -> ActorStats:
        """Jobs at the broker are work in flight (``scheduled``) for anyone waiting for idle."""
        return ActorStats(kind=self.kind, handled=self.handled, scheduled=self._jobs)

    def _enable_trading(self) -> None:
        """Seed 001: a recovery over ``recovery_alert_s`` is an alert before trading resumes."""
        duration_ms = (self.scheduler.now_ns() - self._started_ns) // 1_000_000
        limit_ms = int(self.recovery_alert_s * 1000)
        if duration_ms > limit_ms:
            RECOVERY_SLOW_ALERTS.inc()
            self.log.error("recovery_slow", duration_ms=duration_ms, limit_ms=limit_ms)
            if self.bus is not None:
                tell_quietly(self.bus, RecoverySlow(duration_ms=duration_ms, limit_ms=limit_ms))
        self.log.info("trading_enabled", accounts=list(self.accounts), recovery_ms=duration_ms)
        enabled = TradingEnabled()
        for target in (self.execution, self.bus):
            if target is not None:
                tell_quietly(target, enabled)

    def _retry(self, retry: Retry) -> None:
        self._later(retry.after_s, _Startup() if retry.request is None else retry.request)

    def _now_s(self) -> float:
        return self.scheduler.now_ns() / 1e9

    def _later(self, delay_s: float, message: object, *, housekeeping: bool = False) -> None:
        """A periodic sync is ``housekeeping``; a retry is work a lockstep step waits for."""
        if self._timer is None:
            return
        self._timer.tell_later(
            int(delay_s * 1e9), self.actor_ref, message, housekeeping=housekeeping
        )
