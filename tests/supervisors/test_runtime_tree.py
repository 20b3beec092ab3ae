"""The runtime as a supervision tree: the core restarts from the journal as one, execution is
told every market again, and the whole tree runs as one child of a user's supervisor."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from bridges.journal_memory import MemoryJournal
from messages.enums import OrderSide, PositionStatus
from messages.queries import ListPositions
from messages.supervision import InjectFault
from supervisors.assembly.runtime import Runtime, RuntimeConfig, RuntimeDownError
from supervisors.assembly.runtime_tree import CORE_CHILDREN
from supervisors.kernel.base import ask
from supervisors.kernel.child_spec import ChildSpec, Strategy, SupervisedContext
from supervisors.kernel.protocol import WhichChildren
from supervisors.kernel.supervised import Supervised
from supervisors.kernel.supervisor import Supervisor
from tests.stubs import arbitrage_feed, opened

pytestmark = pytest.mark.timeout(60)

FEED = [*arbitrage_feed(), opened("m2", ts=12)]
RESTING = 5
"""Records up to here leave order O4 (NO, buy) resting at the venue."""


def children(supervisor: pykka.ActorRef[Any]) -> dict[str, Any]:
    return {info.child_id: info for info in ask(supervisor, WhichChildren())}


def live_positions(runtime: Runtime) -> dict[str, pykka.ActorRef[Any]]:
    return dict(ask(runtime.market_lifecycle, ListPositions()).live)


def final_realized(runtime: Runtime) -> Decimal:
    (m1,) = [p for p in runtime.positions() if p.market_id == "m1"]
    assert m1.status is PositionStatus.SETTLED
    return sum((leg.realized_pnl for leg in m1.legs), Decimal(0))


def test_the_core_starts_in_order_and_a_market_crash_stays_inside_its_market(
    tmp_path: Path,
) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        FEED
    ) as runtime:
        runtime.replay(FEED, end=RESTING)
        core = children(runtime.root)
        assert list(core) == list(CORE_CHILDREN)
        assert [info.ref for info in core.values()] == [
            runtime.journal,
            runtime.bus,
            runtime.index,
            runtime.risk,
            runtime.venue,
            runtime.execution,
            runtime.strategy,
            runtime.supervisor,
            runtime.market_lifecycle,
        ]
        markets = children(runtime.supervisor)
        # The resting order holds an actor; a closed one's is stopped once quiesced.
        assert {"position:m1", "market:m1", "order:O4"} <= set(markets)

        markets["position:m1"].ref.tell(InjectFault(reason="test"))
        runtime.replay(FEED, end=RESTING + 1)

        assert runtime.generation == 1
        assert all(info.restarts == 0 for info in children(runtime.root).values())
        assert children(runtime.supervisor)["position:m1"].restarts == 1


def test_a_crashed_execution_restarts_the_core_and_is_told_every_market_and_order_again(
    tmp_path: Path,
) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        FEED
    ) as runtime:
        runtime.replay(FEED, end=RESTING)
        old_execution = runtime.execution
        before = runtime.positions()

        old_execution.tell(InjectFault(reason="test"))
        assert old_execution.actor_stopped.wait(5)
        runtime.refresh()

        assert runtime.generation == 2
        assert runtime.execution is not old_execution
        assert runtime.next_step == RESTING
        execution = runtime.execution.proxy()
        book = execution.book.get()
        routes = book.markets
        positions = live_positions(runtime)
        assert set(routes) == set(positions) == {"m1"}
        assert routes["m1"].position == positions["m1"]
        assert routes["m1"].position.is_alive()
        # The resting NO order still guards its side: no second order on it.
        assert book.open_orders == {("m1-NO", OrderSide.BUY): "O4"}
        assert [p.legs for p in runtime.positions()] == [p.legs for p in before]

        runtime.replay(FEED)

        assert final_realized(runtime) == Decimal("3.00")
        # The market switch after the restart reached the new execution.
        book = execution.book.get()
        assert book.current_market_id == "m2"
        assert book.markets["m2"].position == live_positions(runtime)["m2"]


@pytest.mark.parametrize("dies", ["supervisor", "market_lifecycle"])
def test_a_dead_market_supervisor_or_lifecycle_restarts_the_core_with_every_market(
    tmp_path: Path, dies: str
) -> None:
    """The pair restarts as the core: the supervisor empty, the lifecycle actor from the
    journal, which starts every live market's position, market and orders in it again."""
    with (
        capture_logs() as logs,
        Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
            FEED
        ) as runtime,
    ):
        runtime.replay(FEED, end=RESTING)
        before = [p.legs for p in runtime.positions()]
        victim = getattr(runtime, dies)
        victim.tell(InjectFault(reason="test"))
        assert victim.actor_stopped.wait(5)
        runtime.refresh()

        assert runtime.generation == 2
        markets = children(runtime.supervisor)
        # The resting order holds an actor; a closed one's is stopped once quiesced.
        assert {"position:m1", "market:m1", "order:O4"} <= set(markets)
        assert live_positions(runtime) == {"m1": markets["position:m1"].ref}
        assert runtime.execution.proxy().book.get().markets["m1"].position == (
            markets["position:m1"].ref
        )
        assert [p.legs for p in runtime.positions()] == before

        runtime.replay(FEED)
        assert final_realized(runtime) == Decimal("3.00")
    assert [e for e in logs if e["log_level"] == "error"] == []


