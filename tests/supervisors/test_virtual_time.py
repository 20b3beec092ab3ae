"""The virtual-time kernel: the same actors, one thread, one queue by (virtual time, sequence)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pykka
import pytest

from messages.stats import GetStats
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.child_spec import ChildSpec, SupervisedContext
from supervisors.kernel.events import ChildRestarted, ChildStarted, ChildTerminated
from supervisors.kernel.protocol import ChildInfo, WhichChildren
from supervisors.kernel.scheduler import Scheduler
from supervisors.kernel.supervised import Supervised
from supervisors.kernel.supervisor import Supervisor
from supervisors.kernel.virtual_time import VirtualTimeKernel

MS = 1_000_000


@attrs.frozen
class Hop:
    """Pass ``ttl`` hops on, now or after a delay the receiver draws."""

    ttl: int
    origin: str


@attrs.frozen
class WhereAmI:
    """Answer the id of the thread the handler runs on."""


@attrs.frozen
class Boom:
    """Raise in the handler."""


@attrs.frozen
class AskPeer:
    """Ask ``peer`` for its stats from inside the handler (as a supervisor's stop does)."""

    peer: pykka.ActorRef[Any]


class Gossip(RuntimeActor):
    """Forwards hops to random peers, some at once and some after a timer."""

    kind = "gossip"

    def __init__(self, name: str, trace: list[tuple[int, str, str, int]], scheduler: Scheduler):
        super().__init__()
        self.name = name
        self.trace = trace
        self.scheduler = scheduler
        self.peers: list[pykka.ActorRef[Any]] = []
        self.rng = random.Random(name)
        self.failures = 0

    def on_start(self) -> None:
        self.timer = self.scheduler.timer(self.name)

    def on_stop(self) -> None:
        self.timer.stop()

    def on_failure(self, *_exc_info: Any) -> None:
        self.trace.append((self.scheduler.now_ns(), self.name, "failed", 0))

    @handles(list)
    def _peers(self, peers: list[pykka.ActorRef[Any]]) -> None:
        self.peers = peers

    @handles(Hop)
    def _hop(self, hop: Hop) -> None:
        self.trace.append((self.scheduler.now_ns(), self.name, hop.origin, hop.ttl))
        if hop.ttl == 0:
            return
        for _ in range(2):
            peer = self.rng.choice(self.peers)
            onward = Hop(ttl=hop.ttl - 1, origin=self.name)
            if self.rng.random() < 0.5:
                peer.tell(onward)
            else:
                self.timer.tell_later(self.rng.randrange(1, 50) * MS, peer, onward)

    @handles(Boom)
    def _boom(self, _message: Boom) -> None:
        raise RuntimeError("boom")

    @handles(WhereAmI, reads_only=True)
    def _where(self, _message: WhereAmI) -> int:
        return threading.get_ident()

    @handles(AskPeer)
    def _ask_peer(self, message: AskPeer) -> str:
        self.trace.append((self.scheduler.now_ns(), self.name, "asking", 0))
        answer = message.peer.ask(GetStats(), timeout=5.0)
        self.trace.append((self.scheduler.now_ns(), self.name, "answered", answer.handled))
        return self.name


@pytest.fixture
def kernel() -> Iterator[VirtualTimeKernel]:
    kernel = VirtualTimeKernel()
    with kernel.active():
        yield kernel
        pykka.ActorRegistry.stop_all()


def gossip_network(
    kernel: VirtualTimeKernel, size: int, trace: list[tuple[int, str, str, int]]
) -> list[pykka.ActorRef[Any]]:
    refs = [Gossip.start(f"g{index}", trace, kernel) for index in range(size)]
    for ref in refs:
        ref.tell(refs)
    return refs


def gossip_run(seed_ttl: int) -> tuple[list[tuple[int, str, str, int]], int]:
    kernel = VirtualTimeKernel()
    trace: list[tuple[int, str, str, int]] = []
    with kernel.active():
        refs = gossip_network(kernel, 6, trace)
        refs[0].tell(Hop(ttl=seed_ttl, origin="test"))
        refs[3].tell(Hop(ttl=seed_ttl, origin="test"))
        kernel.run_until_idle()
        pykka.ActorRegistry.stop_all()
    return trace, kernel.now_ns()


@pytest.mark.timeout(30)
def test_a_run_handles_every_message_in_the_same_order_at_the_same_virtual_times() -> None:
    first, first_end = gossip_run(seed_ttl=7)
    second, second_end = gossip_run(seed_ttl=7)
    assert len(first) == 2 * (2**8 - 1)
    assert first == second
    assert first_end == second_end
    times = [entry[0] for entry in first]
    assert times == sorted(times)
    assert first_end == times[-1] > 0


@pytest.mark.timeout(30)
def test_actors_on_the_kernel_start_no_thread_and_run_on_the_thread_that_drives(
    kernel: VirtualTimeKernel,
) -> None:
    threads = threading.active_count()
    refs = gossip_network(kernel, 50, [])
    ran_on = {ref.ask(WhereAmI(), timeout=5.0) for ref in refs}
    assert ran_on == {threading.get_ident()}
    assert threading.active_count() == threads
    assert kernel.dispatched == 100  # each actor's peer list, then its question


@pytest.mark.timeout(30)
def test_a_timer_fires_at_its_virtual_time_and_not_a_nanosecond_before() -> None:
    kernel = VirtualTimeKernel(start_ns=1_000, free_running=False)
    trace: list[tuple[int, str, str, int]] = []
    with kernel.active():
        sender = Gossip.start("sender", trace, kernel)
        receiver = Gossip.start("receiver", trace, kernel)
        timer = kernel.timer("test")
        timer.tell_later(50 * MS, receiver, Hop(ttl=0, origin="later"))
        sender.tell([receiver])
        kernel.run_until_idle()
        kernel.advance_ns(50 * MS - 1)
        assert trace == []
        assert kernel.now_ns() == 1_000 + 50 * MS - 1
        kernel.advance_ns(1)
        assert trace == [(1_000 + 50 * MS, "receiver", "later", 0)]
        pykka.ActorRegistry.stop_all()


@pytest.mark.timeout(30)
def test_a_cancelled_or_stopped_timer_never_fires(kernel: VirtualTimeKernel) -> None:
    trace: list[tuple[int, str, str, int]] = []
    receiver = Gossip.start("receiver", trace, kernel)
    cancelled = kernel.timer("a").tell_later(MS, receiver, Hop(ttl=0, origin="cancelled"))
    stopped = kernel.timer("b")
    stopped.tell_later(MS, receiver, Hop(ttl=0, origin="stopped"))
    kernel.timer("c").tell_later(2 * MS, receiver, Hop(ttl=0, origin="kept"))
    cancelled.cancel()
    stopped.stop()
    kernel.run_until_idle()
    assert [entry[2] for entry in trace] == ["kept"]
    assert kernel.now_ns() == 2 * MS


@pytest.mark.timeout(30)
def test_an_ask_from_a_thread_outside_the_kernel_runs_the_queue_until_its_answer() -> None:
    kernel = VirtualTimeKernel()
    trace: list[tuple[int, str, str, int]] = []
    with kernel.active():
        ref = Gossip.start("g", trace, kernel)
    answers: list[Any] = []

    def outside() -> None:
        ref.tell(Hop(ttl=0, origin="outside"))
        answers.append(ref.ask(GetStats(), timeout=5.0))

    thread = threading.Thread(target=outside)
    thread.start()
    thread.join(timeout=10.0)
    assert [entry[2] for entry in trace] == ["outside"]
    assert answers[0].handled == 1  # the hop, run before the ask on the asking thread
    with kernel.active():
        ref.stop()


@pytest.mark.timeout(30)
def test_a_handler_blocked_on_a_future_lets_others_run_but_never_reenters_itself(
    kernel: VirtualTimeKernel,
) -> None:
    trace: list[tuple[int, str, str, int]] = []
    asker = Gossip.start("asker", trace, kernel)
    peer = Gossip.start("peer", trace, kernel)
    asker.tell(AskPeer(peer=peer))
    asker.tell(Hop(ttl=0, origin="queued behind the ask"))
    peer.tell(Hop(ttl=0, origin="before the stats"))
    kernel.run_until_idle()
    assert [(entry[1], entry[2]) for entry in trace] == [
        ("asker", "asking"),
        ("peer", "before the stats"),
        ("asker", "answered"),
        ("asker", "queued behind the ask"),
    ]


@pytest.mark.timeout(30)
def test_a_failing_handler_ends_the_actor_and_what_it_had_queued_is_refused(
    kernel: VirtualTimeKernel,
) -> None:
    trace: list[tuple[int, str, str, int]] = []
    ref = Gossip.start("g", trace, kernel)
    ref.tell(Boom())
    pending = ref.ask(GetStats(), block=False)
    kernel.run_until_idle()
    assert [entry[2] for entry in trace] == ["failed"]
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=1.0)
    with pytest.raises(pykka.ActorDeadError):
        ref.tell(Hop(ttl=0, origin="late"))


