"""An OTP-style supervisor on pykka: start children in order, restart them by a strategy.

The supervisor is itself a ``Supervised`` pykka actor, so supervisors nest: when its children
need more than ``max_restarts`` restarts within ``period_s`` it stops them (reverse start
order) and fails, and its own parent sees an abnormal exit and applies its strategy.

Everything happens in the supervisor's thread: factories run there, and notices, timers and
user requests arrive as messages. Its handlers never ``ask`` a child. It waits in two places,
each bounded by the child's spec: for a started child's ``on_start`` to finish (at most
``start_timeout_s``; this is what orders starts, as OTP's synchronous start does) and for a
stopped child to stop (at most ``shutdown_s``: ``ref.stop(block=False)`` and
``get(timeout=shutdown_s)``, OTP's shutdown timeout). Backoff delays and the liveness check
run on a timer of the injected ``Scheduler`` (``supervisors.kernel.scheduler``), which only
tells the supervisor a message.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import attrs
import pykka

from messages.stats import ActorStats
from supervisors.kernel.base import PublishingActor, handles, tell_quietly
from supervisors.kernel.child_spec import Backoff, ChildSpec, Restart, Strategy, SupervisedContext
from supervisors.kernel.errors import ChildStartError, RestartIntensityError
from supervisors.kernel.events import (
    ChildAbandoned,
    ChildRestarted,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    ChildTerminated,
    IntensityExceeded,
)
from supervisors.kernel.metrics import ACTOR_RESTARTS
from supervisors.kernel.protocol import (
    AddChild,
    AddChildReply,
    ChildExited,
    ChildInfo,
    ChildRefused,
    RemoveChild,
    RemoveChildReply,
    WhichChildren,
)
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler, Timer
from supervisors.kernel.supervised import Supervised, describe_exception

DIED_WITHOUT_NOTICE = "died without notice"
"""The ``reason`` when the liveness check, not the child, reported its death."""


@attrs.define
class _Child:
    spec: ChildSpec
    ref: pykka.ActorRef[Any] | None = None
    restarts: int = 0
    started_at: float = 0.0
    failure_streak: int = 0
    suspect_urn: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class _RestartDue:
    """A backoff delay has passed: start these children (those still waiting) in start order."""

    child_ids: frozenset[str]


@attrs.frozen(kw_only=True, slots=True)
class _RetryStart:
    """A factory failed during a restart; handled as another abnormal exit of the child."""

    child_id: str
    reason: str


@attrs.frozen(kw_only=True, slots=True)
class _CheckLiveness:
    """Time to look for children whose thread ended without a ``ChildExited``."""


class Supervisor(Supervised, PublishingActor):
    """Starts ``children`` in order, restarts them by ``strategy``, stops them in reverse.

    ``events`` (optional) is subscribed to the supervision events (``supervisors.kernel.events``);
    more subscribers can ``Subscribe``. ``liveness_interval_s`` is how often the backstop
    check looks for children that died without telling (``None`` turns it off); such a
    child is handled as an abnormal exit after two checks in a row found it dead.
    ``scheduler`` runs those timers and is the clock the intensity window and the backoff
    reset are measured with.
    """

    kind = "supervisor"

    def __init__(
        self,
        *,
        name: str,
        children: Sequence[ChildSpec] = (),
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        period_s: float = 5.0,
        backoff: Backoff | None = None,
        events: pykka.ActorRef[Any] | None = None,
        liveness_interval_s: float | None = 1.0,
        scheduler: Scheduler = REAL_SCHEDULER,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision, supervisor=name)
        ids = [spec.id for spec in children]
        if len(set(ids)) != len(ids):
            raise ValueError(f"child ids must be unique, got {ids}")
        if max_restarts < 0 or period_s <= 0:
            raise ValueError("max_restarts must be >= 0 and period_s > 0")
        if liveness_interval_s is not None and liveness_interval_s <= 0:
            raise ValueError("liveness_interval_s must be > 0 or None")
        self.name = name
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.period_s = float(period_s)
        self.backoff = backoff
        self.liveness_interval_s = liveness_interval_s
        self.scheduler = scheduler
        self.children: dict[str, _Child] = {spec.id: _Child(spec=spec) for spec in children}
        if events is not None:
            self.subscribers.append(events)
        self._restart_times: collections.deque[float] = collections.deque()
        self._pending_restarts = 0
        self._timer: Timer | None = None

    @classmethod
    def child_spec(
        cls,
        child_id: str,
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown_s: float | None = None,
        start_timeout_s: float | None = None,
        **options: Any,
    ) -> ChildSpec:
        """A spec that runs a supervisor named ``child_id`` as a child of another one.

        ``options`` are this class's keyword arguments. ``shutdown_s`` and ``start_timeout_s``
        default to the sum of the children's plus a second, so a parent waits long enough for
        the whole subtree to start and to stop in order (children added later with
        ``AddChild`` are not counted).
        """
        children: Sequence[ChildSpec] = options.get("children", ())
        if shutdown_s is None:
            shutdown_s = sum(spec.shutdown_s for spec in children) + 1.0
        if start_timeout_s is None:
            start_timeout_s = sum(spec.start_timeout_s for spec in children) + 1.0

        def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
            return cls.start(name=child_id, supervision=context, **options)

        return ChildSpec(
            id=child_id,
            start=start,
            restart=restart,
            shutdown_s=shutdown_s,
            start_timeout_s=start_timeout_s,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def on_start(self) -> None:
        self._timer = self.scheduler.timer(f"supervisor-{self.name}")
        for child in list(self.children.values()):
            failure = self._start(child)
            if failure is not None:
                self._shut_down()
                raise ChildStartError(f"child {child.spec.id!r} failed to start: {failure}")
            self._report_started(child)
        self._schedule_liveness_check()

    def on_stop(self) -> None:
        self._shut_down()

    def on_failure(
        self,
        _exception_type: type[BaseException] | None,
        _exception_value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._shut_down()

    def stats(self) -> ActorStats:
        """``scheduled`` counts restarts waiting for a backoff delay."""
        return ActorStats(kind=self.kind, handled=self.handled, scheduled=self._pending_restarts)

    # -- requests --------------------------------------------------------------------------

    @handles(AddChild)
    def _add_child(self, message: AddChild) -> ChildInfo | ChildRefused:
        answer = self._added(message.spec)
        if message.reply_to is not None:
            # A requester that died meanwhile has nobody to tell; the child stays supervised.
            tell_quietly(message.reply_to, AddChildReply(correlation_id=message.id, answer=answer))
        return answer

    def _added(self, spec: ChildSpec) -> ChildInfo | ChildRefused:
        if spec.id in self.children:
            return ChildRefused(child_id=spec.id, reason="a child with this id exists")
        child = _Child(spec=spec)
        failure = self._start(child)
        if failure is not None:
            return ChildRefused(child_id=spec.id, reason=failure)
        self.children[spec.id] = child
        self._report_started(child)
        return self._info(child)

    @handles(RemoveChild)
    def _remove_child(self, message: RemoveChild) -> bool:
        removed = self._removed(message.child_id)
        if message.reply_to is not None:
            tell_quietly(
                message.reply_to,
                RemoveChildReply(
                    correlation_id=message.id, child_id=message.child_id, removed=removed
                ),
            )
        return removed

    def _removed(self, child_id: str) -> bool:
        child = self.children.pop(child_id, None)
        if child is None:
            return False
        self._stop_child(child)
        self.log.info("child_removed", child_id=child_id)
        return True

    @handles(WhichChildren, reads_only=True)
    def _which_children(self, _message: WhichChildren) -> tuple[ChildInfo, ...]:
        return tuple(self._info(child) for child in self.children.values())

    # -- exits -----------------------------------------------------------------------------

    @handles(ChildExited)
    def _child_exited(self, notice: ChildExited) -> None:
        child = self.children.get(notice.child_id)
        if child is None or child.ref is None or child.ref.actor_urn != notice.ref.actor_urn:
            # An incarnation the supervisor stopped, replaced or removed itself.
            self.log.debug("stale_exit_notice", child_id=notice.child_id, reason=notice.reason)
            return
        self._exited(child, abnormal=notice.abnormal, reason=notice.reason)

    @handles(_RetryStart)
    def _retry_start(self, message: _RetryStart) -> None:
        child = self.children.get(message.child_id)
        if child is not None and child.ref is None:
            self._exited(child, abnormal=True, reason=message.reason)

    @handles(_CheckLiveness)
    def _check_liveness(self, _message: _CheckLiveness) -> None:
        for child in list(self.children.values()):
            ref = child.ref
            if self.children.get(child.spec.id) is not child or ref is None or ref.is_alive():
                continue
            if child.suspect_urn == ref.actor_urn:
                self._exited(child, abnormal=True, reason=DIED_WITHOUT_NOTICE)
            else:
                # Its notice may still be on the way (pykka marks an actor dead before its
                # thread has finished); give it one more interval.
                child.suspect_urn = ref.actor_urn
        self._schedule_liveness_check()

    @handles(_RestartDue)
    def _restart_due(self, message: _RestartDue) -> None:
        self._pending_restarts -= 1
        self._restart(message.child_ids)

    def _exited(self, child: _Child, *, abnormal: bool, reason: str) -> None:
        """Apply the restart type, the intensity limit and the strategy to one exit."""
        child.ref = None
        restart = child.spec.restart
        restarting = restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and abnormal)
        delay_s = self._next_delay_s(child, reason) if restarting else 0.0
        exceeded = restarting and (self._count_restart() or self._backoff_exhausted(child))
        (self.log.warning if abnormal else self.log.info)(
            "child_exited",
            child_id=child.spec.id,
            abnormal=abnormal,
            reason=reason,
            restarting=restarting and not exceeded,
        )
        self.publish(
            ChildTerminated(
                supervisor=self.name,
                child_id=child.spec.id,
                abnormal=abnormal,
                reason=reason,
                restarting=restarting and not exceeded,
            )
        )
        if not restarting:
            del self.children[child.spec.id]
            return
        if exceeded:
            self._give_up(child, reason)
        group = self._group(child)
        for sibling in reversed(group):
            if sibling is not child:
                self._stop_child(sibling)
                if sibling.spec.restart is Restart.TEMPORARY:
                    del self.children[sibling.spec.id]
        child_ids = frozenset(member.spec.id for member in group if member.spec.id in self.children)
        if delay_s > 0:
            self._schedule(delay_s, _RestartDue(child_ids=child_ids))
            self._pending_restarts += 1
            self.log.info("restart_delayed", child_id=child.spec.id, delay_s=delay_s)
        else:
            self._restart(child_ids)

    def _group(self, child: _Child) -> list[_Child]:
        """The children the strategy restarts when ``child`` exits, in start order."""
        children = list(self.children.values())
        if self.strategy is Strategy.ONE_FOR_ALL:
            return children
        if self.strategy is Strategy.REST_FOR_ONE:
            return children[children.index(child) :]
        return [child]

    def _count_restart(self) -> bool:
        """Record one restart; True when that makes more than ``max_restarts`` in the period."""
        now = self._now_s()
        self._restart_times.append(now)
        while self._restart_times[0] <= now - self.period_s:
            self._restart_times.popleft()
        return len(self._restart_times) > self.max_restarts

    def _next_delay_s(self, child: _Child, reason: str) -> float:
        backoff = child.spec.backoff or self.backoff
        if backoff is None or not backoff.applies_to(reason):
            return 0.0
        if self._now_s() - child.started_at >= self.period_s:
            child.failure_streak = 0
        delay_s = backoff.delay_s(child.failure_streak)
        child.failure_streak += 1
        return delay_s

    def _backoff_exhausted(self, child: _Child) -> bool:
        backoff = child.spec.backoff or self.backoff
        limit = backoff.give_up_after if backoff is not None else None
        return limit is not None and child.failure_streak > limit

    def _give_up(self, child: _Child, reason: str) -> None:
        self.log.error(
            "restart_intensity_exceeded",
            max_restarts=self.max_restarts,
            period_s=self.period_s,
            child_id=child.spec.id,
            reason=reason,
        )
        self.publish(
            IntensityExceeded(
                supervisor=self.name, max_restarts=self.max_restarts, period_s=self.period_s
            )
        )
        limit = f"more than {self.max_restarts} restarts in {self.period_s} s"
        if self._backoff_exhausted(child):
            tries = child.failure_streak - 1
            limit = f"{child.spec.id!r} still failing after {tries} backed-off restarts"
        # Failing in a handler makes pykka call on_failure (which stops the children) and
        # Supervised tell the parent: the escalation.
        raise RestartIntensityError(
            f"supervisor {self.name!r}: {limit}; last exit of {child.spec.id!r}: {reason}"
        )

    # -- starting and stopping children ----------------------------------------------------

    def _restart(self, child_ids: frozenset[str]) -> None:
        """Start the waiting children among ``child_ids`` in start order."""
        for child in list(self.children.values()):
            if child.spec.id not in child_ids or child.ref is not None:
                continue
            failure = self._start(child)
            if failure is not None:
                # The rest of the group waits: the retry restarts it with this child.
                self._tell_self(_RetryStart(child_id=child.spec.id, reason=failure))
                return
            child.restarts += 1
            assert child.ref is not None
            ACTOR_RESTARTS.labels(kind=getattr(child.ref.actor_class, "kind", "actor")).inc()
            self.log.info("child_restarted", child_id=child.spec.id, restarts=child.restarts)
            self.publish(
                ChildRestarted(
                    supervisor=self.name,
                    child_id=child.spec.id,
                    ref=child.ref,
                    restarts=child.restarts,
                )
            )

    def _start(self, child: _Child) -> str | None:
        """Run the child's factory here and wait for its ``on_start`` to finish.

        Returns the failure's description if the factory raised. An exception in the child's
        ``on_start`` is not a start failure here: it arrives as the child's exit notice.
        """
        spec = child.spec
        child.started_at = self._now_s()
        context = SupervisedContext(supervisor=self.actor_ref, child_id=spec.id)
        try:
            ref = spec.start(context)
            if not isinstance(ref, pykka.ActorRef):
                raise TypeError(f"the factory returned {type(ref).__name__}, not an ActorRef")
        except Exception as error:
            reason = describe_exception(error)
            self.log.exception("child_start_failed", child_id=spec.id, reason=reason)
            self.publish(ChildStartFailed(supervisor=self.name, child_id=spec.id, reason=reason))
            return reason
        child.ref = ref
        # Only a Supervised child signals the end of on_start; a plain actor is not waited for.
        if issubclass(ref.actor_class, Supervised) and not context.started.wait(
            spec.start_timeout_s
        ):
            self.log.warning("child_start_slow", child_id=spec.id, timeout_s=spec.start_timeout_s)
        return None

    def _report_started(self, child: _Child) -> None:
        assert child.ref is not None
        self.log.info("child_started", child_id=child.spec.id)
        self.publish(ChildStarted(supervisor=self.name, child_id=child.spec.id, ref=child.ref))

    def _stop_child(self, child: _Child) -> None:
        """Stop ``child`` and wait up to its ``shutdown_s``; abandon it after that."""
        ref, child.ref = child.ref, None
        if ref is None:
            return
        try:
            ref.stop(block=False).get(timeout=child.spec.shutdown_s)
        except pykka.Timeout:
            self.log.error(
                "child_abandoned", child_id=child.spec.id, shutdown_s=child.spec.shutdown_s
            )
            self.publish(
                ChildAbandoned(
                    supervisor=self.name, child_id=child.spec.id, shutdown_s=child.spec.shutdown_s
                )
            )
            return
        self.log.info("child_stopped", child_id=child.spec.id)
        self.publish(ChildStopped(supervisor=self.name, child_id=child.spec.id))

    def _shut_down(self) -> None:
        """Stop the timer, then every child in reverse start order."""
        if self._timer is not None:
            self._timer.stop()
        for child in reversed(list(self.children.values())):
            self._stop_child(child)

    # -- timers ----------------------------------------------------------------------------

    def _schedule_liveness_check(self) -> None:
        if self.liveness_interval_s is not None:
            self._schedule(self.liveness_interval_s, _CheckLiveness(), housekeeping=True)

    def _schedule(self, delay_s: float, message: object, *, housekeeping: bool = False) -> None:
        """A liveness check is ``housekeeping``; a restart's backoff is work."""
        assert self._timer is not None
        self._timer.tell_later(
            int(delay_s * 1e9), self.actor_ref, message, housekeeping=housekeeping
        )

    def _now_s(self) -> float:
        """The scheduler's monotonic time, in the seconds restart periods are counted in."""
        return self.scheduler.now_ns() / 1e9

    def _tell_self(self, message: object) -> None:
        """Tell this supervisor ``message``; from a timer thread it may already be gone."""
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            self.log.debug("message_to_stopped_supervisor", message_type=type(message).__name__)

    def _info(self, child: _Child) -> ChildInfo:
        return ChildInfo(
            child_id=child.spec.id,
            ref=child.ref,
            restart=child.spec.restart,
            restarts=child.restarts,
        )
