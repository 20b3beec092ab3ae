"""Fault injection: kill actors of chosen kinds at seeded random moments during a run.

Two ways, as a real failure would come: raising inside the actor's handler (it is told
``InjectFault``; pykka stops it and its supervisor sees an abnormal exit) and stopping it
from outside (``ref.stop()``; a permanent child stopped by someone else is restarted too).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence

import attrs
import pykka

from actors.base import RuntimeActor
from messages.commands import InjectFault


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

    Seeded, and it picks among the live actors in a stable order, so a lockstep run with the
    same seed gets the same faults at the same steps.
    """

    def __init__(
        self, *, seed: int, kinds: Sequence[type[RuntimeActor]], rate: float = 0.05
    ) -> None:
        self.random = random.Random(seed)
        self.kinds = tuple(kinds)
        self.rate = rate
        self.faults: list[Fault] = []

    def strike(self, step: int) -> Fault | None:
        if self.random.random() >= self.rate:
            return None
        # The registry lists actors in start order, which a lockstep run repeats exactly.
        targets = [
            ref for ref in pykka.ActorRegistry.get_all() if issubclass(ref.actor_class, self.kinds)
        ]
        if not targets:
            return None
        target = self.random.choice(targets)
        method = self.random.choice(tuple(FaultMethod))
        try:
            if method is FaultMethod.RAISE:
                target.tell(InjectFault(reason=f"chaos at step {step}"))
            else:
                target.stop(block=False)
        except pykka.ActorDeadError:
            return None
        fault = Fault(kind=target.actor_class.kind, method=method, step=step)
        self.faults.append(fault)
        return fault
