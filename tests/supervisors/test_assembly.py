"""One assembly: the runtime and the broker edge's harness start the children one function
builds, and the core's recovery is one step the runtime and a caller run alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from bridges.journal_memory import MemoryJournal
from bridges.simulated_broker import SimulatedBroker
from messages.mementos import PositionMemento
from supervisors.assembly import subsystems
from supervisors.assembly.core_recovery import Recovered, recover_core
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
from supervisors.assembly.subsystems import BROKER_CHILDREN, Wiring
from supervisors.kernel.child_spec import ChildSpec
from supervisors.kernel.protocol import WhichChildren
from tests.broker_edge import Edge
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)
FEED = arbitrage_feed()
EDGE = ("account_positions", "normalizer", "venue", "reconciler")


def _booked(position: PositionMemento) -> tuple[Any, ...]:
    """A position's books: not its marks, which its running actor sets from the feed."""
    legs = [
        (leg.security_id, leg.quantity, leg.cost, leg.realized_pnl, leg.fees)
        for leg in position.legs
    ]
    return (position.position_id, position.status, legs, position.pending, position.fills)


def _view(recovered: Recovered) -> tuple[Any, ...]:
    """What the core's children are built from, comparable (the time it took aside)."""
    return (
        attrs.evolve(recovered.report, elapsed_s=0.0),
        recovered.order_count,
        recovered.resume_step,
        recovered.open_order_ids,
        recovered.routed,
        recovered.adopted,
        recovered.risk_limits,
        recovered.orders,
        recovered.closed_orders,
        [
            (snapshot.position_id, snapshot.version, snapshot.legs)
            for snapshot in recovered.archived
        ],
        recovered.accounts.memento(),
        [
            (
                market.definition,
                None if market.position is None else _booked(market.position.memento()),
                market.closed,
                market.winning_security_id,
                {security_id: book.view() for security_id, book in market.books.items()},
            )
            for market in recovered.markets
        ],
        recovered.state.seq,
    )


def test_recover_core_on_a_journal_with_events_returns_what_the_runtime_recovers(
    tmp_path: Path,
) -> None:
    journal = MemoryJournal()
    config = RuntimeConfig(data_dir=tmp_path, journal_store=journal)
    with Runtime(config).start(FEED) as runtime:
        runtime.replay(FEED, end=5)  # a position open, an order resting
    expected = recover_core(journal.writer(), fee_rate=config.fee_rate, feed=FEED)
    assert expected.open_order_ids == {"O4"}
    # The closed orders' positions hold every effect: only the resting one gets an actor.
    assert [order.order_id for order in expected.orders] == ["O4"]
    assert [order.order_id for order in expected.closed_orders] == ["O1", "O2", "O3"]
    assert len(expected.markets) == 1
    assert expected.resume_step == 5

    with Runtime(config).start(FEED) as again:
        assert again.root is not None
        wiring: Wiring = again.root.proxy().wiring.get()
        assert wiring.recovered is not None
        assert _view(wiring.recovered) == _view(expected)


def test_the_broker_edge_harness_and_the_runtime_start_the_edge_one_function_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[str, ...]] = []
    broker_edge_specs = subsystems.broker_edge_specs

    def recording(wiring: Wiring) -> dict[str, ChildSpec]:
        specs = broker_edge_specs(wiring)
        built.append(tuple(specs))
        return specs

    monkeypatch.setattr(subsystems, "broker_edge_specs", recording)
    harness_broker, runtime_broker = SimulatedBroker(seed=1), SimulatedBroker(seed=1)
    try:
        edge = Edge(harness_broker, tmp_path / "journal.sqlite").start()
        try:
            harness = {info.child_id: info.ref.actor_class for info in edge.children}
        finally:
            edge.stop()
        config = RuntimeConfig(
            data_dir=tmp_path / "runtime", broker=BrokerConfig(broker=runtime_broker)
        )
        with Runtime(config).start() as runtime:
            assert runtime.root is not None
            infos = runtime.root.ask(WhichChildren(), timeout=10)
            running = {info.child_id: info.ref.actor_class for info in infos}
    finally:
        harness_broker.close()
        runtime_broker.close()

    assert built == [EDGE, EDGE]
    assert tuple(running) == BROKER_CHILDREN
    assert tuple(harness) == tuple(c for c in BROKER_CHILDREN if c in harness)
    assert set(harness) == {"journal", "bus", "execution", *EDGE}
    assert {c: harness[c] for c in EDGE} == {c: running[c] for c in EDGE}
    assert (harness["journal"], harness["bus"]) == (running["journal"], running["bus"])
