"""The supervision library, after OTP's own supervisor suite.

Restart types by exits, each strategy's restart set and order, intensity and escalation,
shutdown timeouts, backoff, dynamic children, the three ways a child can die, nested trees.
Starts are recorded by the factories (they run one after another in the supervisor's
thread), stops and crashes by the children; every wait is on a condition with a timeout.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import pykka
import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from messages.stats import GetStats
from supervisors.kernel.base import ask
from supervisors.kernel.child_spec import (
    Backoff,
    ChildSpec,
    Restart,
    Strategy,
    SupervisedContext,
)
from supervisors.kernel.events import (
    ChildAbandoned,
    ChildRestarted,
    ChildStarted,
    ChildStartFailed,
    ChildStopped,
    ChildTerminated,
    IntensityExceeded,
)
from supervisors.kernel.protocol import (
    AddChild,
    AddChildReply,
    ChildInfo,
    ChildRefused,
    RemoveChild,
    RemoveChildReply,
    WhichChildren,
)
from supervisors.kernel.scheduler import ManualScheduler
from supervisors.kernel.supervised import Supervised
from supervisors.kernel.supervisor import DIED_WITHOUT_NOTICE, Supervisor

pytestmark = pytest.mark.timeout(30)

WAIT_S = 5.0


class Recorder:
    """A thread-safe, append-only record that tests wait on (never sleep on)."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def items(self) -> list[Any]:
        with self._changed:
            return list(self._items)

    def wait_for_count(self, count: int) -> list[Any]:
        """All items, once there are at least ``count``."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._items) >= count, timeout=WAIT_S):
                raise AssertionError(f"expected {count} items, got {self._items}")
            return list(self._items)

    def wait_for(self, match: Callable[[Any], bool], count: int = 1) -> Any:
        """The ``count``-th item that ``match``es, once it is there."""

        def matching() -> list[Any]:
            return [item for item in self._items if match(item)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=WAIT_S):
                raise AssertionError(f"no {count} matching items in {self._items}")
            return matching()[count - 1]


class EventSink(pykka.ThreadingActor):
    """Subscribes to supervisors; keeps every event in a Recorder."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def on_receive(self, message: Any) -> None:
        self.recorder.add(message)


def event_of(kind: type, count: int = 1, **fields: Any) -> Callable[[Recorder], Any]:
    """Wait for the ``count``-th event of ``kind`` whose fields equal ``fields``."""

    def wait(events: Recorder) -> Any:
        return events.wait_for(
            lambda e: isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items()),
            count,
        )

    return wait


@attrs.frozen
class Crash:
    """Raise while handling this tell: pykka calls on_failure and the actor dies."""


@attrs.frozen
class StopYourself:
    """Stop normally, from inside (work done)."""