@pytest.mark.timeout(30)
def test_an_ask_nothing_can_answer_times_out_instead_of_hanging(
    kernel: VirtualTimeKernel,
) -> None:
    future = kernel.future()
    with pytest.raises(pykka.Timeout):
        future.get(timeout=0.1)


class Child(Supervised, RuntimeActor):
    kind = "child"

    @handles(Boom)
    def _boom(self, _message: Boom) -> None:
        raise RuntimeError("boom")


class Events(RuntimeActor):
    kind = "events"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[object] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, GetStats):
            return tuple(self.seen)
        self.seen.append(message)
        return None


def child(child_id: str) -> ChildSpec:
    def start(context: SupervisedContext) -> pykka.ActorRef[Any]:
        return Child.start(supervision=context)

    return ChildSpec(id=child_id, start=start)


@pytest.mark.timeout(30)
def test_a_supervisor_on_the_kernel_restarts_a_crashed_child_without_a_thread(
    kernel: VirtualTimeKernel,
) -> None:
    threads = threading.active_count()
    events = Events.start()
    supervisor = Supervisor.start(
        name="sup",
        children=[child("a"), child("b")],
        events=events,
        scheduler=kernel,
        liveness_interval_s=None,
    )
    before: tuple[ChildInfo, ...] = supervisor.ask(WhichChildren(), timeout=5.0)
    before[0].ref.tell(Boom())  # type: ignore[union-attr]
    kernel.run_until_idle()
    after: tuple[ChildInfo, ...] = supervisor.ask(WhichChildren(), timeout=5.0)
    seen = events.ask(GetStats(), timeout=5.0)
    assert [type(event) for event in seen] == [
        ChildStarted,
        ChildStarted,
        ChildTerminated,
        ChildRestarted,
    ]
    assert after[0].ref is not before[0].ref
    assert after[0].ref.is_alive()  # type: ignore[union-attr]
    assert after[1].ref is before[1].ref
    assert threading.active_count() == threads


