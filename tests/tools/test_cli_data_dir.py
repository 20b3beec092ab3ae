"""`tradeactors run` against a data dir that cannot be used as it is: held by another run,
empty, damaged, read-only, full. Real processes on real files (and, as root, real small or
read-only filesystems); each ends in one line that says what, where and what to do."""

from __future__ import annotations

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