class Worker(Supervised):
    """A child that records its stops and crashes and fails on request."""

    def __init__(
        self,
        *,
        name: str,
        lifecycle: Recorder,
        fail_on_start: bool = False,
        release_start: threading.Event | None = None,
        release_stop: threading.Event | None = None,
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(supervision=supervision)
        self.name = name
        self.lifecycle = lifecycle
        self.fail_on_start = fail_on_start
        self.release_start = release_start
        self.release_stop = release_stop

    def on_start(self) -> None:
        if self.release_start is not None:
            self.release_start.wait(timeout=WAIT_S * 2)
        if self.fail_on_start:
            raise RuntimeError("cannot start")

    def on_stop(self) -> None:
        self.lifecycle.add(("stop", self.name))
        if self.release_stop is not None:
            self.release_stop.wait(timeout=WAIT_S * 2)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.lifecycle.add(("crash", self.name))

    def on_receive(self, message: Any) -> None:
        if isinstance(message, Crash):
            raise RuntimeError("boom")
        if isinstance(message, StopYourself):
            self.stop()


def worker(
    child_id: str,
    lifecycle: Recorder,
    *,
    restart: Restart = Restart.PERMANENT,
    shutdown_s: float = 5.0,
    start_timeout_s: float = 5.0,
    failing_starts: int = 0,
    release_start: threading.Event | None = None,
    release_stop: threading.Event | None = None,
) -> ChildSpec:
    """A Worker spec whose factory records ("start", id, monotonic time) and whose first
    ``failing_starts`` incarnations fail in on_start."""
    starts = itertools.count(1)

    def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
        number = next(starts)
        lifecycle.add(("start", child_id, time.monotonic()))
        return Worker.start(
            name=child_id,
            lifecycle=lifecycle,
            fail_on_start=number <= failing_starts,
            release_start=release_start,
            release_stop=release_stop,
            supervision=context,
        )

    return ChildSpec(
        id=child_id,
        start=start,
        restart=restart,
        shutdown_s=shutdown_s,
        start_timeout_s=start_timeout_s,
    )


def steps(entries: list[Any]) -> list[tuple[str, str]]:
    """Lifecycle entries without their timestamps."""
    return [(entry[0], entry[1]) for entry in entries]


def children_of(supervisor: pykka.ActorRef[Any]) -> dict[str, ChildInfo]:
    return {info.child_id: info for info in ask(supervisor, WhichChildren())}


def current(supervisor: pykka.ActorRef[Any], child_id: str) -> pykka.ActorRef[Any]:
    """The running incarnation of ``child_id``, as its supervisor knows it."""
    ref = children_of(supervisor)[child_id].ref
    assert ref is not None
    return ref


class Tree:
    """One test's recorders and the supervisors it starts, all reporting to one sink."""

    def __init__(self) -> None:
        self.lifecycle = Recorder()
        self.events = Recorder()
        self.sink = EventSink.start(self.events)

    def supervisor(self, children: list[ChildSpec], **options: Any) -> pykka.ActorRef[Any]:
        options.setdefault("name", "sup")
        return Supervisor.start(children=children, events=self.sink, **options)

    def worker(self, child_id: str, **options: Any) -> ChildSpec:
        return worker(child_id, self.lifecycle, **options)

    def wait(self, waiter: Callable[[Recorder], Any]) -> Any:
        return waiter(self.events)


@pytest.fixture
def tree() -> Tree:
    return Tree()


# -- restart types by exits -----------------------------------------------------------------

EXITS: dict[str, Callable[[pykka.ActorRef[Any]], object]] = {
    "crash": lambda ref: ref.tell(Crash()),
    "own_stop": lambda ref: ref.tell(StopYourself()),
    "stop_from_outside": lambda ref: ref.stop(timeout=WAIT_S),
}


@pytest.mark.parametrize(
    ("restart", "exit_kind", "restarted"),
    [
        (Restart.PERMANENT, "crash", True),
        (Restart.PERMANENT, "own_stop", True),
        (Restart.PERMANENT, "stop_from_outside", True),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TRANSIENT, "own_stop", False),
        (Restart.TRANSIENT, "stop_from_outside", False),
        (Restart.TEMPORARY, "crash", False),
        (Restart.TEMPORARY, "own_stop", False),
        (Restart.TEMPORARY, "stop_from_outside", False),
    ],
)
def test_a_child_is_restarted_exactly_when_its_restart_type_says_so_for_how_it_exited(
    tree: Tree, restart: Restart, exit_kind: str, restarted: bool
) -> None:
    sup = tree.supervisor([tree.worker("a", restart=restart), tree.worker("b")])
    first = tree.wait(event_of(ChildStarted, child_id="a")).ref

    EXITS[exit_kind](first)

    terminated = tree.wait(event_of(ChildTerminated, child_id="a"))
    assert terminated.abnormal is (exit_kind == "crash")
    assert terminated.reason == ("RuntimeError: boom" if exit_kind == "crash" else "normal")
    assert terminated.restarting is restarted
    children = children_of(sup)
    assert ("a" in children) is restarted
    if restarted:
        assert children["a"].ref is not None
        assert children["a"].ref.actor_urn != first.actor_urn
        assert children["a"].ref.is_alive()
        assert children["a"].restarts == 1
    assert children["b"].restarts == 0


def test_a_child_failing_in_on_start_is_reported_abnormal_and_restarted(tree: Tree) -> None:
    sup = tree.supervisor([tree.worker("a", failing_starts=1)])

    terminated = tree.wait(event_of(ChildTerminated, child_id="a"))
    restarted = tree.wait(event_of(ChildRestarted, child_id="a"))

    assert (terminated.abnormal, terminated.reason) == (True, "RuntimeError: cannot start")
    assert restarted.restarts == 1
    assert current(sup, "a").is_alive()
    assert steps(tree.lifecycle.items()) == [("start", "a"), ("start", "a")]


