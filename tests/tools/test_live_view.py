"""The live view on a terminal and off it: `tradeactors run`'s view actor, `tradeactors run`
itself on a real pseudo-terminal (and Ctrl-C there), and `tradeactors watch` against a
running runtime's ZeroMQ edge on 127.0.0.1."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridges.feed_codec import write_feed
from bridges.journal_sqlite import SqliteJournalStore
from bridges.zmq_client import Client
from messages.supervision import InjectFault
from supervisors.assembly.recovery import recover_state
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig
from supervisors.assembly.subsystems import CORE_CHILDREN
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.stubs import arbitrage_feed
from tests.tools.dashboard_events import whole_run
from tools.cli import _open_view, build_parser
from tools.client_cli import watch
from tools.dashboard import Unknown
from tools.dashboard_live import LiveDashboard, PlainView, open_view
from tools.dashboard_screen import CLEAR_BELOW, ENTER, HOME, LEAVE
from tools.feedgen import generate_feed

LOCAL = "tcp://127.0.0.1:*"
FEED = arbitrage_feed()
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class TerminalOut(io.StringIO):
    """Output that says it is a terminal; a test waits on what was written, never sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self._written = threading.Condition()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._written:
            count = super().write(text)
            self._written.notify_all()
        return count

    def wait_for(self, match: Callable[[str], bool], timeout: float = 5.0) -> bool:
        """Whether the last frame drawn ``match``es within ``timeout``."""
        with self._written:
            return self._written.wait_for(lambda: match(self.frame()), timeout)

    def frame(self) -> str:
        return last_frame(self.getvalue())


def last_frame(text: str) -> str:
    """The text of the last frame drawn, escape codes left out."""
    return _ESCAPE.sub("", text.rsplit(HOME, 1)[-1].split(CLEAR_BELOW, 1)[0])


def rows(frame: str, market_id: str) -> dict[str, list[str]]:
    """A market's rows of the positions table, by instrument, split into cells."""
    cells = [line.split() for line in frame.splitlines() if line.startswith(market_id + " ")]
    return {row[2]: row for row in cells}


@pytest.fixture
def terminal_80x24(monkeypatch: pytest.MonkeyPatch) -> None:
    """The size ``shutil.get_terminal_size`` reports; one column is kept free."""
    monkeypatch.setenv("COLUMNS", "81")
    monkeypatch.setenv("LINES", "24")


@pytest.fixture
def terminal_100x30(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "101")
    monkeypatch.setenv("LINES", "30")


