"""`tradeactors run --speed 0` while clients submit and cancel, as a real subprocess (issue
14, point 4): the lockstep replay finishes, and every order a client was told about is in
the journal. Before, the replay died within a few hundred steps with ``runtime still busy
after 10.0 s``: a step waited for quiet that the clients never left it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from actors.journal_decode import decode_trusted
from bridges.journal_sqlite import SqliteJournalStore
from bridges.zmq_client import Client
from bridges.zmq_protocol import CommandError
from messages.journal import OrderCreated, StepCommitted, StepStarted

pytestmark = pytest.mark.timeout(240)

RECORDS = 80
MARKET = "btc-up-0001"


def _run(data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tools.cli",
        "run",
        "--data-dir",
        str(data_dir),
        "--speed",
        "0",
        "--records",
        str(RECORDS),
        "--quiet",
        "--no-metrics",
        "--commands-endpoint",
        "tcp://127.0.0.1:*",
        "--events-endpoint",
        "tcp://127.0.0.1:*",
    ]


def _trade(
    endpoint: str, stop: threading.Event, acknowledged: list[str], errors: list[str]
) -> None:
    """Submit and cancel as fast as the runtime answers, until the run ends."""
    with Client(endpoint, timeout_s=10) as client:
        while not stop.is_set():
            try:
                client.request("status")
                placed = client.request(
                    "submit",
                    market_id=MARKET,
                    security_id=f"{MARKET}-YES",
                    side="BUY",
                    price="0.10",
                    size="1",
                )
                if "order_id" in placed:
                    acknowledged.append(placed["order_id"])
                    client.request("cancel", order_id=placed["order_id"])
            except (CommandError, TimeoutError) as error:
                errors.append(repr(error))


def test_a_lockstep_replay_with_clients_submitting_and_cancelling_finishes(
    tmp_path: Path,
) -> None:
    stop = threading.Event()
    acknowledged: list[str] = []
    errors: list[str] = []
    with subprocess.Popen(
        _run(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        header = process.stdout.readline() + process.stdout.readline()
        endpoint = header.split("commands on ")[1].split(", events on ")[0]
        clients = [
            threading.Thread(target=_trade, args=(endpoint, stop, acknowledged, errors))
            for _ in range(3)
        ]
        for client in clients:
            client.start()
        try:
            out, err = process.communicate(timeout=200)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert f"{RECORDS} feed records replayed" in out
    assert len(acknowledged) >= 10, (acknowledged, errors[:5])
    store = SqliteJournalStore(tmp_path / "journal.sqlite")
    try:
        events = [decode_trusted(record.kind, record.payload) for record in store.read()]
    finally:
        store.close()
    created = {event.order_id for event in events if isinstance(event, OrderCreated)}
    assert set(acknowledged) <= created
    during = _units_of_orders_created_during_the_replay(events, set(acknowledged))
    assert during, "no client order was created while the replay drove"
    assert all(unit is not None and unit.unit > 0 for unit in during), during


def _units_of_orders_created_during_the_replay(
    events: list[object], orders: set[str]
) -> list[StepStarted | None]:
    """The step or unit each of ``orders`` was created in, for those created between the
    replay's first step and its last feed step's commit (before and after it a command runs
    at once, outside any unit)."""
    last_feed_step = max(e.step for e in events if isinstance(e, StepStarted) and e.unit == 0)
    inside: StepStarted | None = None
    started = over = False
    units: list[StepStarted | None] = []
    for event in events:
        if isinstance(event, StepStarted):
            inside, started = event, True
        elif isinstance(event, StepCommitted):
            inside = None
            over = over or (event.unit == 0 and event.step == last_feed_step)
        elif isinstance(event, OrderCreated) and event.order_id in orders and started and not over:
            units.append(inside)
    return units