def test_a_child_that_dies_without_telling_is_found_by_the_liveness_check_and_restarted(
    tree: Tree,
) -> None:
    clock = ManualScheduler()
    plain = ChildSpec(id="plain", start=lambda _context: pykka.ThreadingActor.start())
    sup = tree.supervisor([plain], liveness_interval_s=1.0, scheduler=clock)
    first = tree.wait(event_of(ChildStarted, child_id="plain")).ref

    first.stop(timeout=WAIT_S)
    clock.advance(1.0)  # the first check finds it dead: its notice may still be on the way
    assert children_of(sup)["plain"].ref == first
    clock.advance(1.0)  # the second in a row: an abnormal exit
    assert children_of(sup)["plain"].ref not in (None, first)

    terminated = tree.wait(event_of(ChildTerminated, child_id="plain"))
    restarted = tree.wait(event_of(ChildRestarted, child_id="plain"))
    assert (terminated.abnormal, terminated.reason) == (True, DIED_WITHOUT_NOTICE)
    assert restarted.ref.is_alive()


# -- strategies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "after_the_crash", "restarts"),
    [
        (
            Strategy.ONE_FOR_ONE,
            [("crash", "b"), ("start", "b")],
            {"a": 0, "b": 1, "c": 0},
        ),
        (
            Strategy.ONE_FOR_ALL,
            [
                ("crash", "b"),
                ("stop", "c"),
                ("stop", "a"),
                ("start", "a"),
                ("start", "b"),
                ("start", "c"),
            ],
            {"a": 1, "b": 1, "c": 1},
        ),
        (
            Strategy.REST_FOR_ONE,
            [("crash", "b"), ("stop", "c"), ("start", "b"), ("start", "c")],
            {"a": 0, "b": 1, "c": 1},
        ),
    ],
    ids=lambda value: value.value if isinstance(value, Strategy) else "",
)
def test_each_strategy_stops_its_siblings_in_reverse_and_restarts_them_in_start_order(
    tree: Tree,
    strategy: Strategy,
    after_the_crash: list[tuple[str, str]],
    restarts: dict[str, int],
) -> None:
    sup = tree.supervisor([tree.worker("a"), tree.worker("b"), tree.worker("c")], strategy=strategy)
    assert steps(tree.lifecycle.wait_for_count(3)) == [
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]

    current(sup, "b").tell(Crash())

    assert steps(tree.lifecycle.wait_for_count(3 + len(after_the_crash))[3:]) == after_the_crash
    children = children_of(sup)
    assert {child_id: info.restarts for child_id, info in children.items()} == restarts
    assert list(children) == ["a", "b", "c"]
    assert all(info.ref is not None and info.ref.is_alive() for info in children.values())


def test_a_temporary_sibling_taken_down_by_a_group_restart_is_not_started_again(
    tree: Tree,
) -> None:
    sup = tree.supervisor(
        [tree.worker("a"), tree.worker("temp", restart=Restart.TEMPORARY), tree.worker("c")],
        strategy=Strategy.ONE_FOR_ALL,
    )
    tree.lifecycle.wait_for_count(3)

    current(sup, "a").tell(Crash())

    assert steps(tree.lifecycle.wait_for_count(8)[3:]) == [
        ("crash", "a"),
        ("stop", "c"),
        ("stop", "temp"),
        ("start", "a"),
        ("start", "c"),
    ]
    assert list(children_of(sup)) == ["a", "c"]


# -- restart intensity ----------------------------------------------------------------------


def test_more_restarts_than_the_intensity_allows_stops_the_children_and_fails_the_supervisor(
    tree: Tree,
) -> None:
    sup = tree.supervisor(
        [tree.worker("a"), tree.worker("b"), tree.worker("c")], max_restarts=2, period_s=60
    )
    tree.lifecycle.wait_for_count(3)
    for restart in (1, 2):
        current(sup, "b").tell(Crash())
        tree.wait(event_of(ChildRestarted, child_id="b", restarts=restart))

    current(sup, "b").tell(Crash())

    exceeded = tree.wait(event_of(IntensityExceeded))
    assert (exceeded.supervisor, exceeded.max_restarts, exceeded.period_s) == ("sup", 2, 60.0)
    assert tree.wait(event_of(ChildTerminated, count=3, child_id="b")).restarting is False
    assert steps(tree.lifecycle.wait_for_count(10)[-3:]) == [
        ("crash", "b"),
        ("stop", "c"),
        ("stop", "a"),
    ]
    assert sup.actor_stopped.wait(timeout=WAIT_S)


