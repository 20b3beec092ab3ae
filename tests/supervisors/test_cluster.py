"""Shards on a local Ray instance behind one gateway: SIGKILL a shard's process mid-feed
and the cluster ends exactly as a run never killed, while the other shard keeps serving."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.journal_store import StoreFactory
from bridges.feed_codec import write_feed
from bridges.journal_sqlite import SqliteStoreFactory
from bridges.shard_map import ShardMap
from bridges.zmq_client import Client, EventSubscriber
from messages.codec import decode
from messages.positions import PositionSnapshot
from supervisors.assembly.gateway import Gateway
from supervisors.assembly.runtime import JOURNAL_FILE
from supervisors.assembly.shard import ShardSpec, start_shards
from tools.chaos import JournalFacts, journal_facts
from tools.console import positions_table
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(180)
SHARDS = ShardMap(count=2)
A, B = 0, 1


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "cluster.jsonl"
    write_feed(generate_feed(seed=5, markets=4, updates_per_market=120), path)
    return path


class Cluster:
    """Two shards and their gateway, named apart from any other cluster on the Ray."""

    def __init__(self, name: str, journal: str, feed: Path) -> None:
        self.journal = journal
        self.gateway = Gateway(
            SHARDS,
            commands="tcp://127.0.0.1:*",
            events="tcp://127.0.0.1:*",
            ingest="tcp://127.0.0.1:*",
            cluster=name,
        )
        self.gateway.start()
        specs = [
            ShardSpec(
                index=index,
                shards=SHARDS,
                journal=journal,
                events=self.gateway.ingest_endpoint,
                feed=str(feed),
                cluster=name,
            )
            for index in range(SHARDS.count)
        ]
        self.specs = specs
        self.actors = start_shards(specs, num_cpus=0.5)

    @staticmethod
    def stores(spec: ShardSpec) -> StoreFactory:
        return spec.journal_store() or SqliteStoreFactory(spec.data_dir / JOURNAL_FILE)

    def info(self, index: int) -> dict[str, Any]:
        """The shard's ``info``, once it answers (a restarting shard answers when recovered)."""
        while True:
            try:
                return ray.get(self.actors[index].info.remote())  # type: ignore[no-any-return]
            except ray.exceptions.RayActorError:
                time.sleep(0.05)

    def finish(self) -> tuple[str, list[JournalFacts]]:
        """Wait for every shard's feed; the merged positions table and each journal."""
        assert all(ray.get([a.wait_replayed.remote(120) for a in self.actors], timeout=130))
        with Client(self.gateway.commands_endpoint, timeout_s=30) as client:
            positions = client.request("positions")["positions"]
        ray.get([actor.stop.remote() for actor in self.actors])
        for actor in self.actors:
            ray.kill(actor)
        self.gateway.stop()
        facts = [journal_facts(self.stores(spec)) for spec in self.specs]
        return positions_table([_snapshot(p) for p in positions]), facts


def _snapshot(plain: dict[str, Any]) -> PositionSnapshot:
    snapshot = decode("PositionSnapshot", json.dumps(plain))
    assert isinstance(snapshot, PositionSnapshot)
    return snapshot


def _market_of(shard: int) -> str:
    return next(f"absent-{n}" for n in range(100) if SHARDS.of_market(f"absent-{n}") == shard)


def test_a_shard_killed_mid_feed_recovers_and_the_cluster_ends_as_if_never_killed(
    local_ray: str, postgres_url: str, feed: Path, tmp_path: Path
) -> None:
    """The killed cluster journals on PostgreSQL (its restarted shard recovers from its
    schema there), the reference on journal files: the end states must still agree."""
    never_killed = Cluster("never-killed", str(tmp_path / "never-killed"), feed)
    killed = Cluster("killed", f"{postgres_url}?schema=killed", feed)
    events = EventSubscriber(killed.gateway.events_endpoint)
    try:
        before = killed.info(A)
        while before["next_step"] < before["records"] // 4:
            before = killed.info(A)
        os.kill(before["pid"], signal.SIGKILL)
        with Client(killed.gateway.commands_endpoint, timeout_s=10) as client:
            order = {"security_id": "x", "side": "BUY", "price": "0.1", "size": "1"}
            served = client.request("submit", market_id=_market_of(B), **order)
            served_ns = time.time_ns()
            assert client.request("status")["shards"][B]["up"]
            after = killed.info(A)
            status = client.request("status")

        assert "denied" in served, served  # answered by shard B, whose market it is
        assert served_ns < after["ready_ns"], "shard B answered only once shard A was back"
        assert after["pid"] != before["pid"]
        assert 0 < after["resumed_at"] < after["records"], "shard A resumed mid-feed"
        assert [s["restarts"] for s in status["shards"]] == [1, 0]
        assert {s["host"] for s in status["shards"]} == {"127.0.0.1"}

        table, facts = killed.finish()
        reference_table, reference_facts = never_killed.finish()
        assert facts == reference_facts
        assert table == reference_table
        assert all(f.orders for f in facts), "both shards must trade for this test to mean much"
        for shard_facts in facts:
            fill_ids = [fill[0] for fill in shard_facts.fills]
            assert len(fill_ids) == len(set(fill_ids)), "a fill was journaled twice"
            assert len(shard_facts.applied) == len(set(shard_facts.applied)), "applied twice"
        seen = []
        while True:
            try:
                seen.append(events.next_event(timeout_s=0.2)[1].get("shard"))
            except TimeoutError:
                break
        assert {"s0", "s1"} <= set(seen), "the gateway streams both shards' events"
    finally:
        events.close()
