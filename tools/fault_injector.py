"""Fault injection: kill actors of chosen kinds at seeded random moments during a run.

Two ways, as a real failure would come: raising inside the actor's handler (it is told
``InjectFault``; pykka stops it and its supervisor sees an abnormal exit) and stopping it
from outside (``ref.stop()``; a permanent child stopped by someone else is restarted too).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from typing import Any

import attrs
import pykka

from messages.supervision import InjectFault
from supervisors.kernel.base import RuntimeActor
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler


class FaultMethod(enum.Enum):
    RAISE = "raise"
    STOP = "stop"


@attrs.frozen(kw_only=True, slots=True)
class Fault:
    """One injected fault: which kind of actor, how, and when (the caller's step)."""

    kind: str
    method: FaultMethod
    step: int


class FaultInjector:
    """``strike(step)`` kills one live actor of ``kinds`` with probability ``rate``.

    Seeded: which steps, which actor (among the live ones, in start order) and how. The
    moment is random too: the fault lands up to ``max_delay_s`` after ``strike`` returns, from
    a timer thread, so it can hit an actor in the middle of whatever it is doing then.
    """

    def __init__(
        self,
        *,
        seed: int,
        kinds: Sequence[type[RuntimeActor]],
        rate: float = 0.05,
        max_delay_s: float = 0.002,
        scheduler: Scheduler = REAL_SCHEDULER,
    ) -> None:
        self.random = random.Random(seed)
        self.kinds = tuple(kinds)
        self.rate = rate
        self.max_delay_s = max_delay_s
        self.faults: list[Fault] = []
        self._timer = scheduler.timer("fault-injector")

    def close(self) -> None:
        """Drop faults not yet landed."""
        self._timer.stop()

    def strike(self, step: int) -> None:
        if self.random.random() >= self.rate:
            return
        method = self.random.choice(tuple(FaultMethod))
        kind_pick, pick = self.random.random(), self.random.random()
        delay_ns = int(self.random.uniform(0, self.max_delay_s) * 1e9)
        self._timer.call_later(delay_ns, lambda: self._land(step, method, kind_pick, pick))

    def _land(self, step: int, method: FaultMethod, kind_pick: float, pick: float) -> None:
        # A kind first, then one of its actors: a run holds hundreds of orders and a handful
        # of markets, and every kind should be hit. The registry lists actors in start
        # order, which a lockstep run repeats exactly.
        by_kind: dict[str, list[pykka.ActorRef[Any]]] = {}
        for ref in pykka.ActorRegistry.get_all():
            if issubclass(ref.actor_class, self.kinds):
                by_kind.setdefault(ref.actor_class.kind, []).append(ref)
        if not by_kind:
            return
        targets = list(by_kind.values())[int(kind_pick * len(by_kind))]
        target = targets[int(pick * len(targets))]
        try:
            if method is FaultMethod.RAISE:
                target.tell(InjectFault(reason=f"chaos at step {step}"))
            else:
                target.stop(block=False)
        except pykka.ActorDeadError:
            return
        self.faults.append(Fault(kind=target.actor_class.kind, method=method, step=step))