def test_a_group_restart_counts_as_one_restart(tree: Tree) -> None:
    sup = tree.supervisor(
        [tree.worker("a"), tree.worker("b"), tree.worker("c")],
        strategy=Strategy.ONE_FOR_ALL,
        max_restarts=1,
        period_s=60,
    )
    tree.lifecycle.wait_for_count(3)

    current(sup, "b").tell(Crash())
    tree.wait(event_of(ChildRestarted, child_id="c"))

    assert sup.is_alive()
    assert all(info.restarts == 1 for info in children_of(sup).values())


def test_restarts_older_than_the_period_do_not_count_towards_the_intensity(tree: Tree) -> None:
    clock = ManualScheduler(start_ns=1_000_000_000_000)
    sup = tree.supervisor([tree.worker("a")], max_restarts=1, period_s=10, scheduler=clock)
    tree.wait(event_of(ChildStarted, child_id="a"))

    current(sup, "a").tell(Crash())
    tree.wait(event_of(ChildRestarted, child_id="a", restarts=1))
    clock.advance(10)
    current(sup, "a").tell(Crash())
    tree.wait(event_of(ChildRestarted, child_id="a", restarts=2))
    assert sup.is_alive()

    current(sup, "a").tell(Crash())
    tree.wait(event_of(IntensityExceeded))
    assert sup.actor_stopped.wait(timeout=WAIT_S)


def test_a_child_that_always_fails_in_on_start_exhausts_the_intensity(tree: Tree) -> None:
    sup = tree.supervisor([tree.worker("a", failing_starts=100)], max_restarts=3)

    tree.wait(event_of(IntensityExceeded))

    assert sup.actor_stopped.wait(timeout=WAIT_S)
    assert steps(tree.lifecycle.items()) == [("start", "a")] * 4


def test_a_factory_failing_during_a_restart_is_retried_with_the_rest_of_the_group(
    tree: Tree,
) -> None:
    calls = itertools.count(1)

    def flaky(context: SupervisedContext) -> pykka.ActorRef[Any]:
        if next(calls) == 2:
            raise OSError("address in use")
        return Worker.start(name="b", lifecycle=tree.lifecycle, supervision=context)

    sup = tree.supervisor(
        [tree.worker("a"), ChildSpec(id="b", start=flaky), tree.worker("c")],
        strategy=Strategy.REST_FOR_ONE,
    )
    tree.lifecycle.wait_for_count(2)

    current(sup, "b").tell(Crash())

    assert tree.wait(event_of(ChildStartFailed, child_id="b")).reason == "OSError: address in use"
    retried = tree.wait(event_of(ChildTerminated, count=2, child_id="b"))
    assert (retried.abnormal, retried.reason) == (True, "OSError: address in use")
    tree.wait(event_of(ChildRestarted, child_id="c"))
    assert steps(tree.lifecycle.items()[2:]) == [("crash", "b"), ("stop", "c"), ("start", "c")]
    assert {k: v.restarts for k, v in children_of(sup).items()} == {"a": 0, "b": 1, "c": 1}


def test_a_factory_failing_at_the_initial_start_stops_the_started_children_and_fails_the_supervisor(
    tree: Tree,
) -> None:
    def refuse(_context: SupervisedContext) -> pykka.ActorRef[Any]:
        raise OSError("port in use")

    sup = tree.supervisor([tree.worker("a"), ChildSpec(id="bad", start=refuse), tree.worker("c")])

    failed = tree.wait(event_of(ChildStartFailed, child_id="bad"))
    assert failed.reason == "OSError: port in use"
    assert steps(tree.lifecycle.wait_for_count(2)) == [("start", "a"), ("stop", "a")]
    assert sup.actor_stopped.wait(timeout=WAIT_S)


# -- ordered start and shutdown --------------------------------------------------------------------


