"""Kill -9 the runtime at random moments, restart it, and find everything exactly where it was.

The never-killed run and the killed-and-restarted runs replay the same feed in lockstep
(`--speed 0`); their journals must hold the same orders, the same fills (each once) and
fold to the same positions, and the CLI must print the same final table.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bridges.feed_codec import write_feed
from bridges.journal_sqlite import SqliteStoreFactory
from supervisors.assembly.runtime import JOURNAL_FILE
from tests.stubs import lockstep_run
from tools.chaos import journal_facts
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(300)
KILLS_PER_RUN = 7
SEEDS = (11, 37)


def _command(data_dir: Path, feed: Path) -> list[str]:
    return lockstep_run(data_dir, feed)


def _started(data_dir: Path, feed: Path) -> subprocess.Popen[str]:
    """The run, once past start-up (imports, recovery; how long those take depends on the
    machine's load): it has announced the feed and replays from here."""
    process = subprocess.Popen(
        _command(data_dir, feed), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("tradeactors: feed"), "no start announced"
    return process


def _finish(data_dir: Path, feed: Path) -> str:
    result = subprocess.run(
        _command(data_dir, feed), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return _table(result.stdout)


def _table(stdout: str) -> str:
    """The final positions table of a run's output."""
    return stdout.split("feed records replayed")[1].split("\n", 2)[2]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "crash.jsonl"
    # Three markets (two switches) and snapshots every 40 events: seven kills a run land in
    # every phase (open, trading, switch, snapshot) without a longer feed.
    write_feed(generate_feed(seed=5, markets=3, updates_per_market=120), path)
    return path


@pytest.fixture(scope="module")
def never_killed(feed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("never-killed")
    process = _started(data_dir, feed)
    started = time.monotonic()
    stdout, _ = process.communicate(timeout=120)
    seconds = time.monotonic() - started
    assert process.returncode == 0
    table = _table(stdout)
    facts = journal_facts(SqliteStoreFactory(data_dir / JOURNAL_FILE))
    assert facts.orders, "the feed must make the strategy trade for this test to mean much"
    return {"table": table, "facts": facts, "seconds": seconds}


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_at_random_moments_then_restart_ends_exactly_like_the_never_killed_run(
    seed: int, feed: Path, tmp_path: Path, never_killed: dict[str, Any]
) -> None:
    rng = random.Random(seed)
    kills = 0
    for _ in range(KILLS_PER_RUN):
        process = _started(tmp_path, feed)
        # Somewhere in the next slice of the replay's work.
        time.sleep(rng.uniform(0, never_killed["seconds"] / KILLS_PER_RUN))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
    assert kills >= KILLS_PER_RUN // 2, "most kills must land while the run is still going"

    table = _finish(tmp_path, feed)
    facts = journal_facts(SqliteStoreFactory(tmp_path / JOURNAL_FILE))

    assert table == never_killed["table"]
    assert facts == never_killed["facts"]
    fill_ids = [fill[0] for fill in facts.fills]
    assert len(fill_ids) == len(set(fill_ids)), "a fill was journaled twice"
    assert Counter(facts.applied) == Counter(set(facts.applied)), "a fill was applied twice"