def test_a_root_that_exceeds_its_restart_intensity_stops_and_says_so(tmp_path: Path) -> None:
    runtime = Runtime(
        RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal(), max_restarts=0)
    ).start(FEED)
    try:
        runtime.replay(FEED, end=RESTING)
        root = runtime.root
        runtime.execution.tell(InjectFault(reason="test"))
        assert root.actor_stopped.wait(5)
        with pytest.raises(RuntimeDownError, match="root supervisor stopped"):
            runtime.refresh()
        assert not root.is_alive()
    finally:
        runtime.stop()


class Pricer(Supervised):
    """An unrelated sibling: crashes when told to."""

    def on_receive(self, message: Any) -> None:
        if message == "crash":
            raise RuntimeError("pricer crashed")


def pricer(context: SupervisedContext) -> pykka.ActorRef[Any]:
    return Pricer.start(supervision=context)


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ONE, Strategy.ONE_FOR_ALL])
def test_the_runtime_runs_as_one_child_of_a_users_tree_under_its_strategy(
    tmp_path: Path, strategy: Strategy
) -> None:
    config = RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal(), max_restarts=0)
    desk = Supervisor.start(
        name="desk",
        children=[Runtime.child_spec(config, FEED), ChildSpec(id="pricer", start=pricer)],
        strategy=strategy,
        max_restarts=5,
    )
    runtime = Runtime.embedded_in(desk, config)
    runtime.replay(FEED, end=RESTING)
    before = [p.legs for p in runtime.positions()]
    root, sibling = runtime.root, children(desk)["pricer"].ref

    # The sibling crashes: one_for_one restarts it alone, one_for_all the runtime too.
    sibling.tell("crash")
    _wait_for_restart(desk, "pricer", 1)
    runtime.refresh()
    assert (runtime.root == root) is (strategy is Strategy.ONE_FOR_ONE)
    assert [p.legs for p in runtime.positions()] == before
    root, sibling = runtime.root, children(desk)["pricer"].ref

    # The runtime gives up (its core may restart 0 times): the desk restarts it from the
    # journal; one_for_one leaves the sibling alone, one_for_all restarts it too.
    runtime.execution.tell(InjectFault(reason="test"))
    assert root.actor_stopped.wait(5)
    _wait_for_restart(desk, "tradeactors", 1 if strategy is Strategy.ONE_FOR_ONE else 2)
    runtime.refresh()
    assert runtime.root != root
    assert (children(desk)["pricer"].ref == sibling) is (strategy is Strategy.ONE_FOR_ONE)
    assert [p.legs for p in runtime.positions()] == before

    runtime.replay(FEED)
    assert final_realized(runtime) == Decimal("3.00")
    desk.stop()


def _wait_for_restart(supervisor: pykka.ActorRef[Any], child_id: str, restarts: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = children(supervisor)[child_id]
        if info.restarts >= restarts and info.ref is not None:
            return
        time.sleep(0.01)
    raise AssertionError(f"{child_id} was not restarted {restarts} times")


def test_paced_feeding_goes_on_through_a_core_restart(tmp_path: Path) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())).start(
        FEED
    ) as runtime:
        for record in FEED[:RESTING]:
            runtime.feed(record)
            runtime.wait_idle()
        journal = runtime.journal
        journal.tell(InjectFault(reason="test"))
        assert journal.actor_stopped.wait(5)

        # The first record goes to the dead journal, is refused, and goes to the new one.
        for record in FEED[RESTING:]:
            runtime.feed(record)
            runtime.wait_idle()

        assert runtime.generation == 2
        assert runtime.next_step == len(FEED)
        assert final_realized(runtime) == Decimal("3.00")