def test_a_child_slow_to_start_is_reported_and_the_next_one_starts_after_its_timeout(
    tree: Tree,
) -> None:
    release = threading.Event()
    try:
        with capture_logs() as logs:
            sup = tree.supervisor(
                [
                    tree.worker("slow", start_timeout_s=0.2, release_start=release),
                    tree.worker("b"),
                ]
            )
            (_, _, slow_at), (_, _, b_at) = tree.lifecycle.wait_for_count(2)

        assert b_at - slow_at >= 0.2 * 0.9
        assert any(log["event"] == "child_start_slow" and log["child_id"] == "slow" for log in logs)
        assert all(info.ref is not None for info in children_of(sup).values())
    finally:
        release.set()


def test_a_child_that_does_not_stop_in_time_is_abandoned_and_reported_and_the_supervisor_moves_on(
    tree: Tree,
) -> None:
    release = threading.Event()
    try:
        sup = tree.supervisor(
            [tree.worker("slow", shutdown_s=0.2, release_stop=release), tree.worker("b")]
        )
        tree.lifecycle.wait_for_count(2)
        with capture_logs() as logs:
            began = time.monotonic()
            assert ask(sup, RemoveChild(child_id="slow")) is True
            waited = time.monotonic() - began

        abandoned = tree.wait(event_of(ChildAbandoned, child_id="slow"))
        assert abandoned.shutdown_s == 0.2
        assert 0.2 <= waited < 3.0
        assert any(
            log["event"] == "child_abandoned"
            and log["log_level"] == "error"
            and log["supervisor"] == "sup"
            and log["child_id"] == "slow"
            for log in logs
        )
        assert list(children_of(sup)) == ["b"]
        current(sup, "b").tell(Crash())
        tree.wait(event_of(ChildRestarted, child_id="b"))
    finally:
        release.set()


def test_a_stuck_sibling_is_abandoned_and_the_group_restart_goes_on(tree: Tree) -> None:
    release = threading.Event()
    try:
        sup = tree.supervisor(
            [tree.worker("a"), tree.worker("slow", shutdown_s=0.2, release_stop=release)],
            strategy=Strategy.ONE_FOR_ALL,
        )
        tree.lifecycle.wait_for_count(2)

        current(sup, "a").tell(Crash())

        tree.wait(event_of(ChildAbandoned, child_id="slow"))
        tree.wait(event_of(ChildRestarted, child_id="slow"))
        assert steps(tree.lifecycle.items()[2:]) == [
            ("crash", "a"),
            ("stop", "slow"),
            ("start", "a"),
            ("start", "slow"),
        ]
        assert all(info.restarts == 1 for info in children_of(sup).values())
    finally:
        release.set()


# -- backoff --------------------------------------------------------------------------------


def test_restarts_of_a_failing_child_are_spaced_by_the_exponential_backoff(tree: Tree) -> None:
    clock = ManualScheduler()
    backoff = Backoff(initial_s=0.1, factor=2, max_s=0.3)
    sup = tree.supervisor(
        [tree.worker("flaky", failing_starts=4)],
        backoff=backoff,
        max_restarts=10,
        period_s=60,
        scheduler=clock,
        liveness_interval_s=None,
    )

    def starts() -> int:
        return sum(1 for entry in tree.lifecycle.items() if entry[0] == "start")

    for exits, delay_s in enumerate((0.1, 0.2, 0.3, 0.3), start=1):
        tree.wait(event_of(ChildTerminated, count=exits, child_id="flaky"))
        assert ask(sup, GetStats()).scheduled == 1
        clock.advance(delay_s - 0.001)
        assert starts() == exits, "restarted before its backoff delay"
        clock.advance(0.001)
        assert starts() == exits + 1, "not restarted on its backoff delay"
    tree.wait(event_of(ChildRestarted, child_id="flaky", restarts=4))
    assert ask(sup, GetStats()).scheduled == 0


def test_the_supervisor_keeps_answering_while_a_restart_waits_for_its_backoff(
    tree: Tree,
) -> None:
    sup = tree.supervisor([tree.worker("a")], backoff=Backoff(initial_s=30.0, max_s=30.0))
    tree.wait(event_of(ChildStarted, child_id="a"))

    current(sup, "a").tell(Crash())
    tree.wait(event_of(ChildTerminated, child_id="a"))

    began = time.monotonic()
    assert children_of(sup)["a"].ref is None
    assert ask(sup, GetStats()).scheduled == 1
    assert time.monotonic() - began < 2.0


