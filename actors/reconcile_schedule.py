"""Which reconciles to run, and when: the ReconcilerActor's plain core, with no threads.

The actor owns a ``ReconcileSchedule``, asks it what each trigger comes to and runs the
queries it returns (``AccountJob``, ``OrdersJob``) on its worker; the schedule keeps:

- the position sync's debounce as data: a deal callback runs a sync only at or after
  ``next_sync_due`` (``min_sync_s`` after the last one; the startup reconcile counts), and
  one it skipped is owed a sync at ``next_sync_due`` (``owes_sync``): seed 002 only skipped,
  so the last change of a burst waited for the full sync, minutes later;
- coalescing: an account reconcile of the same scope already at the broker is not doubled;
- each account's watermark: a sync or a targeted reconcile reads fills from a margin before
  the start of the last full check of the account;
- the startup gate: trading is enabled once every account has compared its positions, and a
  failed startup query is retried after a delay that doubles up to ``MAX_STARTUP_RETRY_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from messages.reconciliation import PositionsCompared, ReconcileRequest

STARTUP = "startup"
"""The reason of the startup reconcile, the one that gates trading."""

MAX_STARTUP_RETRY_S = 30.0


@attrs.frozen(kw_only=True, slots=True)
class AccountJob:
    """A reconcile of one account: its positions, open orders and fills since ``since_ns``."""

    account: str
    reason: str
    since_ns: int
    scope: tuple[str, ...]
    """The securities it is about; all of the account's when empty."""
    started_ns: int

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return (self.account, self.scope)


@attrs.frozen(kw_only=True, slots=True)
class OrdersJob:
    """A reconcile of some orders: each one's state and the session's deals of its account."""

    order_nos: tuple[str, ...]
    reason: str


Job = AccountJob | OrdersJob


@attrs.frozen(kw_only=True, slots=True)
class Retry:
    """Run ``request`` (or, when it is None, the startup reconcile again) after ``after_s``."""

    after_s: float
    request: ReconcileRequest | None = None


