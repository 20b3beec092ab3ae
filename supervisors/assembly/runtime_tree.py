"""The runtime's supervision tree: a root supervisor over the core actors, one_for_all.

::

    tradeactors            RuntimeSupervisor, one_for_all
    ├── journal            JournalActor: recovers the state every other child is built from
    ├── bus                EventBusActor
    ├── index              PositionIndexActor: loaded with the journal's live positions
    ├── risk               RiskActor: limits from the journal (last set) or the config
    ├── venue              SimulatedVenueActor: rebuilt from the feed + the journal's orders
    ├── execution          ExecutionActor
    ├── strategy           StrategyActor
    ├── markets            Supervisor, one_for_one: only supervises
    │   ├── position:<m>   PositionActor     } per market, dynamic; a crash here is restarted
    │   ├── market:<m>     MarketActor       } alone, from the journal, and never disturbs
    │   └── order:<o>      OrderActor        } another market or the core
    └── market_lifecycle   MarketLifecycleActor: opens, switches, settles and archives
                           markets; adds and removes the children of ``markets``, and
                           re-wires one that ``markets`` restarted

Why one_for_all at the root: the core actors hand each other work that is not yet durable
(a fill in the venue's latency timer, a signal in execution's mailbox, an Append in the
journal's uncommitted batch). When one of them dies, that work is gone, and only the journal
says what the others may still believe. So they all stop, in reverse order, and start again
from the journal in order, exactly as after a process restart: the journal's factory
recovers (``core_recovery.recover_core``; the journal voids a torn lockstep step), and each later
factory builds its child from that recovery. The children are wired in one place,
``supervisors.assembly.subsystems``, which the harnesses start too. The crash test proves
that path exact; the fault-injection tests prove it here. ``markets`` and
``market_lifecycle`` are two such children: when either dies, both start again with the
core, the supervisor empty and the lifecycle actor from the recovery, which adds every live
market's actors to it again.

The whole tree is one child spec (``RuntimeSupervisor.child_spec`` via
``Runtime.child_spec``), so it runs as one child of a user's larger supervisor tree; if the
root exceeds its restart intensity it fails, and the user's supervisor applies its own
strategy to it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs
import pykka

from bridges.data_dir_lock import DataDirLock
from bridges.feed_codec import FeedRecord
from bridges.journal_preflight import check_journal
from bridges.journal_sqlite import SqliteStoreFactory
from messages.fields import id_field, ts_init_field
from messages.subscriptions import Subscribe
from supervisors.assembly.recovery import RecoveryReport
from supervisors.assembly.runtime_config import RuntimeConfig
from supervisors.assembly.subsystems import (
    CORE_CHILDREN,
    EXTRA_CHILDREN,
    SLOW_S,
    Wiring,
    child_ids,
    runtime_specs,
)
from supervisors.kernel.base import handles, tell_quietly
from supervisors.kernel.child_spec import ChildSpec, Restart, Strategy, SupervisedContext
from supervisors.kernel.supervisor import Supervisor


@attrs.frozen(kw_only=True, slots=True)
class CurrentCore:
    """Ask the root for its running core; answered with ``CoreRefs`` once it is up."""

    id: str = id_field()
    ts_init: int = ts_init_field()


@attrs.frozen(kw_only=True)
class CoreRefs:
    """One incarnation of the core: its actors, and where its recovered journal resumes.

    ``generation`` counts the core's starts under one root; a facade compares ``key`` to see
    whether the core it fed has been replaced since (by this root or by a new root).
    """

    root: pykka.ActorRef[Any]
    generation: int
    resume_step: int
    recovery: RecoveryReport
    journal: pykka.ActorRef[Any]
    bus: pykka.ActorRef[Any]
    index: pykka.ActorRef[Any]
    risk: pykka.ActorRef[Any]
    venue: pykka.ActorRef[Any]
    execution: pykka.ActorRef[Any]
    strategy: pykka.ActorRef[Any]
    markets: pykka.ActorRef[Any]
    """The supervisor of the per-market actors."""
    market_lifecycle: pykka.ActorRef[Any]
    """Where feed records, ``ListPositions`` and the market switch go."""
    extras: dict[str, pykka.ActorRef[Any]] = attrs.field(factory=dict)
    """The broker edge's actors, by child id, when there is a broker."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.root.actor_urn, self.generation)

    def actors(self) -> tuple[pykka.ActorRef[Any], ...]:
        core = (
            self.journal,
            self.bus,
            self.index,
            self.risk,
            self.venue,
            self.execution,
            self.strategy,
            self.markets,
            self.market_lifecycle,
        )
        return (*core, *self.extras.values())

    @functools.cached_property
    def _watched(self) -> tuple[pykka.ActorRef[Any], ...]:
        return (self.root, *self.actors())

    def intact(self) -> bool:
        """True while neither the root nor any of this incarnation's actors has died (once a
        lockstep step: the refs' stop flags, read directly)."""
        return all(not ref.actor_stopped.is_set() for ref in self._watched)