def test_a_child_that_stayed_up_for_the_period_starts_its_backoff_again(tree: Tree) -> None:
    clock = ManualScheduler()
    backoff = Backoff(initial_s=0.01, factor=10, max_s=10.0)
    sup = tree.supervisor([tree.worker("a")], backoff=backoff, period_s=5, scheduler=clock)
    tree.wait(event_of(ChildStarted, child_id="a"))

    with capture_logs() as logs:
        current(sup, "a").tell(Crash())
        tree.wait(event_of(ChildTerminated, child_id="a"))
        clock.advance(0.01)
        tree.wait(event_of(ChildRestarted, child_id="a", restarts=1))
        clock.advance(5)
        current(sup, "a").tell(Crash())
        tree.wait(event_of(ChildTerminated, count=2, child_id="a"))
        clock.advance(0.01)
        tree.wait(event_of(ChildRestarted, child_id="a", restarts=2))

    delays = [log["delay_s"] for log in logs if log["event"] == "restart_delayed"]
    assert delays == [0.01, 0.01]


def test_a_backoff_only_for_named_failures_restarts_any_other_exit_at_once(tree: Tree) -> None:
    backoff = Backoff(initial_s=30.0, max_s=30.0, only_for=("JournalStoreError",))
    sup = tree.supervisor([tree.worker("a")], backoff=backoff)
    tree.wait(event_of(ChildStarted, child_id="a"))

    with capture_logs() as logs:
        current(sup, "a").tell(Crash())  # a RuntimeError, not the named failure
        tree.wait(event_of(ChildRestarted, child_id="a", restarts=1))

    assert [log for log in logs if log["event"] == "restart_delayed"] == []


def test_a_child_still_failing_after_its_own_backoff_makes_the_supervisor_give_up(
    tree: Tree,
) -> None:
    backoff = Backoff(initial_s=0.01, max_s=0.01, only_for=("RuntimeError",), give_up_after=2)
    spec = attrs.evolve(tree.worker("disk", failing_starts=100), backoff=backoff)
    with capture_logs() as logs:
        sup = tree.supervisor([spec], max_restarts=100, period_s=60)
        tree.wait(event_of(IntensityExceeded, supervisor="sup"))
        assert sup.actor_stopped.wait(WAIT_S)

    assert [log["delay_s"] for log in logs if log["event"] == "restart_delayed"] == [0.01, 0.01]
    (gave_up,) = [log for log in logs if log["event"] == "restart_intensity_exceeded"]
    assert (gave_up["child_id"], gave_up["reason"]) == ("disk", "RuntimeError: cannot start")


@given(
    initial_s=st.floats(0.001, 10),
    factor=st.floats(1, 10),
    extra_s=st.floats(0, 100),
    attempt=st.integers(0, 10_000),
)
def test_a_backoff_delay_never_shrinks_and_never_exceeds_its_maximum(
    initial_s: float, factor: float, extra_s: float, attempt: int
) -> None:
    backoff = Backoff(initial_s=initial_s, factor=factor, max_s=initial_s + extra_s)
    assert initial_s <= backoff.delay_s(attempt) <= backoff.max_s
    assert backoff.delay_s(attempt) <= backoff.delay_s(attempt + 1)


# -- dynamic children -----------------------------------------------------------------------


def test_a_child_added_at_run_time_is_started_listed_after_the_others_and_supervised(
    tree: Tree,
) -> None:
    sup = tree.supervisor([tree.worker("a")])

    added = ask(sup, AddChild(spec=tree.worker("order-1")))

    assert isinstance(added, ChildInfo)
    assert added.ref is not None
    assert added.ref.is_alive()
    assert list(children_of(sup)) == ["a", "order-1"]
    added.ref.tell(Crash())
    tree.wait(event_of(ChildRestarted, child_id="order-1"))


def test_adding_a_child_with_an_id_in_use_is_refused_and_changes_nothing(tree: Tree) -> None:
    sup = tree.supervisor([tree.worker("a")])
    before = children_of(sup)["a"].ref

    refused = ask(sup, AddChild(spec=tree.worker("a")))

    assert refused == ChildRefused(child_id="a", reason="a child with this id exists")
    assert children_of(sup)["a"].ref is before
    assert steps(tree.lifecycle.items()) == [("start", "a")]


