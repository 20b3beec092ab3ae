"""The injected clock: a manual scheduler that fires exactly what falls due, in order, and
the real one's timer thread behind the same interface."""

from __future__ import annotations

import ast
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisors.kernel import scheduler
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.scheduler import REAL_SCHEDULER, ManualScheduler, ThreadTimer
from tests.stubs import Collector

pytestmark = pytest.mark.timeout(30)

MS = 1_000_000
PROJECT_ROOTS = {"actors", "messages", "supervisors", "bridges", "tools"}


def test_due_callbacks_fire_in_time_then_sequence_order_with_now_at_their_due_time() -> None:
    clock = ManualScheduler(start_ns=1_000 * MS)
    timer = clock.timer("t")
    fired: list[tuple[str, int]] = []

    def note(name: str) -> Any:
        return lambda: fired.append((name, clock.now_ns()))

    timer.call_later(30 * MS, note("c"))
    timer.call_later(10 * MS, note("a"))
    timer.call_later(10 * MS, note("b"))  # same due time: scheduled after "a", fires after it
    timer.call_later(50 * MS, note("late"))

    clock.advance(0.029)
    assert fired == [("a", 1_010 * MS), ("b", 1_010 * MS)]
    clock.advance(0.001)
    assert fired[2:] == [("c", 1_030 * MS)]
    assert clock.now_ns() == 1_030 * MS
    assert clock.pending() == 1


def test_nothing_fires_until_time_is_advanced_and_a_zero_delay_fires_on_a_zero_advance() -> None:
    clock = ManualScheduler()
    fired: list[str] = []
    clock.timer().call_later(0, lambda: fired.append("now"))
    assert fired == []
    clock.advance(0)
    assert fired == ["now"]


def test_a_cancelled_callback_never_runs_and_cancelling_after_it_ran_is_harmless() -> None:
    clock = ManualScheduler()
    timer = clock.timer()
    fired: list[str] = []
    kept = timer.call_later(MS, lambda: fired.append("kept"))
    dropped = timer.call_later(MS, lambda: fired.append("dropped"))
    dropped.cancel()
    assert clock.pending() == 1
    clock.advance(1)
    kept.cancel()
    assert fired == ["kept"]
    assert clock.pending() == 0


def test_stopping_a_timer_drops_its_own_callbacks_only_and_refuses_later_ones() -> None:
    clock = ManualScheduler()
    mine, theirs = clock.timer("mine"), clock.timer("theirs")
    fired: list[str] = []
    mine.call_later(MS, lambda: fired.append("mine"))
    theirs.call_later(MS, lambda: fired.append("theirs"))
    mine.stop()
    mine.call_later(MS, lambda: fired.append("after stop"))
    clock.advance(1)
    assert fired == ["theirs"]


def test_one_advance_crosses_many_deadlines_including_ones_scheduled_on_the_way() -> None:
    """A periodic callback that re-arms itself fires once per period of the advance."""
    clock = ManualScheduler()
    timer = clock.timer()
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(clock.now_ns())
        timer.call_later(100 * MS, tick)

    timer.call_later(100 * MS, tick)
    clock.advance(1.05)
    assert ticks == [n * 100 * MS for n in range(1, 11)]
    assert clock.now_ns() == 1_050 * MS


@settings(max_examples=200, deadline=None)
@given(
    delays=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=40),
    steps=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=10),
)
def test_any_schedule_fires_in_due_then_sequence_order_whatever_the_advance_steps(
    delays: list[int], steps: list[int]
) -> None:
    clock = ManualScheduler()
    timer = clock.timer()
    fired: list[int] = []
    for number, delay in enumerate(delays):
        timer.call_later(delay, lambda number=number: fired.append(number))  # type: ignore[misc]
    for step in steps:
        clock.advance_ns(step)
    clock.advance_ns(50)
    assert fired == sorted(range(len(delays)), key=lambda number: (delays[number], number))


def test_time_never_moves_backwards() -> None:
    with pytest.raises(ValueError, match="forward"):
        ManualScheduler().advance(-0.001)


class _Chain(RuntimeActor):
    """Each ``str`` it is told schedules the next link a millisecond later, from its thread."""

    kind = "chain"

    def __init__(self, timer: Any, links: queue.Queue[str]) -> None:
        super().__init__()
        self.timer = timer
        self.links = links

    @handles(str)
    def _link(self, message: str) -> None:
        time.sleep(0.005)  # a slow handler: the advance must still wait for it
        self.links.put(message)
        if len(message) < 5:
            self.timer.tell_later(MS, self.actor_ref, message + "+")


def test_an_advance_waits_for_each_actor_it_told_so_what_the_handler_schedules_fires_too() -> None:
    clock = ManualScheduler()
    timer = clock.timer()
    links: queue.Queue[str] = queue.Queue()
    chain = _Chain.start(timer, links)
    timer.tell_later(MS, chain, "x")
    clock.advance(0.010)
    assert [links.get_nowait() for _ in range(links.qsize())] == ["x", "x+", "x++", "x+++", "x++++"]
    assert clock.pending() == 0
    chain.stop()


def test_a_tell_to_an_actor_that_died_meanwhile_is_dropped() -> None:
    clock = ManualScheduler()
    timer = clock.timer()
    ref = Collector.start()
    timer.tell_later(MS, ref, "late")
    ref.stop()
    clock.advance(1)
    assert not ref.is_alive()


# -- the real scheduler ---------------------------------------------------------------------


def test_the_real_timer_runs_callbacks_in_due_order_and_survives_a_failing_one() -> None:
    timer = REAL_SCHEDULER.timer("test-timer")
    ran: list[str] = []
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    def last() -> None:
        ran.append("late")
        done.set()

    timer.call_later(30 * MS, last)
    timer.call_later(10 * MS, lambda: ran.append("early"))
    timer.call_later(0, fail)
    assert done.wait(5)
    timer.stop()
    assert ran == ["early", "late"]


def test_the_real_timer_skips_a_cancelled_callback_and_stop_drops_the_pending() -> None:
    timer = ThreadTimer("test-timer")
    ran: list[str] = []
    done = threading.Event()
    timer.call_later(5 * MS, lambda: ran.append("cancelled")).cancel()
    timer.call_later(10 * MS, done.set)
    assert done.wait(5)
    timer.call_later(60_000 * MS, lambda: ran.append("never"))
    timer.stop()
    timer.call_later(0, lambda: ran.append("after stop"))
    assert ran == []


def test_the_real_timer_tells_an_actor_and_drops_a_tell_to_a_dead_one() -> None:
    timer = REAL_SCHEDULER.timer("test-timer")
    inbox: queue.Queue[Any] = queue.Queue()
    dead = Collector.start()
    dead.stop()
    timer.tell_later(0, dead, "lost")
    timer.tell_later(MS, Collector.start(inbox), "hello")
    assert inbox.get(timeout=5) == "hello"
    timer.stop()


def test_the_real_clock_is_monotonic_nanoseconds() -> None:
    first = REAL_SCHEDULER.now_ns()
    time.sleep(0.002)
    assert REAL_SCHEDULER.now_ns() - first >= 2 * MS
    assert abs(REAL_SCHEDULER.now_ns() - time.monotonic_ns()) < 1_000 * MS


def test_the_scheduler_belongs_to_the_actor_kernel_and_imports_no_outer_layer() -> None:
    """The replay kernel runs on it: it may lean on ``messages`` only, never on an adapter."""
    tree = ast.parse(Path(scheduler.__file__).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    project = {name for name in imported if name.split(".")[0] in PROJECT_ROOTS}
    assert all(name.split(".")[0] == "messages" for name in project), project