class Heartbeat(Gossip):
    """Beats every 10 ms forever, on a housekeeping timer, as a liveness check does."""

    kind = "heartbeat"

    def on_start(self) -> None:
        super().on_start()
        self._beat(Hop(ttl=-1, origin="beat"))

    @handles(Hop)
    def _beat(self, hop: Hop) -> None:
        self.trace.append((self.scheduler.now_ns(), self.name, hop.origin, hop.ttl))
        if hop.origin == "beat":
            self.timer.tell_later(10 * MS, self.actor_ref, hop, housekeeping=True)


@pytest.mark.timeout(30)
def test_idle_is_when_only_housekeeping_timers_are_left_and_they_run_on_the_way_to_work(
    kernel: VirtualTimeKernel,
) -> None:
    trace: list[tuple[int, str, str, int]] = []
    heart = Heartbeat.start("heart", trace, kernel)
    kernel.run_until_idle()  # returns although the heartbeat reschedules itself forever
    assert trace == [(0, "heart", "beat", -1)]
    assert kernel.now_ns() == 0
    kernel.timer("venue").tell_later(25 * MS, heart, Hop(ttl=0, origin="work"))
    kernel.run_until_idle()
    assert trace[1:] == [
        (10 * MS, "heart", "beat", -1),
        (20 * MS, "heart", "beat", -1),
        (25 * MS, "heart", "work", 0),
    ]
    assert kernel.now_ns() == 25 * MS
    assert kernel.pending() == 1  # the next beat, due at 30 ms, waits for time to move


@pytest.mark.timeout(30)
def test_a_supervisor_checking_liveness_on_the_kernel_still_goes_idle(
    kernel: VirtualTimeKernel,
) -> None:
    Supervisor.start(
        name="sup",
        children=[child("a")],
        events=Events.start(),
        scheduler=kernel,
        liveness_interval_s=0.5,
    )
    kernel.run_until_idle()
    assert kernel.pending() == 1  # the next liveness check
    kernel.advance(1.0)  # time that moves runs the checks as before
    assert kernel.now_ns() == 1_000_000_000


@pytest.mark.timeout(30)
def test_a_tell_from_outside_the_kernel_runs_with_nobody_driving_it() -> None:
    kernel = VirtualTimeKernel()
    trace: list[tuple[int, str, str, int]] = []
    with kernel.active():
        ref = Gossip.start("g", trace, kernel)
        peers = gossip_network(kernel, 3, trace)
        ref.tell(peers)
        kernel.run_until_idle()

    def outside() -> None:  # a socket thread, with the replay's driver gone quiet
        ref.tell(Hop(ttl=3, origin="outside"))

    thread = threading.Thread(target=outside)
    thread.start()
    thread.join(timeout=10.0)
    assert len(trace) == 1 + 2 + 4 + 8  # every hop it caused ran, timers in virtual time
    assert kernel.pending() == 0
    with kernel.active():
        pykka.ActorRegistry.stop_all()