class RuntimeSupervisor(Supervisor):
    """The root of one runtime; ``feed`` is what the venue is rebuilt from after a restart.

    It holds the data dir's lock (``bridges.data_dir_lock``) from its construction to its
    end, and checks the journal's file first (``bridges.journal_preflight``): a refusal is a
    ``DataDirError`` raised to whoever starts it, a facade or a parent supervisor.

    ``Subscribe`` here means every event of the runtime: the subscriber hears this root's
    supervision events and is subscribed to each incarnation of the bus.
    """

    kind = "runtime_supervisor"

    def __init__(
        self,
        config: RuntimeConfig,
        feed: Sequence[FeedRecord] = (),
        *,
        name: str = "tradeactors",
        supervision: SupervisedContext | None = None,
    ) -> None:
        self.wiring = Wiring(config=config, stores=config.stores(), feed=tuple(feed))
        self.child_ids = child_ids(config)
        super().__init__(
            name=name,
            children=runtime_specs(self.wiring),
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=config.max_restarts,
            period_s=config.restart_period_s,
            scheduler=config.scheduler,
            supervision=supervision,
        )
        self.wiring.log = self.log
        self.config = config
        self.journal_path = config.journal_path
        self.stores = self.wiring.stores
        # Last, in the starting thread: a refusal raises to whoever starts the root.
        self._lock = DataDirLock(self.journal_path.parent).acquire()
        try:
            if isinstance(self.stores, SqliteStoreFactory):  # another store has no file
                check_journal(self.stores.path)
        except BaseException:
            self._lock.release()
            raise

    @classmethod
    def spec(
        cls,
        config: RuntimeConfig,
        feed: Sequence[FeedRecord] = (),
        *,
        child_id: str = "tradeactors",
        restart: Restart = Restart.PERMANENT,
    ) -> ChildSpec:
        """The whole runtime as one child of another supervisor."""
        if config.data_dir is None:
            raise ValueError("an embedded runtime needs a data_dir: its journal outlives it")
        total_s = SLOW_S * len(CORE_CHILDREN)
        return ChildSpec(
            id=child_id,
            start=lambda context: cls.start(config, feed, name=child_id, supervision=context),
            restart=restart,
            shutdown_s=total_s,
            start_timeout_s=total_s,
        )

    def on_stop(self) -> None:
        # Before the stop is acknowledged, so a caller may start a successor at once.
        super().on_stop()
        self._lock.release()

    def on_failure(self, *exc_info: Any) -> None:
        super().on_failure(*exc_info)
        self._lock.release()

    def _tell_supervisor(self) -> None:
        # Also after a failed on_start (no on_failure): free the data dir before the parent
        # may start a successor.
        self._lock.release()
        super()._tell_supervisor()

    @handles(CurrentCore, reads_only=True)
    def _current_core(self, _message: CurrentCore) -> CoreRefs | None:
        """None while a child's restart is still to be retried: ask again."""
        wiring = self.wiring
        if wiring.recovered is None or any(
            self.children[child_id].ref is None for child_id in self.child_ids
        ):
            return None
        return CoreRefs(
            root=self.actor_ref,
            generation=wiring.generation,
            resume_step=wiring.recovered.resume_step,
            recovery=wiring.recovered.report,
            extras={c: wiring.refs[c] for c in self.child_ids if c in EXTRA_CHILDREN},
            **{child_id: wiring.refs[child_id] for child_id in CORE_CHILDREN},
        )

    @handles(Subscribe)
    def _subscribe_all(self, message: Subscribe) -> None:
        self._subscribe(message)
        if message.subscriber not in self.wiring.listeners:
            self.wiring.listeners.append(message.subscriber)
            bus = self.wiring.refs.get("bus")
            if bus is not None:
                # A dead bus is being restarted; its factory subscribes every listener.
                tell_quietly(bus, Subscribe(subscriber=message.subscriber))
