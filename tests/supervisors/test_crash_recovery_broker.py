"""Kill -9 ``tradeactors run --broker paper`` at chosen moments, restart it, and end exactly.

The paper broker is a venue: it outlives our process (its own file in the data dir), so a
restart meets the broker's orders, deals and positions as they are, and must end as the
never-killed run did. Moments are picked from the run's own log lines (``--log-level
info``): the k-th order a process submits (the broker has just taken it, or is taking it,
while the step that made it is not committed yet), and the end-of-run reconcile.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tests.stubs import lockstep_run
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)
FAULTS = ("--drop-rate", "0.05", "--duplicate-rate", "0.05")
END_OF_RUN_RECONCILE = ('"event": "reconciling"', '"reason": "end of run"')
ORDER_SUBMITTED = ('"event": "order_submitted"',)


def _command(data_dir: Path, feed: Path, *extra: str) -> list[str]:
    return lockstep_run(data_dir, feed, "--broker", "paper", *extra)


def _kill_at(command: list[str], marks: tuple[str, ...], nth: int) -> bool:
    """Run ``command`` and kill -9 it at its ``nth`` log line holding all of ``marks``;
    False if it ended first (then it must have ended well)."""
    process = subprocess.Popen(
        [*command, "--log-level", "info"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = 0
    tail: list[str] = []
    for line in process.stderr:
        tail = [*tail[-20:], line]
        if all(mark in line for mark in marks):
            seen += 1
            if seen == nth:
                process.kill()
                break
    process.stderr.close()
    returncode = process.wait(timeout=30)
    if seen < nth:
        assert returncode == 0, "".join(tail)
        return False
    return True


def _finish(command: list[str]) -> tuple[str, str]:
    """The positions table and the broker verdict of a run to its end."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=100, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    after = result.stdout.split("feed records replayed")[1].split("\n", 2)[2]
    table, verdict = after.split("\npaper broker:")
    return table, verdict


def _legs(table: str) -> list[tuple[str, str, str]]:
    """(market, status, instrument) of each row of a positions table."""
    return [tuple(line.split()[:3]) for line in table.splitlines() if line.startswith("btc-")]  # type: ignore[misc]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "broker-crash.jsonl"
    write_feed(generate_feed(seed=5, markets=2, updates_per_market=200), path)
    return path


def _book_line(verdict: str) -> str:
    """The verdict's line on the account book and the broker's positions (how many)."""
    (line,) = [line for line in verdict.splitlines() if line.startswith("the account book")]
    return line


@pytest.fixture(scope="module")
def never_killed(feed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    table, verdict = _finish(_command(tmp_path_factory.mktemp("never-killed"), feed))
    assert "the run EQUALS the broker's truth" in verdict
    assert _book_line(verdict) == "the account book EQUALS the broker's positions (4 securities)"
    assert len(_legs(table)) == 4
    assert all(status == "SETTLED" for _, status, _ in _legs(table))
    return table, verdict


def test_kill_9_as_orders_reach_the_broker_then_restart_ends_like_the_never_killed_run(
    feed: Path, tmp_path: Path, never_killed: tuple[str, str]
) -> None:
    rng = random.Random(7)
    command = _command(tmp_path, feed)
    kills = sum(_kill_at(command, ORDER_SUBMITTED, rng.randint(2, 12)) for _ in range(3))
    assert kills >= 2, "most kills must land while the run is still trading"

    table, verdict = _finish(command)

    assert table == never_killed[0]
    assert _book_line(verdict) == _book_line(never_killed[1])
    assert "the run EQUALS the broker's truth" in verdict


def test_a_double_kill_9_in_the_end_of_run_reconcile_still_ends_like_the_never_killed_run(
    feed: Path, tmp_path: Path, never_killed: tuple[str, str]
) -> None:
    command = _command(tmp_path, feed)
    assert _kill_at(command, END_OF_RUN_RECONCILE, 1)
    assert _kill_at(command, END_OF_RUN_RECONCILE, 1)

    table, verdict = _finish(command)

    assert table == never_killed[0]
    assert _book_line(verdict) == _book_line(never_killed[1])
    assert "the run EQUALS the broker's truth" in verdict


def test_kill_9_with_callbacks_dropped_and_duplicated_still_settles_every_leg(
    feed: Path, tmp_path: Path, never_killed: tuple[str, str]
) -> None:
    rng = random.Random(11)
    command = _command(tmp_path, feed, *FAULTS)
    kills = sum(_kill_at(command, ORDER_SUBMITTED, rng.randint(2, 12)) for _ in range(3))
    assert kills >= 2, "most kills must land while the run is still trading"

    table, verdict = _finish(command)

    # Lost callbacks come back through reconciliation, later than in a clean run, so the
    # strategy may trade otherwise; but every leg settles, and nothing differs from the broker.
    assert sorted(_legs(table)) == sorted(_legs(never_killed[0]))
    assert _book_line(verdict).endswith("(4 securities)")
    assert "the run EQUALS the broker's truth" in verdict