def test_a_child_whose_factory_fails_is_refused_with_the_reason_and_the_supervisor_lives_on(
    tree: Tree,
) -> None:
    def not_an_actor(_context: SupervisedContext) -> Any:
        return "not a ref"

    sup = tree.supervisor([])

    refused = ask(sup, AddChild(spec=ChildSpec(id="x", start=not_an_actor)))

    assert refused == ChildRefused(
        child_id="x", reason="TypeError: the factory returned str, not an ActorRef"
    )
    assert children_of(sup) == {}
    assert sup.is_alive()


def test_a_removed_child_is_stopped_never_restarted_and_its_siblings_are_untouched(
    tree: Tree,
) -> None:
    sup = tree.supervisor(
        [tree.worker("a"), tree.worker("b"), tree.worker("c")], strategy=Strategy.ONE_FOR_ALL
    )
    tree.lifecycle.wait_for_count(3)

    assert ask(sup, RemoveChild(child_id="b")) is True
    assert ask(sup, RemoveChild(child_id="b")) is False

    tree.wait(event_of(ChildStopped, child_id="b"))
    assert steps(tree.lifecycle.items()[3:]) == [("stop", "b")]
    assert {child_id: info.restarts for child_id, info in children_of(sup).items()} == {
        "a": 0,
        "c": 0,
    }


def test_an_actor_that_tells_add_child_with_a_reply_to_is_told_the_child_it_started(
    tree: Tree,
) -> None:
    sup = tree.supervisor([tree.worker("a")])
    request = AddChild(spec=tree.worker("market-1"), reply_to=tree.sink)

    sup.tell(request)

    reply = tree.wait(event_of(AddChildReply, correlation_id=request.id))
    assert isinstance(reply.answer, ChildInfo)
    assert reply.answer.ref == current(sup, "market-1")
    assert list(children_of(sup)) == ["a", "market-1"]


def test_a_told_add_child_that_is_refused_tells_the_refusal_and_changes_nothing(
    tree: Tree,
) -> None:
    sup = tree.supervisor([tree.worker("a")])
    request = AddChild(spec=tree.worker("a"), reply_to=tree.sink)

    sup.tell(request)

    reply = tree.wait(event_of(AddChildReply, correlation_id=request.id))
    assert reply.answer == ChildRefused(child_id="a", reason="a child with this id exists")
    assert steps(tree.lifecycle.items()) == [("start", "a")]


def test_an_actor_that_tells_remove_child_with_a_reply_to_is_told_whether_it_was_there(
    tree: Tree,
) -> None:
    sup = tree.supervisor([tree.worker("a"), tree.worker("b")])
    first = RemoveChild(child_id="b", reply_to=tree.sink)
    second = RemoveChild(child_id="b", reply_to=tree.sink)

    sup.tell(first)
    sup.tell(second)

    assert tree.wait(event_of(RemoveChildReply, correlation_id=first.id)).removed is True
    assert tree.wait(event_of(RemoveChildReply, correlation_id=second.id)).removed is False
    assert list(children_of(sup)) == ["a"]
    assert ("stop", "b") in steps(tree.lifecycle.items())


def test_a_requester_that_died_before_its_reply_leaves_the_added_child_supervised(
    tree: Tree,
) -> None:
    sup = tree.supervisor([])
    gone = EventSink.start(Recorder())
    gone.stop(timeout=WAIT_S)

    sup.tell(AddChild(spec=tree.worker("market-2"), reply_to=gone))

    tree.wait(event_of(ChildStarted, child_id="market-2"))
    current(sup, "market-2").tell(Crash())
    tree.wait(event_of(ChildRestarted, child_id="market-2"))
    assert sup.is_alive()


def test_a_temporary_per_order_child_that_finished_its_work_is_forgotten(tree: Tree) -> None:
    sup = tree.supervisor([])
    added = ask(sup, AddChild(spec=tree.worker("order-7", restart=Restart.TEMPORARY)))

    added.ref.tell(StopYourself())

    tree.wait(event_of(ChildTerminated, child_id="order-7", restarting=False))
    assert children_of(sup) == {}


# -- nested and embedded trees --------------------------------------------------------------


