"""The metrics endpoint during a run: every metric of the runtime is there, and moved by
what the run did (counts are compared before and after: the registry is per process)."""

from __future__ import annotations

import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridges.metrics_exporter import serve_metrics
from bridges.simulated_broker import SimulatedBroker
from bridges.zmq_client import Client
from messages.supervision import InjectFault
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.runtime_config import BrokerConfig
from supervisors.assembly.zmq_edge import ZmqEdge
from tests.broker_edge import wait_until
from tests.stubs import arbitrage_feed

pytestmark = pytest.mark.timeout(60)
FEED = arbitrage_feed()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def enabled(runtime: Runtime) -> bool:
    reconciler = runtime.extra("reconciler")
    return reconciler is not None and bool(reconciler.proxy().trading_enabled.get())


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_metric_is_served_and_moves_with_the_run(tmp_path: Path) -> None:
    server, _thread = serve_metrics(port=0)
    port = server.server_port
    paper = SimulatedBroker(seed=4)
    try:
        before = scrape(port)
        config = RuntimeConfig(data_dir=tmp_path, broker=BrokerConfig(broker=paper, gap_s=0.2))
        with Runtime(config).start(FEED) as runtime:
            wait_until(lambda: enabled(runtime))
            runtime.replay(FEED, end=6)
            edge = ZmqEdge(
                runtime, commands="tcp://127.0.0.1:*", events="tcp://127.0.0.1:*"
            ).start()
            try:
                with Client(edge.commands_endpoint) as client:
                    for _ in range(3):
                        client.request("ping")
                    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal will do
                        client.request("lookup")
                position = runtime.supervisor.proxy().children.get()["position:m1"].ref
                position.tell(InjectFault(reason="metrics test"))
                wait_until(
                    lambda: (
                        value(scrape(port), "actor_restarts_total", kind="position")
                        > value(before, "actor_restarts_total", kind="position")
                    )
                )
                wait_until(lambda: ("callback_gap_seconds", ()) in scrape(port))
                after = scrape(port)
            finally:
                edge.stop()
    finally:
        server.shutdown()
        server.server_close()
        paper.close()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("execution_events_total", type="TradeSignal") >= 4
    assert moved("execution_events_total", type="OrderCreated") == 4
    assert moved("execution_events_total", type="Fill") >= 4
    assert moved("position_delta_latency_ms_count") >= 4
    assert moved("reconciliation_duration_ms_count") >= 1
    assert ("callback_gap_seconds", ()) in after
    assert moved("actor_restarts_total", kind="position") == 1
    assert ("mailbox_depth", (("kind", "journal"),)) in after
    assert moved("journal_commit_ms_count") >= 1
    assert moved("journal_batch_size_sum") >= moved("journal_commit_ms_count")
    assert moved("zmq_commands_total", cmd="ping", code="ok") == 3
    assert moved("zmq_commands_total", cmd="lookup", code="bad_args") == 1
    assert Decimal(str(value(after, "position_delta_latency_ms_sum"))) > 0