@pytest.fixture
def terminal_120x30(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide enough for a restart count of every core child on one line."""
    monkeypatch.setenv("COLUMNS", "121")
    monkeypatch.setenv("LINES", "30")


@pytest.mark.timeout(20)
@pytest.mark.usefixtures("terminal_80x24")
def test_on_a_terminal_the_run_view_redraws_in_place_a_few_times_a_second() -> None:
    out = TerminalOut()
    view = open_view(out)
    assert isinstance(view, LiveDashboard)
    events = [*whole_run(), *(Unknown(kind="tick") for _ in range(5000))]
    for event in events:
        view.ref.tell(event)
    view.say("tradeactors: replay done")
    assert out.wait_for(lambda frame: f"seen      {len(events)} events" in frame)
    assert out.wait_for(lambda frame: "tradeactors: replay done" in frame)
    frame = out.frame().splitlines()
    view.close()
    text = out.getvalue()
    assert text.startswith(ENTER)
    assert text.endswith(LEAVE)
    assert 1 <= text.count(HOME) < 100  # frames, not one per event
    assert len(frame) <= 24
    assert all(len(line) <= 80 for line in frame)
    assert frame[0].startswith("tradeactors  market m2 open  net PnL 3.7938")
    assert frame[-1].split() == ["TOTAL", "3.8000", "0.0000", "0.0062", "3.7938"]


@pytest.mark.timeout(10)
def test_off_a_terminal_or_asked_plain_the_run_view_writes_a_line_per_event() -> None:
    for out, plain in ((io.StringIO(), False), (TerminalOut(), True)):
        view = open_view(out, plain=plain)
        assert isinstance(view, PlainView)
        for event in whole_run():
            view.ref.tell(event)
        view.say("tradeactors: replay done")
        view.close()
        text = out.getvalue()
        assert "\x1b" not in text
        lines = text.splitlines()
        assert lines[0] == "== market m1 opened (m1-YES, m1-NO)"
        assert "   order O1 BUY 10 m1-YES @ 0.40" in lines
        assert "   fill  O2 filled 4/10 avg 0.5500 -> PARTIALLY_FILLED" in lines
        assert "== position m1 settled: realized 3.8000 fees 0.0062" in lines
        assert lines[-1] == "tradeactors: replay done"


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("terminal_120x30")
def test_the_run_view_counts_restarts_by_kind_and_follows_the_core_across_them(
    tmp_path: Path,
) -> None:
    out = TerminalOut()
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(FEED) as runtime:
        view = open_view(out)
        try:
            runtime.subscribe(view.ref)
            runtime.replay(FEED, end=4)  # the first fills
            risk = runtime.risk
            assert risk is not None
            risk.tell(InjectFault(reason="test"))  # the root restarts the whole core
            assert out.wait_for(lambda frame: "  risk 1" in frame)
            runtime.refresh()
            runtime.replay(FEED)
            runtime.wait_idle()
            assert out.wait_for(lambda frame: "m1  resolved  m1-YES wins" in frame)
            assert out.wait_for(lambda frame: "TOTAL" in frame and "2.9430" in frame)
        finally:
            view.close()
    frame = out.frame().splitlines()
    restarts = frame[3].split()
    assert restarts[0] == "restarts"
    assert dict(zip(restarts[1::2], restarts[2::2], strict=True)) == dict.fromkeys(
        CORE_CHILDREN, "1"
    )
    assert frame[-1].split() == ["TOTAL", "3.0000", "0.0000", "0.0570", "2.9430"]


# `tradeactors run` on a real pseudo-terminal.


@pytest.fixture(scope="module")
def small_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "small.jsonl"
    write_feed(generate_feed(seed=3, markets=2, updates_per_market=80), path)
    return path


def run_on_a_terminal(
    tmp_path: Path, *args: str, interrupt: bool = False
) -> tuple[int | None, str]:
    """Exit status and everything written to the terminal (100x30) by `tradeactors run`;
    with ``interrupt``, Ctrl-C once the second frame is drawn."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    command = [sys.executable, "-m", "tools.cli", "run", "--data-dir", str(tmp_path / "data")]
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--no-zmq", "--no-metrics", *args],
            stdin=slave,
            stdout=slave,
            stderr=stderr,
        )
    os.close(slave)
    written = b"".join(_read_until_closed(master, process, interrupt=interrupt))
    os.close(master)
    status = process.wait(timeout=30)
    return status, written.decode().replace("\r\n", "\n")


def _read_until_closed(
    master: int, process: subprocess.Popen[bytes], *, interrupt: bool
) -> Iterator[bytes]:
    deadline = time.monotonic() + 60
    frames = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every end of the terminal's other side is closed
            return
        if not chunk:
            return
        frames += chunk.count(HOME.encode())
        if interrupt and frames >= 2:
            process.send_signal(signal.SIGINT)
            interrupt = False
        yield chunk
    process.kill()
    raise AssertionError("tradeactors run did not finish")


@pytest.mark.timeout(90)
def test_run_on_a_terminal_draws_the_dashboard_then_leaves_the_final_table(
    small_feed: Path, tmp_path: Path
) -> None:
    status, text = run_on_a_terminal(tmp_path, "--feed", str(small_feed), "--speed", "0")
    assert status == 0, (tmp_path / "stderr").read_text()
    before, dashboard = text.split(ENTER)
    assert before.startswith("tradeactors: feed")
    drawn, after = dashboard.split(LEAVE)
    assert HOME in drawn
    frame = last_frame(drawn).splitlines()
    assert frame[0].startswith("tradeactors  ")  # which market: however far the run had got
    assert all(len(line) < 100 for line in frame)
    assert "feed records replayed" in after
    assert after.rstrip().splitlines()[-1].startswith("TOTAL")


@pytest.mark.timeout(90)
def test_ctrl_c_on_the_dashboard_gives_the_terminal_back_before_it_says_so(
    small_feed: Path, tmp_path: Path
) -> None:
    status, text = run_on_a_terminal(
        tmp_path, "--feed", str(small_feed), "--speed", "1", interrupt=True
    )
    assert status == 130
    assert ENTER in text
    after = text.split(LEAVE)[1]
    assert "tradeactors: interrupted" in after


@pytest.mark.timeout(90)
def test_run_plain_on_a_terminal_writes_lines(small_feed: Path, tmp_path: Path) -> None:
    status, text = run_on_a_terminal(tmp_path, "--feed", str(small_feed), "--speed", "0", "--plain")
    assert status == 0
    assert "\x1b" not in text
    assert "== market btc-up-0001 opened" in text