def test_an_inner_supervisor_that_gives_up_is_restarted_by_its_parent_with_fresh_children(
    tree: Tree,
) -> None:
    inner = Supervisor.child_spec(
        "inner",
        children=[tree.worker("x"), tree.worker("y")],
        max_restarts=1,
        period_s=60,
        events=tree.sink,
    )
    outer = tree.supervisor([inner, tree.worker("w")], name="outer")
    tree.lifecycle.wait_for_count(3)
    first_inner = current(outer, "inner")
    worker_w = current(outer, "w")

    current(current(outer, "inner"), "x").tell(Crash())
    tree.wait(event_of(ChildRestarted, supervisor="inner", child_id="x"))
    current(current(outer, "inner"), "x").tell(Crash())

    tree.wait(event_of(IntensityExceeded, supervisor="inner"))
    escalated = tree.wait(event_of(ChildTerminated, supervisor="outer", child_id="inner"))
    assert escalated.abnormal
    assert escalated.reason.startswith("RestartIntensityError")
    second_inner = tree.wait(event_of(ChildRestarted, supervisor="outer", child_id="inner")).ref
    tree.wait(event_of(ChildStarted, count=2, supervisor="inner", child_id="y"))
    assert second_inner.actor_urn != first_inner.actor_urn
    assert steps(tree.lifecycle.items()[3:]) == [
        ("crash", "x"),
        ("start", "x"),
        ("crash", "x"),
        ("stop", "y"),
        ("start", "x"),
        ("start", "y"),
    ]
    outer_children = children_of(outer)
    assert outer_children["w"].ref is worker_w
    assert outer_children["w"].restarts == 0


def test_an_embedded_tree_and_a_sibling_worker_each_follow_their_own_policies(
    tree: Tree,
) -> None:
    inner = Supervisor.child_spec(
        "inner",
        children=[tree.worker("x"), tree.worker("y")],
        strategy=Strategy.ONE_FOR_ALL,
        events=tree.sink,
    )
    outer = tree.supervisor([inner, tree.worker("w")], name="outer", max_restarts=5)
    tree.lifecycle.wait_for_count(3)
    inner_ref = current(outer, "inner")
    x_ref, y_ref = current(inner_ref, "x"), current(inner_ref, "y")

    for restart in (1, 2, 3):
        current(outer, "w").tell(Crash())
        tree.wait(event_of(ChildRestarted, supervisor="outer", child_id="w", restarts=restart))

    inner_children = children_of(inner_ref)
    assert (inner_children["x"].ref, inner_children["y"].ref) == (x_ref, y_ref)

    x_ref.tell(Crash())
    tree.wait(event_of(ChildRestarted, supervisor="inner", child_id="y"))

    assert {k: v.restarts for k, v in children_of(inner_ref).items()} == {"x": 1, "y": 1}
    outer_children = children_of(outer)
    assert outer_children["inner"].ref is inner_ref
    assert {k: v.restarts for k, v in outer_children.items()} == {"inner": 0, "w": 3}
    assert not any(
        isinstance(e, ChildTerminated) and e.child_id == "inner" for e in tree.events.items()
    )


def test_stopping_the_root_stops_the_whole_tree_in_reverse_start_order(tree: Tree) -> None:
    inner = Supervisor.child_spec("inner", children=[tree.worker("x"), tree.worker("y")])
    outer = tree.supervisor([inner, tree.worker("w")], name="outer")
    assert steps(tree.lifecycle.wait_for_count(3)) == [
        ("start", "x"),
        ("start", "y"),
        ("start", "w"),
    ]

    assert outer.stop(timeout=WAIT_S) is True

    assert steps(tree.lifecycle.items()[3:]) == [("stop", "w"), ("stop", "y"), ("stop", "x")]
    assert not any(isinstance(e, ChildRestarted) for e in tree.events.items())


# -- the documented example -----------------------------------------------------------------


def test_the_example_in_the_supervision_guide_runs() -> None:
    guide = Path(__file__).parents[2] / "docs" / "SUPERVISION.md"
    example = re.search(r"## A complete example.*?```python\n(.*?)```", guide.read_text(), re.S)
    assert example is not None
    exec(compile(example.group(1), str(guide), "exec"), {"__name__": "supervision_example"})
