"""The lockstep driver on its own, against a small assembled core (a real journal on a
memory store): step markers around each record, the paced re-feed of lifecycle records to a
new core, and time injected into its waits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.journal import JournalActor
from actors.runtime_state import RUNTIME_STREAM
from bridges.journal_memory import MemoryJournal
from messages.journal_protocol import Sync
from supervisors.assembly import lockstep_driver
from supervisors.assembly.core_follower import CoreFollower, RuntimeDownError
from supervisors.assembly.lockstep_driver import LockstepDriver
from supervisors.assembly.runtime_tree import CoreRefs
from supervisors.kernel.base import handles
from tests.stubs import arbitrage_feed, opened
from tests.supervisors.core_stubs import Root, assemble, journaled

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def root() -> pykka.ActorRef[Any]:
    return Root.start()


def _driver(root: pykka.ActorRef[Any], **kwargs: Any) -> LockstepDriver:
    follower = CoreFollower(lambda: root)
    driver = LockstepDriver(follower, **kwargs)
    driver.follow(deadline_s=5.0)
    return driver


def test_a_lockstep_step_is_journaled_between_its_markers_and_delivered(
    root: pykka.ActorRef[Any],
) -> None:
    core, memory = assemble(root)
    driver = _driver(root)
    record = opened("m1")

    assert driver.feed_and_wait(record) is True

    assert journaled(memory) == [
        ("started", 0, True),
        record.id,
        ("committed", 0, 0),
    ]
    assert [stored.record.stream for stored in memory.events][::2] == [RUNTIME_STREAM] * 2
    assert driver.next_step == 1
    assert core.market_lifecycle.proxy().told.get(timeout=5) == [record]


def test_a_new_core_is_fed_again_the_lifecycle_records_its_journal_lacks(
    root: pykka.ActorRef[Any],
) -> None:
    feed = arbitrage_feed()
    assemble(root)
    driver = _driver(root, records=feed)
    driver.feed(feed[0])
    driver.feed(feed[1])
    new_core, successor = assemble(root, generation=2, resume_step=0)
    driver.refresh()

    driver.feed(feed[2])
    new_core.journal.ask(Sync(), timeout=5)

    events = journaled(successor)
    assert events == [("started", 0, False), feed[0].id, ("started", 2, False), feed[2].id]
    assert driver.next_step == 3


def test_a_paced_record_follows_successor_cores_until_one_lives_to_take_it(
    root: pykka.ActorRef[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = arbitrage_feed()
    first, _ = assemble(root)
    driver = _driver(root, records=feed)
    driver.feed(feed[0])
    second, _ = assemble(root, generation=2, resume_step=0)
    first.journal.stop()
    refresh = driver.refresh
    third: list[tuple[CoreRefs, MemoryJournal]] = []

    def the_successor_dies_too() -> None:
        # As on a full disk: the new core's journal fails its first commit, and dies.
        refresh()
        if not third:
            third.append(assemble(root, generation=3, resume_step=0))
            second.journal.stop()

    monkeypatch.setattr(driver, "refresh", the_successor_dies_too)

    driver.feed(feed[1])

    core, memory = third[0]
    core.journal.ask(Sync(), timeout=5)
    assert journaled(memory) == [
        ("started", 0, False),
        feed[0].id,
        ("started", 1, False),
        feed[1].id,
    ]
    assert driver.next_step == 2


def test_a_torn_step_resumes_where_the_successor_core_recovered(
    root: pykka.ActorRef[Any],
) -> None:
    core, _ = assemble(root)
    driver = _driver(root)
    driver.feed_and_wait(opened("m1"))

    def restart(_step: int) -> None:
        assemble(root, generation=2, resume_step=0)  # its journal lost step 0 as well
        core.journal.stop()

    assert driver.feed_and_wait(opened("m2"), during=restart) is False
    assert driver.next_step == 0


def _ticks(*values: float) -> Iterator[float]:
    yield from values
    while True:
        yield values[-1]


def test_wait_idle_gives_up_when_the_injected_clock_passes_its_deadline(
    root: pykka.ActorRef[Any],
) -> None:
    assemble(root)
    driver = _driver(root)
    ticks = _ticks(0.0, 0.0, 11.0)
    driver = LockstepDriver(driver.follower, clock=lambda: next(ticks))

    with pytest.raises(TimeoutError, match=r"still busy after 10\.0 s"):
        driver.wait_idle(10.0)


def test_the_follower_waits_out_a_core_with_a_dead_actor_then_calls_the_runtime_down(
    root: pykka.ActorRef[Any],
) -> None:
    core, _ = assemble(root)
    core.markets.stop()
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    follower = CoreFollower(lambda: root, clock=lambda: now[0], sleep=sleep)

    with pytest.raises(RuntimeDownError, match=r"no running runtime core after 0\.05 s"):
        follower.await_core(0.05)
    assert follower.core is None
    assert len(slept) == 5


def test_a_replay_commits_each_record_as_its_own_step(root: pykka.ActorRef[Any]) -> None:
    _, memory = assemble(root)
    driver = _driver(root)
    feed = [opened("m1"), opened("m2")]

    assert driver.replay(feed) == 2

    assert journaled(memory) == [
        ("started", 0, True),
        feed[0].id,
        ("committed", 0, 0),
        ("started", 1, True),
        feed[1].id,
        ("committed", 1, 0),
    ]


class _CountingJournal(JournalActor):
    """Counts the Syncs it is asked: each makes every marker appended before it durable."""

    syncs = 0

    @handles(Sync)
    def _sync(self, message: Sync) -> int:
        self.syncs += 1
        return super()._sync(message)


def test_a_replay_makes_its_step_markers_durable_a_group_at_a_time_and_at_its_end(
    root: pykka.ActorRef[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lockstep_driver, "SYNC_EVERY", 2)
    core, memory = assemble(root, journal_class=_CountingJournal)
    driver = _driver(root)
    feed = [opened(f"m{n}") for n in range(5)]

    assert driver.replay(feed) == 5

    assert core.journal.proxy().syncs.get(timeout=5) == 3  # after steps 1 and 3, and the last
    assert journaled(memory)[-3:] == [("started", 4, True), feed[4].id, ("committed", 4, 0)]
    assert len(journaled(memory)) == 15
