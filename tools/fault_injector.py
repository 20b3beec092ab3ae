"""Fault injection: kill actors of chosen kinds at seeded random moments during a run.

Two ways, as a real failure would come: raising inside the actor's handler (it is told
``InjectFault``; pykka stops it and its supervisor sees an abnormal exit) and stopping it
from outside (``ref.stop()``; a permanent child stopped by someone else is restarted too).
"""

from __future__ import annotations

import enum
import random
import threading
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


@attrs.frozen(kw_only=True, slots=True)
class _Dealt:
    """A fault drawn at a step, on its way: the kind dealt, how, which of its actors, and
    how long after a strike it lands (kept for its retries, so they draw nothing)."""

    kind: type[RuntimeActor]
    method: FaultMethod
    pick: float
    delay_ns: int


class FaultInjector:
    """``strike(step)`` kills one live actor of ``kinds`` with probability ``rate``.

    Seeded: which steps, which kind, which actor (among the kind's live ones, in start
    order) and how. Kinds are dealt from a seeded shuffle of ``kinds``, a new shuffle each
    time it runs out, so every kind is hit however few actors of it live at a time (a closed
    order's actor stops). A fault whose kind has no live actor when it lands waits, and is
    tried again at each later ``strike``, so the faults of a seed all land. The moment is
    random too: a fault lands up to ``max_delay_s`` after ``strike`` returns, from a timer
    thread, so it can hit an actor in the middle of whatever it is doing then.
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
        self._deck: list[type[RuntimeActor]] = []
        self._waiting: list[_Dealt] = []
        self._lock = threading.Lock()
        self._timer = scheduler.timer("fault-injector")

    def close(self) -> None:
        """Drop faults not yet landed."""
        self._timer.stop()

    def strike(self, step: int) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for dealt in waiting:
            self._arm(step, dealt)
        if self.random.random() >= self.rate:
            return
        if not self._deck:
            self._deck = self.random.sample(self.kinds, len(self.kinds))
        kind = self._deck.pop()
        dealt = _Dealt(
            kind=kind,
            method=self.random.choice(tuple(FaultMethod)),
            pick=self.random.random(),
            delay_ns=int(self.random.uniform(0, self.max_delay_s) * 1e9),
        )
        self._arm(step, dealt)

    def _arm(self, step: int, dealt: _Dealt) -> None:
        self._timer.call_later(dealt.delay_ns, lambda: self._land(step, dealt))

    def _land(self, step: int, dealt: _Dealt) -> None:
        # The registry lists actors in start order, which a lockstep run repeats exactly.
        targets = [
            ref for ref in pykka.ActorRegistry.get_all() if issubclass(ref.actor_class, dealt.kind)
        ]
        if targets and self._hit(targets[int(dealt.pick * len(targets))], dealt.method, step):
            return
        with self._lock:
            self._waiting.append(dealt)

    def _hit(self, target: pykka.ActorRef[Any], method: FaultMethod, step: int) -> bool:
        """Kill ``target``; False if it died first."""
        try:
            if method is FaultMethod.RAISE:
                target.tell(InjectFault(reason=f"chaos at step {step}"))
            else:
                target.stop(block=False)
        except pykka.ActorDeadError:
            return False
        self.faults.append(Fault(kind=target.actor_class.kind, method=method, step=step))
        return True