class ReconcileSchedule:
    """The reconciler's decisions; ``clock`` stamps each account job's start (ns)."""

    def __init__(
        self,
        *,
        accounts: tuple[str, ...],
        session_start_ns: int = 0,
        min_sync_s: float = 5.0,
        overlap_s: float = 5.0,
        retry_s: float = 0.5,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.accounts = accounts
        self.session_start_ns = session_start_ns
        self.min_sync_s = min_sync_s
        self.overlap_ns = int(overlap_s * 1e9)
        self.retry_s = retry_s
        self.clock = clock
        self.trading_enabled = False
        self._checked_ns: dict[str, int] = {}
        self._startup_waiting: set[str] = set(accounts)
        self._startup_retry_s = retry_s
        self._last_sync = float("-inf")
        self._in_flight: set[tuple[str, tuple[str, ...]]] = set()
        self.coalesced = 0
        self.reconciles = self.failures = 0
        self.callback_triggers = self.syncs = self.skipped = self.full_syncs = 0
        self.owes_sync = False

    @property
    def next_sync_due(self) -> float:
        """The earliest time (on the ``now`` of ``position_callback``) a callback may sync."""
        return self._last_sync + self.min_sync_s

    # -- triggers --------------------------------------------------------------------------

    def started(self, now: float) -> None:
        """The startup reconcile is the first sync."""
        self._last_sync = now

    def startup(self) -> list[AccountJob]:
        """The startup reconcile of every account that has not compared its positions yet."""
        return self._accounts(sorted(self._startup_waiting), STARTUP, full=True)

    def request(self, request: ReconcileRequest) -> list[Job]:
        """Some orders when only they are named; else every account, scoped to the request's
        securities (read from the watermark) or whole (read from the session's start)."""
        if request.order_nos and not request.security_ids:
            return [OrdersJob(order_nos=request.order_nos, reason=request.reason)]
        jobs: list[Job] = []
        for account in self.accounts:
            job = self._account(
                account,
                request.reason,
                since_ns=self._since(account) if request.security_ids else self.session_start_ns,
                scope=request.security_ids,
            )
            if job is not None:
                jobs.append(job)
        return jobs

    def position_callback(self, now: float) -> list[AccountJob]:
        """Seed 002's callback-triggered sync: none before ``next_sync_due``."""
        self.callback_triggers += 1
        if now < self.next_sync_due:
            self.skipped += 1
            self.owes_sync = True
            return []
        return self._sync(now, "position callback")

    def owed_sync(self, now: float) -> list[AccountJob]:
        """The sync skipped callbacks are owed, once ``next_sync_due`` has come."""
        if not self.owes_sync or now < self.next_sync_due:
            return []
        return self._sync(now, "position callbacks debounced")

    def _sync(self, now: float, reason: str) -> list[AccountJob]:
        self._last_sync = now
        self.owes_sync = False
        self.syncs += 1
        return self._accounts(self.accounts, reason, full=False)

    def full_sync(self) -> list[AccountJob]:
        self.full_syncs += 1
        return self._accounts(self.accounts, "periodic full sync", full=True)

    def orders_missing(self, order_nos: tuple[str, ...]) -> list[OrdersJob]:
        """Our open orders the broker no longer lists: their callbacks were lost."""
        if not order_nos:
            return []
        return [OrdersJob(order_nos=order_nos, reason="open here, not open at the broker")]

    # -- answers ---------------------------------------------------------------------------

    def done(self, job: Job) -> None:
        """The broker answered ``job``; a whole account's answer moves its watermark."""
        self.reconciles += 1
        if isinstance(job, AccountJob):
            self._in_flight.discard(job.key)
            if not job.scope:
                self._checked_ns[job.account] = max(
                    self._checked_ns.get(job.account, 0), job.started_ns
                )

    def failed(self, job: Job) -> Retry:
        """Nothing is concluded from a failed query; the same is tried again later."""
        self.failures += 1
        if isinstance(job, AccountJob):
            self._in_flight.discard(job.key)
            if job.reason == STARTUP:
                retry = Retry(after_s=self._startup_retry_s)
                self._startup_retry_s = min(self._startup_retry_s * 2, MAX_STARTUP_RETRY_S)
                return retry
        return Retry(after_s=self.retry_s, request=ReconcileRequest(reason=f"retry: {job.reason}"))

    def compared(self, message: PositionsCompared) -> Retry | None:
        """A retry of the securities whose deals moved while the broker was asked, if any;
        the last account of the startup to compare enables trading."""
        retry = None
        if message.unsettled:
            retry = Retry(
                after_s=self.retry_s,
                request=ReconcileRequest(
                    reason=_retry_reason(message.reason), security_ids=message.unsettled
                ),
            )
        if message.account in self._startup_waiting:
            self._startup_waiting.discard(message.account)
            if not self._startup_waiting:
                self.trading_enabled = True
        return retry

    # -- the work --------------------------------------------------------------------------

    def _accounts(
        self, accounts: list[str] | tuple[str, ...], reason: str, *, full: bool
    ) -> list[AccountJob]:
        jobs = []
        for account in accounts:
            since_ns = self.session_start_ns if full else self._since(account)
            job = self._account(account, reason, since_ns=since_ns)
            if job is not None:
                jobs.append(job)
        return jobs

    def _account(
        self, account: str, reason: str, *, since_ns: int, scope: tuple[str, ...] = ()
    ) -> AccountJob | None:
        """A job for the worker, or None when the same reconcile is already at the broker."""
        job = AccountJob(
            account=account,
            reason=reason,
            since_ns=since_ns,
            scope=scope,
            started_ns=self.clock(),
        )
        if job.key in self._in_flight:
            self.coalesced += 1
            return None
        self._in_flight.add(job.key)
        return job

    def _since(self, account: str) -> int:
        """Where a sync or a targeted reconcile reads fills from: a margin before the start
        of the last full check of the account (its whole session before that one)."""
        checked = self._checked_ns.get(account)
        if checked is None:
            return self.session_start_ns
        return max(self.session_start_ns, checked - self.overlap_ns)


_MOVED = "deals moved during the last comparison"


def _retry_reason(reason: str) -> str:
    """The retry says why the first comparison ran (a FAILED trade's reversal, say), once."""
    if not reason:
        return _MOVED
    return reason if reason.startswith(_MOVED) else f"{_MOVED} ({reason})"
