"""The runtime's scheduler reaches every actor of the tree that waits or schedules: given a
``ManualScheduler``, the tree starts no timer thread of its own."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridges.simulated_broker import SimulatedBroker
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
from supervisors.kernel.scheduler import REAL_SCHEDULER, ManualScheduler, Scheduler

pytestmark = pytest.mark.timeout(60)

SIMULATED_TIMERS = {"supervisor-tradeactors", "supervisor-markets", "venue-latency"}
BROKER_TIMERS = {
    "supervisor-tradeactors",
    "supervisor-markets",
    "normalizer-heartbeat",
    "reconciler",
    "broker-link",
}


def _new_threads(before: set[threading.Thread]) -> set[str]:
    return {thread.name for thread in threading.enumerate() if thread not in before}


@pytest.mark.parametrize("on_broker", [False, True], ids=["simulated", "broker"])
@pytest.mark.parametrize("manual", [False, True], ids=["real", "manual"])
def test_every_timer_of_the_tree_comes_from_the_runtimes_scheduler(
    tmp_path: Path, on_broker: bool, manual: bool
) -> None:
    scheduler: Scheduler = ManualScheduler() if manual else REAL_SCHEDULER
    paper = SimulatedBroker(seed=1)
    config = RuntimeConfig(
        data_dir=tmp_path,
        latency_ns=1_000_000,
        broker=BrokerConfig(broker=paper) if on_broker else None,
        scheduler=scheduler,
    )
    before = set(threading.enumerate())
    try:
        with Runtime(config).start():
            timers = _new_threads(before) & (BROKER_TIMERS if on_broker else SIMULATED_TIMERS)
    finally:
        paper.close()
    if manual:
        assert timers == set()
    else:
        assert timers == (BROKER_TIMERS if on_broker else SIMULATED_TIMERS)
