"""`tradeactors run --journal postgresql://...`: kill -9 the run, restart it, and find the
PostgreSQL journal exactly where the never-killed run on the SQLite file ends."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from bridges.journal_postgres import PostgresStoreFactory
from bridges.journal_sqlite import SqliteStoreFactory
from supervisors.assembly.runtime import JOURNAL_FILE
from tests.stubs import lockstep_run
from tools.chaos import journal_facts
from tools.cli import EXIT_DATA_DIR, main
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(180)
KILLS = 3


def _table(stdout: str) -> str:
    """The final positions table of a run's output."""
    return stdout.split("feed records replayed")[1].split("\n", 2)[2]


def _finish(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return _table(result.stdout)


def test_kill_9_then_restart_on_postgres_ends_exactly_like_a_never_killed_sqlite_run(
    tmp_path: Path, postgres_url: str
) -> None:
    feed = tmp_path / "crash.jsonl"
    write_feed(generate_feed(seed=5, markets=3, updates_per_market=120), feed)
    started = time.monotonic()
    clean_table = _finish(lockstep_run(tmp_path / "sqlite", feed))
    seconds = time.monotonic() - started
    clean = journal_facts(SqliteStoreFactory(tmp_path / "sqlite" / JOURNAL_FILE))
    assert clean.orders, "the feed must make the strategy trade for this test to mean much"

    url = f"{postgres_url}?schema=killed"
    command = lockstep_run(tmp_path / "pg", feed, "--journal", url)
    rng = random.Random(7)
    kills = 0
    for _ in range(KILLS):
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert process.stdout is not None
        assert process.stdout.readline().startswith("tradeactors: feed"), "no start announced"
        time.sleep(rng.uniform(0, seconds / 2 / KILLS))  # the replay is about half the run
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        process.stdout.close()
    assert kills >= 2, "most kills must land while the run is still going"

    table = _finish(command)
    facts = journal_facts(PostgresStoreFactory.from_url(url))

    assert not (tmp_path / "pg" / JOURNAL_FILE).exists()
    assert table == clean_table
    assert facts == clean
    fill_ids = [fill[0] for fill in facts.fills]
    assert len(fill_ids) == len(set(fill_ids)), "a fill was journaled twice"
    assert Counter(facts.applied) == Counter(set(facts.applied)), "a fill was applied twice"


def test_an_unreachable_journal_server_is_a_one_line_refusal_with_its_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "run",
            "--data-dir",
            str(tmp_path),
            "--journal",
            "postgresql://trader:s3cret@127.0.0.1:1/journal",
            "--no-zmq",
            "--no-metrics",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert status == EXIT_DATA_DIR
    assert out.startswith("tradeactors: cannot start: cannot open journal postgresql://trader@")
    assert "PostgreSQL server is up and reachable" in out
    assert "s3cret" not in out
    assert len(out.splitlines()) == 1
