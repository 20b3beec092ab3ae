"""The fault injector deals every configured kind, the same way for a seed, and a fault whose
kind has no live actor waits until one lives (a closed order's actor stops, a resting one runs)."""

from __future__ import annotations

import pykka
import pytest

from supervisors.kernel.base import RuntimeActor
from supervisors.kernel.scheduler import ManualScheduler
from tools.fault_injector import FaultInjector, FaultMethod

pytestmark = pytest.mark.timeout(30)


class _Left(RuntimeActor):
    kind = "left"


class _Right(RuntimeActor):
    kind = "right"


class _Absent(RuntimeActor):
    kind = "absent"


def _struck(seed: int, steps: int, *, absent_from: int) -> FaultInjector:
    """A fault at every step; the absent kind has an actor only from step ``absent_from``."""
    scheduler = ManualScheduler()
    injector = FaultInjector(
        seed=seed, kinds=(_Left, _Right, _Absent), rate=1.0, scheduler=scheduler
    )
    for step in range(steps):
        for kind in (_Left, _Right, _Absent):
            if kind is not _Absent or step >= absent_from:
                kind.start()
        injector.strike(step)
        scheduler.advance(injector.max_delay_s)
        pykka.ActorRegistry.stop_all()
    injector.close()
    return injector


def test_every_kind_is_dealt_once_in_each_round_and_the_same_way_for_a_seed() -> None:
    injector = _struck(seed=3, steps=6, absent_from=0)
    kinds = [fault.kind for fault in injector.faults]
    assert sorted(kinds[:3]) == sorted(kinds[3:]) == ["absent", "left", "right"]
    assert _struck(seed=3, steps=6, absent_from=0).faults == injector.faults
    assert _struck(seed=4, steps=6, absent_from=0).faults != injector.faults
    assert {fault.method for fault in injector.faults} == set(FaultMethod)


def test_a_fault_for_a_kind_with_no_live_actor_waits_and_lands_once_one_lives() -> None:
    injector = _struck(seed=3, steps=9, absent_from=7)
    # Dealt once in each round of three steps, the absent kind's faults all land, none
    # before its actor lives.
    absent = [fault.step for fault in injector.faults if fault.kind == "absent"]
    assert len(absent) == 3
    assert min(absent) == 7
    assert len(injector.faults) == 9
