"""The per-market pair on its own: a plain supervisor of the market actors and the
lifecycle actor that grows it, with test doubles for everything around them."""

from __future__ import annotations

from typing import Any

import pykka

from bridges.journal_memory import MemoryJournal
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from supervisors.kernel.supervisor import Supervisor


def start_markets(
    *,
    execution: pykka.ActorRef[Any],
    venue: pykka.ActorRef[Any],
    bus: pykka.ActorRef[Any],
    journal: pykka.ActorRef[Any],
    stores: MemoryJournal,
    strategies: tuple[tuple[pykka.ActorRef[Any], str], ...] = (),
) -> tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]]:
    """The supervisor of the per-market actors and the lifecycle actor, as the runtime
    starts them (``supervisors.assembly.subsystems.market_specs``)."""
    children = Supervisor.start(name="markets", events=bus)
    lifecycle = MarketLifecycleActor.start(
        children=children,
        execution=execution,
        venue=venue,
        bus=bus,
        journal=journal,
        stores=stores,
        strategies=strategies,
    )
    return children, lifecycle
