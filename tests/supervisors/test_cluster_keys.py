"""CURVE between a gateway and its shards: the ingest admits holders of the cluster's key
only, and the keys are checked before a cluster starts (no Ray needed for either)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq.auth

from bridges.cluster_keys import ClusterKeys
from bridges.shard_map import ShardMap
from bridges.zmq_client import EventSubscriber
from messages.markets import MarketClosed
from supervisors.assembly.gateway import Gateway
from supervisors.assembly.shard import ShardEvents

pytestmark = pytest.mark.timeout(30)
ANY = "tcp://127.0.0.1:*"


def _pair(directory: Path, name: str = "cluster") -> ClusterKeys:
    directory.mkdir(parents=True, exist_ok=True)
    _public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, 0o600)
    return ClusterKeys(directory)


@pytest.fixture
def keys(tmp_path: Path) -> ClusterKeys:
    return _pair(tmp_path / "cluster").check()


@pytest.fixture
def gateway(keys: ClusterKeys) -> Iterator[Gateway]:
    gateway = Gateway(ShardMap(count=2), commands=ANY, events=ANY, ingest=ANY, keys=keys)
    gateway.start()
    yield gateway
    gateway.stop()


def test_the_ingest_takes_events_from_members_only(
    gateway: Gateway, keys: ClusterKeys, tmp_path: Path
) -> None:
    outsiders = [
        ShardEvents.start("plain", gateway.ingest_endpoint),
        ShardEvents.start("forged", gateway.ingest_endpoint, _pair(tmp_path / "other")),
    ]
    member = ShardEvents.start("s0", gateway.ingest_endpoint, keys)
    subscriber = EventSubscriber(gateway.events_endpoint, ("market.",))
    seen: list[str] = []
    try:
        # PUB/SUB joins late: every side sends until the member's events have come through.
        for round_ in range(400):
            for actor in (*outsiders, member):
                actor.ask(MarketClosed(ts_event=round_, market_id=f"M{round_}"))
            try:
                while True:
                    seen.append(subscriber.next_event(timeout_s=0.01)[1]["shard"])
            except TimeoutError:
                pass
            if seen.count("s0") >= 20:
                break
        assert seen.count("s0") >= 20, seen
        assert set(seen) == {"s0"}, seen
    finally:
        subscriber.close()
        for actor in (*outsiders, member):
            actor.stop()


def test_keys_that_would_admit_others_are_refused(tmp_path: Path) -> None:
    keys = _pair(tmp_path / "keys")
    _pair(tmp_path / "keys", name="laptop")
    with pytest.raises(ValueError, match=r"laptop\.key would be admitted too"):
        keys.check()


def test_a_secret_others_can_read_is_refused(keys: ClusterKeys) -> None:
    keys.secret_file.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others; chmod 600"):
        keys.check()


def test_missing_keys_say_how_to_write_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tradeactors keygen .* --name cluster"):
        ClusterKeys(tmp_path).check()
