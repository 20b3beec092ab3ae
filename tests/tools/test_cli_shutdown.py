"""`tradeactors run`'s shutdown has a deadline: a real process, a real SIGTERM during --hold,
and a real stall (another process holds the journal's write lock, so the final snapshot
waits on SQLite's busy timeout)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bridges.feed_codec import write_feed
from tools.feedgen import generate_feed
from tools.shutdown_deadline import ShutdownDeadline

pytestmark = pytest.mark.timeout(90)
EXIT_SHUTDOWN_DEADLINE = 4


@pytest.mark.parametrize(
    ("flags", "journal_thread"),
    [((), "MainThread"), (("--threaded",), "JournalActor-")],
    ids=["on the kernel", "threaded"],
)
def test_a_sigterm_during_hold_that_stalls_ends_at_the_deadline_naming_what_it_waited_on(
    tmp_path: Path, flags: tuple[str, ...], journal_thread: str
) -> None:
    """The stalled thread is named: the journal's own, or the kernel's (the main one)."""
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=2, updates_per_market=80), feed)
    data_dir = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--data-dir",
        str(data_dir),
        "--feed",
        str(feed),
        "--speed",
        "0",
        "--quiet",
        "--hold",
        "60",
        "--shutdown-s",
        "1",
        "--no-metrics",
        "--commands-endpoint",
        "tcp://127.0.0.1:*",
        "--events-endpoint",
        "tcp://127.0.0.1:*",
        *flags,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    blocker = None
    try:
        assert process.stdout is not None
        assert "serving commands" in [process.stdout.readline() for _ in range(3)][-1]
        blocker = sqlite3.connect(data_dir / "journal.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the final snapshot now waits 10 s for this lock
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        took_s = time.monotonic() - signalled
    finally:
        if blocker is not None:
            blocker.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == EXIT_SHUTDOWN_DEADLINE, out + err
    assert "Traceback" not in err
    assert "shutdown took longer than 1.0 s (waiting on the runtime's actors" in out
    (line,) = [json.loads(line) for line in err.splitlines() if "shutdown_deadline" in line]
    assert line["event"] == "shutdown_deadline_exceeded"
    assert line["waiting_on"].startswith("the runtime's actors")
    assert journal_thread in " ".join(line["threads_alive"])
    # Well before the snapshot's 10 s busy wait would have let it finish.
    assert took_s < 9
    # Nothing committed is lost: the next run continues and replays nothing.
    again = subprocess.run(
        [*command[:8], "--speed", "0", "--quiet", "--no-zmq", "--no-metrics"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 feed records replayed" in again.stdout


def test_a_shutdown_that_finished_leaves_no_countdown_to_end_the_caller_later() -> None:
    deadline = ShutdownDeadline(3600)
    deadline.arm()

    deadline.disarm_if_done()

    assert deadline._timer is not None
    deadline._timer.join(timeout=5)
    assert not deadline._timer.is_alive()  # cancelled: it will never end the process


def test_a_thread_the_exit_would_wait_on_keeps_the_countdown_armed() -> None:
    release = threading.Event()
    straggler = threading.Thread(target=release.wait, name="stuck-actor")
    straggler.start()
    deadline = ShutdownDeadline(3600)
    deadline.arm()
    try:
        deadline.disarm_if_done()

        assert deadline._timer is not None
        assert deadline._timer.is_alive()
    finally:
        release.set()
        straggler.join()
        deadline._timer.cancel()  # type: ignore[union-attr]
