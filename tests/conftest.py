"""Shared fixtures: every test leaves no actor running and no logging setup behind it; the
`fast` inner loop."""

from __future__ import annotations

import compileall
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
import structlog
from hypothesis import HealthCheck, settings
from xdist.scheduler import LoadScopeScheduling

from actors.journal import JournalActor
from bridges.journal_memory import MemoryJournal
from tests.postgres_server import REQUIRED_ENV, NoPostgresError, postgres_server

# How fast hypothesis generates data and runs an example depends on what else the machine
# runs (two pytest workers, other jobs): its too_slow health check and its 200 ms deadline
# per example are about the machine, never the code (a deadline flaked on a loaded CI run).
settings.register_profile(
    "tradeactors", suppress_health_check=[HealthCheck.too_slow], deadline=None
)
settings.load_profile("tradeactors")

# The inner loop (`pytest -m fast`, under 30 s): plain cores, messages, codecs and small actor
# tests. Marked here by module name, so a module keeps its mark when it moves between packages.
FAST_MODULES = frozenset(
    {
        "test_base",
        "test_broker_verdict",
        "test_callback_bridge",
        "test_codec",
        "test_dashboard",
        "test_execution_actor",
        "test_execution_book",
        "test_feed_codec",
        "test_feed_player",
        "test_fill_charge",
        "test_fill_reversal",
        "test_journal_memory",
        "test_lockstep_driver",
        "test_market_actor",
        "test_messages_are_frozen",
        "test_normalizer_heartbeat",
        "test_order_actor",
        "test_order_book",
        "test_order_state",
        "test_position_accounting",
        "test_position_actor",
        "test_progress",
        "test_query_pacer",
        "test_query_view",
        "test_reconcile_schedule",
        "test_reconciliation_findings",
        "test_risk_config",
        "test_risk_rules",
        "test_runtime_state",
        "test_scheduler",
        "test_shard_map",
        "test_simulated_venue",
        "test_strategy",
        "test_venue_matching",
        "test_zmq_fair_queue",
        "test_zmq_reversal_topics",
    }
)


# Tests that share an xdist worker, by module: those of a server that takes seconds to start
# (Ray about 20 s, PostgreSQL 2 s; session-scoped, so once per worker that needs it), and those
# whose module-scoped fixture is a reference run of its own (a kill -9 test's never-killed
# run), which would otherwise run once on each worker. Named by module, as the controller
# that schedules sees node ids only; collection checks that every server test is listed.
SERVER_FIXTURES = frozenset({"local_ray", "postgres_url"})
SERVER_MODULES = frozenset(
    {"test_cluster", "test_cli_cluster", "test_journal_postgres", "test_cli_journal_postgres"}
)
REFERENCE_RUN_MODULES = frozenset({"test_crash_recovery", "test_crash_recovery_broker"})


# The packages whose modules the tests' command-line runs import.
PROJECT_PACKAGES = ("actors", "bench", "bridges", "messages", "supervisors", "tests", "tools")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the project once, before the workers start: the CLI tests start about 160
    interpreters, and where bytecode is not written (``PYTHONDONTWRITEBYTECODE=1``, as on
    CI) each of them compiled every module it imports from source, about 0.5 s apiece."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    root = Path(__file__).resolve().parent.parent
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(root / package, quiet=1, workers=0)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m fast`` a module outside FAST_MODULES holds no selected test (the mark goes
    by module): it is not imported at all, which was most of the inner loop's time."""
    if config.getoption("markexpr") != "fast" or collection_path.suffix != ".py":
        return None
    if collection_path.stem.startswith("test_") and collection_path.stem not in FAST_MODULES:
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in FAST_MODULES:
            item.add_marker(pytest.mark.fast)
        uses = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses and item.path.stem not in SERVER_MODULES:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(uses))}: add {item.path.stem} to "
                "SERVER_MODULES in tests/conftest.py, so the server starts on one worker"
            )


class _SharedWorkerScheduling(LoadScopeScheduling):
    """xdist's load scheduling, test by test, except the modules above: one work unit each
    (the servers' modules one between them). xdist's own ``xdist_group`` marks do nothing
    under pytest 9.2, which no longer lets xdist rename a test's node id."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        stem = Path(module).stem
        if stem in SERVER_MODULES:
            return "servers"
        return module if stem in REFERENCE_RUN_MODULES else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    if config.getvalue("dist") != "load":
        return None  # a --dist the caller chose
    return _SharedWorkerScheduling(config, log)


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A command run in-process configures logging onto the test's captured stream, which
    is closed once the test ends: the next test logs as the one before it did."""
    before = structlog.get_config()
    yield
    structlog.configure(**before)


@pytest.fixture(scope="session")
def local_ray() -> Iterator[str]:
    """One Ray instance on loopback for every test that needs one (it takes seconds to
    start); yields its address, for a process that joins it."""
    # Imported here: Ray takes seconds to import, and most tests never use it.
    shard = importlib.import_module("supervisors.assembly.shard")
    shard.start_local_ray(num_cpus=2, object_store_memory=80 * 1024 * 1024)
    yield shard.ray.get_runtime_context().gcs_address
    shard.ray.shutdown()


@pytest.fixture
def journal_stores() -> MemoryJournal:
    """A journal in memory, for tests that need one but not its file (nor a crash)."""
    return MemoryJournal()


@pytest.fixture
def journal(journal_stores: MemoryJournal) -> pykka.ActorRef[Any]:
    """A real JournalActor, on the in-memory journal ``journal_stores``."""
    return JournalActor.start(journal_stores.writer())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (``tests/postgres_server.py``); each
    test keeps its journal in a schema of its own."""
    try:
        with postgres_server() as url:
            yield url
    except NoPostgresError as error:
        if os.environ.get(REQUIRED_ENV):
            raise
        pytest.skip(f"{error} (set {REQUIRED_ENV} to make this a failure)")
