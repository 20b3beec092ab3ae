"""What a runtime is made of: one frozen config, shared by the tree and its facade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs

from actors.broker import Broker
from actors.journal import JournalConfig
from actors.journal_store import Durability, StoreFactory
from actors.settlement_calendar import SettlementCalendar
from actors.strategy import Evaluate
from actors.synthetic_arbitrage import SyntheticArbitrage
from bridges.journal_sqlite import SqliteStoreFactory
from bridges.venue_matching import StagedFills
from messages.risk import RiskLimits
from supervisors.kernel.child_spec import Backoff
from supervisors.kernel.scheduler import REAL_SCHEDULER, Scheduler

JOURNAL_FILE = "journal.sqlite"

JOURNAL_BACKOFF = Backoff(
    initial_s=0.1, factor=2.0, max_s=2.0, only_for=("JournalStoreError",), give_up_after=6
)
"""How the core restarts after its journal's storage failed (full, read-only, unreadable):
spaced 0.1 s, 0.2 s, … 2 s, and given up after six (about 5 s) so the process can say why."""


FILL_SCHEDULES = ("immediate", "staged")
"""How the simulated venue fills an order: as far as the book allows at once, or seed 003's
two parts (``RuntimeConfig.staged_fills``)."""


@attrs.frozen(kw_only=True)
class BrokerConfig:
    """Trade through ``broker`` instead of the simulated venue, and reconcile against it.

    ``gap_s``: callback silence with our orders open that triggers a targeted reconcile.
    ``min_sync_s`` / ``full_sync_s``: the position sync's debounce and period (seed 002).
    ``alert_notional``: a corrected difference worth this much is an alert.
    ``since_ns``: the session's start, from which the broker's fills are compared.
    ``unrouted_grace_s``: how long a deal of our order waits for its routing to be journaled
    before it is booked as an outside one.
    ``pnl_alert``: a realized PnL differing from the broker's by more is an alert (brokers
    that report PnL). ``recovery_alert_s``: a startup recovery longer is an alert (seed 001).
    ``settlement_calendar`` dates the cash of our deals (T+2 on TWSE's trading days by
    default); a date's cash differing from the broker's settlement by more than
    ``settlement_alert`` is an alert (brokers that report settlements by date).
    """

    broker: Broker
    gap_s: float = 2.0
    min_sync_s: float = 5.0
    full_sync_s: float = 300.0
    alert_notional: Decimal = Decimal(1000)
    since_ns: int = 0
    rate_limit_calls: int = 25
    rate_limit_period_s: float = 5.0
    unrouted_grace_s: float = 30.0
    pnl_alert: Decimal = Decimal(100)
    recovery_alert_s: float = 10.0
    settlement_calendar: SettlementCalendar = attrs.Factory(SettlementCalendar)
    settlement_alert: Decimal = Decimal(100)


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """What a run is made of; every number that is money is a Decimal.

    ``data_dir`` holds the journal (``journal.sqlite``); a standalone runtime without one
    keeps its journal in a temporary directory that is removed when it stops. More than
    ``max_restarts`` restarts within ``restart_period_s`` make a supervisor give up: the
    market supervisor for the per-market actors, the runtime's root for its core.
    ``journal_backoff`` spaces the core's restarts when its journal's storage failed.
    ``journal_store`` replaces the journal file by another store (tests: an in-memory one).
    ``scheduler`` is the clock and timers of every actor in the tree that waits or
    schedules; a test or a replay gives a ``ManualScheduler`` and advances it, and a
    ``VirtualTimeKernel`` runs the whole tree on one thread under virtual time (a lockstep
    replay: the facade then waits for the kernel's idle instead of asking for stats).
    ``fill_schedule`` is the simulated venue's (``FILL_SCHEDULES``).
    """

    latency_ns: int = 0
    fee_rate: Decimal = Decimal("0.001")
    fill_schedule: str = attrs.field(
        default="immediate", validator=attrs.validators.in_(FILL_SCHEDULES)
    )
    account: str = "paper"
    strategy_name: str = "synthetic_arbitrage"
    evaluate: Evaluate = attrs.field(factory=SyntheticArbitrage)
    data_dir: Path | None = None
    durability: Durability = Durability.NORMAL
    journal: JournalConfig = attrs.field(factory=JournalConfig)
    max_restarts: int = 10
    restart_period_s: float = 5.0
    journal_backoff: Backoff = JOURNAL_BACKOFF
    broker: BrokerConfig | None = None
    risk: RiskLimits = attrs.field(factory=RiskLimits)
    journal_store: StoreFactory | None = None
    scheduler: Scheduler = REAL_SCHEDULER
    order_prefix: str = "O"
    """What execution's order ids start with: a shard of a cluster takes its own, so ids
    are unique across shards and a ``cancel`` finds its shard by the id alone."""

    def staged_fills(self) -> StagedFills | None:
        """The simulated venue's schedule: seed 003's (30 % at once, the rest ``latency_ns``
        later) for ``fill_schedule="staged"``, else None (each order fills at once)."""
        if self.fill_schedule == "staged":
            return StagedFills(delay_ns=self.latency_ns)
        return None

    @property
    def journal_path(self) -> Path:
        if self.data_dir is None:
            raise ValueError("this runtime has no data_dir, so no journal path")
        return self.data_dir / JOURNAL_FILE

    def stores(self) -> StoreFactory:
        """Where every part of the runtime opens the journal: ``journal_store``, else the
        SQLite file in ``data_dir`` at ``durability`` (the one place that default is made)."""
        if self.journal_store is not None:
            return self.journal_store
        return SqliteStoreFactory(self.journal_path, self.durability)
