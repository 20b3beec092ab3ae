"""`tradeactors run` as a user runs it: a real subprocess on a real feed file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


@pytest.fixture(scope="module")
def small_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "small.jsonl"
    write_feed(generate_feed(seed=3, markets=2, updates_per_market=80), path)
    return path


def test_run_on_the_bundled_sample_settles_every_market_and_prints_the_table() -> None:
    result = _run("--speed", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "1525 feed records replayed" in lines
    settled = [line for line in lines if " SETTLED " in line]
    assert len(settled) == 10
    assert lines[-1].startswith("TOTAL")


def test_lockstep_replay_is_deterministic_and_shows_live_progress(small_feed: Path) -> None:
    first = _run("--feed", str(small_feed), "--speed", "0")
    second = _run("--feed", str(small_feed), "--speed", "0")
    assert first.returncode == 0, first.stderr
    # Same state, same events; events from different orders may interleave differently.
    marker = "feed records replayed"
    assert first.stdout.split(marker)[1] == second.stdout.split(marker)[1]
    assert sorted(first.stdout.splitlines()) == sorted(second.stdout.splitlines())
    out = first.stdout
    assert "== market btc-up-0001 opened" in out
    assert "== market btc-up-0002 resolved" in out
    assert "   order O1 BUY" in out
    assert "   fill  O1 filled" in out
    assert "   position btc-up-0001-YES qty" in out
    assert "== position btc-up-0001 settled" in out


def test_duration_cuts_a_paced_replay_short_and_leaves_the_market_open(small_feed: Path) -> None:
    result = _run("--feed", str(small_feed), "--speed", "1", "--duration", "1.5", "--quiet")
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    assert any(" OPEN " in line for line in table)
    assert not any(" SETTLED " in line for line in table)


def test_a_malformed_feed_is_reported_with_its_line_and_exit_code_2(tmp_path: Path) -> None:
    feed = tmp_path / "bad.jsonl"
    feed.write_text('{"type": "market_closed", "ts_event": 1, "market_id": "m"}\nnot json\n')
    result = _run("--feed", str(feed), "--speed", "0", "--quiet")
    assert result.returncode == 2
    assert f"{feed}:2" in result.stdout
