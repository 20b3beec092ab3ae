"""`tradeactors run` against a data dir that cannot be used as it is: held by another run,
empty, damaged, read-only, full. Real processes on real files (and, as root, real small or
read-only filesystems); each ends in one line that says what, where and what to do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)
EXIT_DATA_DIR = 3


def _command(data_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--data-dir",
        str(data_dir),
        "--no-metrics",
        "--speed",
        "0",
        "--quiet",
        *args,
    ]


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(data_dir, "--no-zmq", *args),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run's refusal: exit status 3, no traceback anywhere, one ``tradeactors:`` line."""
    assert result.returncode == EXIT_DATA_DIR, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "cannot start" in line]
    return line


@pytest.fixture(scope="module")
def small_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "small.jsonl"
    write_feed(generate_feed(seed=3, markets=2, updates_per_market=80), path)
    return path


def test_a_second_run_on_a_held_data_dir_refuses_naming_the_first_runs_pid(
    small_feed: Path, tmp_path: Path
) -> None:
    first = subprocess.Popen(
        _command(
            tmp_path,
            "--feed",
            str(small_feed),
            "--hold",
            "60",
            "--commands-endpoint",
            "tcp://127.0.0.1:*",
            "--events-endpoint",
            "tcp://127.0.0.1:*",
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        assert "serving commands" in [first.stdout.readline() for _ in range(3)][-1]
        second = _run(tmp_path, "--feed", str(small_feed))
        line = _one_clear_line(second)
        assert f"in use by another runtime (pid {first.pid}" in line
        assert "--fresh" not in line
        # --fresh must not delete the journal from under the running first run either.
        fresh = _run(tmp_path, "--feed", str(small_feed), "--fresh")
        assert f"pid {first.pid}" in _one_clear_line(fresh)
        assert (tmp_path / "journal.sqlite").stat().st_size > 0
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 130
    # The holder gone, the data dir is free again and its journal whole.
    again = _run(tmp_path, "--feed", str(small_feed))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 feed records replayed" in again.stdout


def test_an_empty_journal_file_is_refused_without_fresh_and_replayed_with_it(
    small_feed: Path, tmp_path: Path
) -> None:
    (tmp_path / "journal.sqlite").write_bytes(b"")
    line = _one_clear_line(_run(tmp_path, "--feed", str(small_feed)))
    assert f"journal {tmp_path / 'journal.sqlite'} is empty" in line
    assert "--fresh" in line
    fresh = _run(tmp_path, "--feed", str(small_feed), "--fresh")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def test_a_damaged_journal_file_is_refused_in_one_line(small_feed: Path, tmp_path: Path) -> None:
    done = _run(tmp_path, "--feed", str(small_feed))
    assert done.returncode == 0, done.stderr
    path = tmp_path / "journal.sqlite"
    with path.open("r+b") as file:
        file.write(b"\x00garbage header!" * 4)  # the 100-byte SQLite header, overwritten
    line = _one_clear_line(_run(tmp_path, "--feed", str(small_feed)))
    assert str(path) in line
    assert "not a database" in line
    assert "restore it" in line


@pytest.fixture(scope="module")
def larger_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its journal (about 700 KiB) does not fit the small filesystem."""
    path = tmp_path_factory.mktemp("feed") / "larger.jsonl"
    write_feed(generate_feed(seed=3, markets=3, updates_per_market=300), path)
    return path


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs of 256 KiB mounted on a fresh directory; unmounted afterwards."""
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_read_only_data_dir_is_refused_in_one_line(
    small_feed: Path, small_filesystem: Path
) -> None:
    data_dir = small_filesystem / "data"
    done = _run(data_dir, "--feed", str(small_feed), "--records", "5")
    assert done.returncode == 0, done.stderr
    remounted = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_filesystem)], capture_output=True, check=False
    )
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remounted.stderr!r}")
    line = _one_clear_line(_run(data_dir, "--feed", str(small_feed)))
    assert f"data dir {data_dir} is not writable" in line
    assert "make it writable" in line


def _table(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split("feed records replayed")[1].split("\n", 2)[2]


def test_a_full_disk_stops_a_lockstep_run_in_one_line_and_loses_nothing_acknowledged(
    larger_feed: Path, small_filesystem: Path, tmp_path: Path
) -> None:
    data_dir = small_filesystem / "data"
    full = _run(data_dir, "--feed", str(larger_feed))
    assert full.returncode == EXIT_DATA_DIR, full.stdout + full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    (line,) = [line for line in full.stdout.splitlines() if "the runtime stopped" in line]
    assert f"journal {data_dir / 'journal.sqlite'}: database or disk is full" in line
    assert "free space" in line
    # On a disk with room, the same journal continues to exactly the uninterrupted end.
    moved = tmp_path / "moved"
    subprocess.run(["cp", "-a", str(data_dir), str(moved)], check=True)
    resumed = _run(moved, "--feed", str(larger_feed))
    assert "resuming at record" in resumed.stdout
    assert _table(resumed) == _table(_run(tmp_path / "clean", "--feed", str(larger_feed)))


def test_a_full_disk_under_a_paced_run_backs_the_journals_restarts_off_then_gives_up(
    larger_feed: Path, small_filesystem: Path
) -> None:
    result = _run(
        small_filesystem / "data",
        "--feed",
        str(larger_feed),
        "--speed",
        "50",
        "--log-level",
        "info",
    )
    assert result.returncode == EXIT_DATA_DIR, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    delays = [log["delay_s"] for log in logs if log["event"] == "restart_delayed"]
    # Spaced out, doubling (how many depends on how long the feed lasts at this speed).
    assert len(delays) >= 3
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0][: len(delays)]
    failed = [log for log in logs if log["event"] == "journal_commit_failed"]
    assert len(failed) in {len(delays), len(delays) + 1}
    assert all("free space" in log["advice"] for log in failed)
    (line,) = [line for line in result.stdout.splitlines() if "the runtime stopped" in line]
    assert "database or disk is full" in line
    assert "free space" in line