# `tradeactors watch` against a running runtime.


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[Runtime, ZmqEdge]]:
    with Runtime(RuntimeConfig(data_dir=tmp_path / "data")).start(FEED) as runtime:
        runtime.replay(FEED, end=3)  # m1 is open; nothing traded yet
        started = ZmqEdge(runtime, commands=LOCAL, events=LOCAL).start()
        try:
            yield runtime, started
        finally:
            started.stop()


def watching(edge: ZmqEdge, out: TerminalOut, *flags: str) -> tuple[threading.Thread, Any]:
    args = build_parser().parse_args(
        [
            "watch",
            *flags,
            "--endpoint",
            edge.commands_endpoint,
            "--events-endpoint",
            edge.events_endpoint,
        ]
    )
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(args, out, stop), daemon=True)
    thread.start()
    return thread, stop


def deny_until(edge: ZmqEdge, seen: Callable[[], bool]) -> None:
    """Send signals the runtime denies (an unknown market) until ``seen`` says one arrived:
    a SUB socket hears nothing until its subscription has reached the publisher."""
    with Client(edge.commands_endpoint) as client:
        for _ in range(50):
            answer = client.request(
                "submit", market_id="zz", security_id="zz-YES", side="BUY", price="0.1", size="1"
            )
            assert answer == {"denied": "no position for market zz"}
            if seen():
                return
    raise AssertionError("the watch never heard an event")


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("terminal_100x30")
def test_watch_folds_the_stream_into_the_dashboard_with_the_runtime_s_positions(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    runtime, server = edge
    out = TerminalOut()
    thread, stop = watching(server, out)
    try:
        assert out.wait_for(lambda frame: "on a snapshot from" in frame)
        assert rows(out.frame(), "m1")["YES"][:4] == ["m1", "OPEN", "YES", "0"]  # seeded
        deny_until(server, lambda: out.wait_for(lambda frame: " denied" in frame, timeout=0.3))
        runtime.replay(FEED)  # the trades, the close and the resolution
        runtime.wait_idle()
        assert out.wait_for(lambda frame: "m1  resolved  m1-YES wins" in frame)
        assert out.wait_for(lambda frame: "SETTLED" in frame)
        risk = runtime.risk
        assert risk is not None
        risk.tell(InjectFault(reason="test"))  # restarts the core: supervision.tradeactors
        assert out.wait_for(lambda frame: "  risk 1" in frame and "  journal 1" in frame)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert out.getvalue().endswith(LEAVE)
    frame = out.frame().splitlines()
    assert "seen" in frame[2]
    assert "  4 orders  4 fills  4 deltas  " in frame[2]
    (settled,) = runtime.positions()
    shown = rows(out.frame(), "m1")
    for leg in settled.legs:
        row = shown[leg.security_id.removeprefix("m1-")]
        assert row[1] == "SETTLED"
        assert row[5:] == [
            f"{leg.realized_pnl:.4f}",
            f"{leg.unrealized_pnl:.4f}",
            f"{leg.fees:.4f}",
            f"{leg.realized_pnl + leg.unrealized_pnl - leg.fees:.4f}",
        ]
    assert frame[-1].split() == ["TOTAL", "3.0000", "0.0000", "0.0570", "2.9430"]


@pytest.mark.timeout(30)
def test_watch_plain_on_a_terminal_writes_a_line_per_event(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    _, server = edge
    out = TerminalOut()
    thread, _ = watching(server, out, "order.", "--plain", "--count", "1")

    def finished() -> bool:
        thread.join(timeout=0.3)
        return not thread.is_alive()

    deny_until(server, finished)
    (line,) = out.getvalue().splitlines()
    assert line.split()[1:3] == ["order.zz", "OrderDenied"]
    assert "denied:" in line  # what happened, not only its kind


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("terminal_100x30")
def test_watch_joining_mid_run_shows_the_open_market_from_the_snapshot(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    _, server = edge  # m1 opened before the watch started: no event of it will come
    out = TerminalOut()
    thread, stop = watching(server, out)
    try:
        assert out.wait_for(lambda frame: "on a snapshot from" in frame)
        frame = out.frame()
    finally:
        stop.set()
        thread.join(timeout=5)
    assert "market m1 open" in frame.splitlines()[0]
    assert "MARKETS (1)" in frame
    assert "* m1  open" in frame


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("terminal_100x30")
def test_a_resumed_run_s_dashboard_starts_from_the_journal_s_truth(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Runtime(RuntimeConfig(data_dir=data)).start(FEED) as first:
        first.replay(FEED, end=5)  # m1 open, 3 orders filled, the NO one resting
    state, _ = recover_state(SqliteJournalStore(data / JOURNAL_FILE))
    (book,) = state.positions.values()
    journal = {leg.security_id: leg for leg in book.snapshot().legs}
    assert journal["m1-YES"].quantity == 60
    with Runtime(RuntimeConfig(data_dir=data)).start(FEED) as runtime:
        # Marked at the mids of the books rebuilt from the feed: the journal keeps no marks.
        (marked,) = runtime.positions()
        net = sum(leg.realized_pnl + leg.unrealized_pnl - leg.fees for leg in marked.legs)
        out = TerminalOut()
        view = _open_view(build_parser().parse_args(["run"]), out, runtime)
        try:
            assert out.wait_for(lambda frame: f"net PnL {net:.4f}" in frame)
            frame = out.frame()
            assert "market m1 open" in frame.splitlines()[0]
            shown = rows(frame, "m1")
            for leg in marked.legs:
                truth = journal[leg.security_id]
                row = shown[leg.security_id.removeprefix("m1-")]
                assert row[3] == str(truth.quantity)
                assert row[5:] == [
                    f"{truth.realized_pnl:.4f}",
                    f"{leg.unrealized_pnl:.4f}",
                    f"{truth.fees:.4f}",
                    f"{truth.realized_pnl + leg.unrealized_pnl - truth.fees:.4f}",
                ]
            assert "OPEN ORDERS (1)" in frame
            assert re.search(r"O4 +m1-NO +BUY +0\.50 +0/30 +ACCEPTED", frame)
            runtime.replay(FEED)  # the resumed run goes on: a fill, the close, the resolution
            runtime.wait_idle()
            assert out.wait_for(lambda frame: "m1  resolved  m1-YES wins" in frame)
            assert out.wait_for(lambda frame: "net PnL 2.9430" in frame)
        finally:
            view.close()


@pytest.mark.timeout(40)
@pytest.mark.usefixtures("terminal_120x30")
def test_a_manual_order_that_makes_the_strategy_stand_aside_says_so_on_both_dashboards(
    edge: tuple[Runtime, ZmqEdge],
) -> None:
    runtime, server = edge
    run_out, watch_out = TerminalOut(), TerminalOut()
    view = _open_view(build_parser().parse_args(["run"]), run_out, runtime)
    thread, stop = watching(server, watch_out)
    aside = "strategy stands aside: manual order O1 BUY m1-YES is open (pending-flag guard)"
    try:
        assert watch_out.wait_for(lambda frame: "on a snapshot from" in frame)
        with Client(server.commands_endpoint) as client:
            answer = client.request(
                "submit", market_id="m1", security_id="m1-YES", side="BUY", price="0.10", size="5"
            )
            assert answer == {"order_id": "O1"}
            runtime.wait_idle()  # its pending flag is on the position the strategy reads
            runtime.replay(FEED, end=5)  # an arbitrage the strategy would take: it stands aside
            runtime.wait_idle()
            assert [order.order_id for order in runtime.orders()] == ["O1"]
            for out in (run_out, watch_out):
                assert out.wait_for(lambda frame: aside in frame)
                frame = out.frame()
                assert "(strategy aside: manual O1 open)" in frame.splitlines()[0]
                assert re.search(r"O1 \(manual\) +m1-YES +BUY +0\.10 +0/5 +ACCEPTED", frame)
            client.request("cancel", order_id="O1")
            for out in (run_out, watch_out):
                assert out.wait_for(lambda frame: "OPEN ORDERS: none" in frame)
                assert "stands aside" not in out.frame()
    finally:
        stop.set()
        thread.join(timeout=5)
        view.close()


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("terminal_100x30")
def test_the_watch_dashboard_says_when_the_server_goes_away_and_when_it_is_back(
    tmp_path: Path,
) -> None:
    with Runtime(RuntimeConfig(data_dir=tmp_path / "data")).start(FEED) as runtime:
        first = ZmqEdge(runtime, commands=LOCAL, events=LOCAL, heartbeat_s=0.1).start()
        commands, events = first.commands_endpoint, first.events_endpoint
        out = TerminalOut()
        thread, stop = watching(first, out)
        second: ZmqEdge | None = None
        try:
            assert out.wait_for(lambda frame: "on a snapshot from" in frame)
            first.stop()
            assert out.wait_for(lambda frame: "the server is gone or stopped" in frame)
            second = ZmqEdge(runtime, commands=commands, events=events, heartbeat_s=0.1).start()
            assert out.wait_for(lambda frame: f"{events} is back" in frame)
        finally:
            stop.set()
            thread.join(timeout=5)
            if second is not None:
                second.stop()
    assert not thread.is_alive()
