"""`tradeactors run` as a user runs it: a real subprocess, a real feed file, a real journal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from bridges.journal_sqlite import SqliteJournalStore
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)
MARKER = "feed records replayed"


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.cli",
            "run",
            "--data-dir",
            str(data_dir),
            "--no-zmq",
            "--no-metrics",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def _table(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.split(MARKER)[1].split("\n", 2)[2]


@pytest.fixture(scope="module")
def small_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "small.jsonl"
    write_feed(generate_feed(seed=3, markets=2, updates_per_market=80), path)
    return path


def test_run_on_the_bundled_sample_settles_every_market_and_prints_the_table(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, "--speed", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "1525 feed records replayed (1525 of 1525)" in lines
    settled = [line for line in lines if " SETTLED " in line]
    assert len(settled) == 10
    assert lines[-1].startswith("TOTAL")
    assert (tmp_path / "journal.sqlite").exists()


def test_lockstep_replay_is_deterministic_and_shows_live_progress(
    small_feed: Path, tmp_path: Path
) -> None:
    first = _run(tmp_path / "a", "--feed", str(small_feed), "--speed", "0")
    second = _run(tmp_path / "b", "--feed", str(small_feed), "--speed", "0")
    # Same state, same events; events from different orders may interleave differently.
    assert _table(first) == _table(second)
    assert sorted(first.stdout.splitlines()[1:]) == sorted(second.stdout.splitlines()[1:])
    out = first.stdout
    assert "== market btc-up-0001 opened" in out
    assert "== market btc-up-0002 resolved" in out
    assert "   order O1 BUY" in out
    assert "   fill  O1 filled" in out
    assert "   position btc-up-0001-YES qty" in out
    assert "== position btc-up-0001 settled" in out


def test_a_run_stopped_early_continues_where_it_stopped_and_ends_the_same(
    small_feed: Path, tmp_path: Path
) -> None:
    whole = _table(_run(tmp_path / "whole", "--feed", str(small_feed), "--speed", "0", "--quiet"))
    cut = tmp_path / "cut"
    first = _run(cut, "--feed", str(small_feed), "--speed", "0", "--records", "90", "--quiet")
    assert first.returncode == 0, first.stderr
    assert " OPEN " in first.stdout
    second = _run(cut, "--feed", str(small_feed), "--speed", "0", "--quiet")
    assert "resuming at record" in second.stdout
    assert _table(second) == whole
    third = _run(cut, "--feed", str(small_feed), "--speed", "0", "--quiet")
    assert "0 feed records replayed" in third.stdout
    assert _table(third) == whole


@pytest.mark.timeout(300)  # five subprocesses, each loading the runtime
def test_paced_runs_end_with_the_same_orders_fills_and_positions_as_lockstep(
    small_feed: Path, tmp_path: Path
) -> None:
    feed = ("--feed", str(small_feed), "--quiet")
    paced = [_run(tmp_path / name, *feed, "--speed", "1000") for name in ("a", "b")]
    lockstep = _run(tmp_path / "c", *feed, "--speed", "0")
    assert _table(paced[0]) == _table(paced[1]) == _table(lockstep)
    assert " SETTLED " in _table(lockstep)
    assert _export(tmp_path / "a", "fills") == _export(tmp_path / "b", "fills")


def _export(data_dir: Path, what: str) -> list[str]:
    """The exported rows of ``what``, without the message ids (fresh in every run)."""
    out = data_dir / f"{what}.csv"
    command = [sys.executable, "-m", "tools.cli", "export", what, "--data-dir", str(data_dir)]
    done = subprocess.run(
        [*command, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    header, *rows = out.read_text(encoding="utf-8").splitlines()
    kept = [i for i, name in enumerate(header.split(",")) if name not in ("id", "correlation_id")]
    assert rows
    return [",".join(row.split(",")[i] for i in kept) for row in rows]


def test_a_second_run_on_the_same_data_dir_says_it_has_nothing_to_replay_and_how_to_start_over(
    small_feed: Path, tmp_path: Path
) -> None:
    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tools.main", "run", "--feed", str(small_feed)]
        flags = ["--data-dir", str(tmp_path), "--no-zmq", "--no-metrics", "--quiet"]
        return subprocess.run(
            [*command, *flags, "--speed", "0", *extra],
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert "nothing to replay" not in first.stdout
    second = run()
    assert second.returncode == 0, second.stderr
    assert (
        f"the journal in {tmp_path} has already taken the feed's first 170 records, "
        "so there is nothing to replay; --fresh starts over"
    ) in second.stdout
    assert "0 feed records replayed (170 of 170)" in second.stdout
    again = run("--fresh")
    assert "170 feed records replayed (170 of 170)" in again.stdout
    assert "nothing to replay" not in again.stdout


def test_duration_cuts_a_paced_replay_short_and_leaves_the_market_open(
    small_feed: Path, tmp_path: Path
) -> None:
    result = _run(
        tmp_path, "--feed", str(small_feed), "--speed", "1", "--duration", "1.5", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    assert any(" OPEN " in line for line in table)
    assert not any(" SETTLED " in line for line in table)


def test_a_malformed_feed_is_reported_with_its_line_and_exit_code_2(tmp_path: Path) -> None:
    feed = tmp_path / "bad.jsonl"
    feed.write_text('{"type": "market_closed", "ts_event": 1, "market_id": "m"}\nnot json\n')
    result = _run(tmp_path, "--feed", str(feed), "--speed", "0", "--quiet")
    assert result.returncode == 2
    assert f"{feed}:2" in result.stdout


def test_sigterm_stops_gracefully_and_a_restart_continues(small_feed: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--data-dir",
        str(tmp_path),
        "--feed",
        str(small_feed),
        "--speed",
        "20",
        "--quiet",
        "--commands-endpoint",
        "tcp://127.0.0.1:*",
        "--events-endpoint",
        "tcp://127.0.0.1:*",
        "--metrics-port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().startswith("tradeactors: feed")
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in out
    store = SqliteJournalStore(tmp_path / "journal.sqlite")
    try:
        snapshot = store.latest_snapshot()
        assert snapshot is not None
        assert snapshot.seq == store.last_seq()
    finally:
        store.close()
    resumed = _run(tmp_path, "--feed", str(small_feed), "--speed", "0", "--quiet")
    assert "resuming at record" in resumed.stdout
    assert resumed.returncode == 0, resumed.stderr


def test_a_run_through_a_misbehaving_paper_broker_ends_with_the_book_equal_to_its_truth(
    small_feed: Path, tmp_path: Path
) -> None:
    result = _run(
        tmp_path,
        "--feed",
        str(small_feed),
        "--speed",
        "0",
        "--quiet",
        "--broker",
        "paper",
        "--drop-rate",
        "0.1",
        "--duplicate-rate",
        "0.1",
        "--callback-delay-ms",
        "2",
    )
    assert result.returncode == 0, result.stderr
    report = result.stdout.split("paper broker:")[1]
    dropped = int(report.split(" dropped")[0].rsplit(" ", 1)[1])
    assert dropped > 0
    assert "inferred by reconciliation" in report
    assert "the account book EQUALS the broker's positions" in report
    assert "the positions table EQUALS the broker's positions" in report
    assert "our open orders EQUAL the broker's" in report
    assert "the run EQUALS the broker's truth" in report


def test_the_broker_verdict_says_differs_when_the_positions_table_holds_what_the_broker_does_not(
    small_feed: Path, tmp_path: Path
) -> None:
    args = ("--feed", str(small_feed), "--speed", "0", "--quiet", "--broker", "paper")
    first = _run(tmp_path, *args, "--records", "50")
    assert "the run EQUALS the broker's truth" in first.stdout
    open_legs = [line.split() for line in _table(first).splitlines() if " OPEN " in line]
    assert [(leg[2], leg[3]) for leg in open_legs] == [("YES", "250"), ("NO", "250")]
    # The venue forgets every trade of the first run: its file is gone.
    for path in tmp_path.glob("paper_broker.sqlite*"):
        path.unlink()

    second = _run(tmp_path, *args, "--records", "50")

    assert second.returncode == 0, second.stderr
    report = second.stdout.split("paper broker:")[1]
    assert (
        "the positions table DIFFERS FROM the broker's positions (2 open legs): "
        "btc-up-0001-NO 250 here, 0 at the broker; btc-up-0001-YES 250 here, 0 at the broker"
    ) in report
    assert "the run DIFFERS FROM the broker's truth" in report


def _client(*args: str) -> subprocess.CompletedProcess[str]:
    """A client command as the console script runs it: ``tools.main`` loads the client alone,
    about half a second sooner each than the whole CLI would."""
    return subprocess.run(
        [sys.executable, "-m", "tools.main", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_client_commands_talk_to_a_running_runtime(small_feed: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--data-dir",
        str(tmp_path),
        "--feed",
        str(small_feed),
        "--speed",
        "0",
        "--quiet",
        "--hold",
        "60",
        "--commands-endpoint",
        "tcp://127.0.0.1:*",
        "--events-endpoint",
        "tcp://127.0.0.1:*",
        "--metrics-port",
        "0",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        _drive_the_clients(process)


def _drive_the_clients(process: subprocess.Popen[str]) -> None:
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        endpoints = lines[1].split("commands on ")[1].split(", events on ")
        commands, events = endpoints[0], endpoints[1].strip()
        assert "serving commands" in lines[2]

        status = _client("status", "--endpoint", commands)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "journal" in status.stdout
        positions = _client("positions", "--endpoint", commands, "--json")
        assert positions.returncode == 0
        market_ids = {p["market_id"] for p in json.loads(positions.stdout)["positions"]}
        assert market_ids
        table = _client("positions", "--endpoint", commands)
        assert "TOTAL" in table.stdout

        watch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.main",
                "watch",
                "order.",
                "--count",
                "1",
                "--events-endpoint",
                events,
                "--json",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the subscription takes a moment to reach the publisher
        market = sorted(market_ids)[-1]
        submitted = _client(
            "submit", market, f"{market}-YES", "BUY", "0.01", "1", "--endpoint", commands
        )
        assert submitted.returncode == 1, submitted.stdout  # a denial is an error status
        # The whole feed was replayed before serving: every market is settled and archived,
        # so execution routes none, and the one right answer is this denial.
        assert submitted.stdout.strip() == f"denied: no position for market {market}"
        out, _ = watch.communicate(timeout=20)
        event = json.loads(out)
        assert event["topic"] == f"order.{market}"
        assert event["kind"] == "OrderDenied"
        assert event["event"]["reason"] == f"no position for market {market}"
        assert event["seq"] >= 1

        unknown = _client("cancel", "O999", "--endpoint", commands)
        assert unknown.returncode == 1
        assert "error not_found" in unknown.stdout
        nobody = _client("status", "--endpoint", "tcp://127.0.0.1:9", "--timeout", "0.5")
        assert nobody.returncode == 3
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
