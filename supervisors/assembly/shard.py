"""A shard: one runtime tree for its part of the markets (or one account), in a Ray actor.

Ray places the actor, and when its process dies starts it again (``max_restarts=-1``), on
any node. The constructor is the recovery: it opens the shard's own journal, rebuilds the
tree from it and resumes the feed where the journal ends; Ray delivers no call before the
constructor has returned, and the gateway learns the shard's command socket from such a
call (``info``), so a shard takes commands only once recovered. Nothing is sent twice:
Ray never retries a call (``max_task_retries=0``), and the gateway resends reads only (a
change the dead process may have journaled must not run a second time).

A shard shares nothing mutable with another: its own journal, its own order ids
(``<shard>-O<n>``), its own event sequence numbers, which it sends, with its id in each
event, to the gateway's ingest socket.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pykka
import ray
import zmq
from ray._private import ray_constants

from actors.journal import JournalConfig
from actors.journal_store import StoreFactory
from bridges.cluster_keys import ClusterKeys
from bridges.feed_codec import FeedRecord, read_feed
from bridges.shard_map import NAMESPACE, ShardMap, shard_name
from bridges.zmq_events import topics_of
from bridges.zmq_protocol import CommandError, Request, encode_event
from bridges.zmq_server import ZmqServer
from messages.markets import MarketOpened
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.assembly.zmq_commands import Commands
from supervisors.kernel.virtual_time import VirtualTimeKernel

POSTGRESQL = ("postgresql://", "postgres://")


def start_local_ray(num_cpus: int = 2, **options: Any) -> None:
    """A Ray instance on this machine, on loopback only, without its dashboard.

    Ray replaces ``127.0.0.1`` by the machine's routable address unless clusters are off
    (its switch for desktops): turned off here, and for the processes it starts.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        namespace=NAMESPACE,
        log_to_driver=False,
        configure_logging=False,
        **options,
    )


def market_of(record: FeedRecord) -> str:
    return record.definition.market_id if isinstance(record, MarketOpened) else record.market_id


@attrs.frozen(kw_only=True)
class ShardSpec:
    """What one shard is: everything its constructor needs, so a restart rebuilds it.

    ``journal`` is where the shards' journals live: a ``postgresql://`` URL (each shard's
    journal is its own schema there, ``<schema>_<shard>``, so a shard restarted on any node
    recovers from it; the data dir, which holds only the lock then, is under the node's
    temp dir), or a directory under which each shard keeps its journal directory
    (``<root>/<shard>``: on one machine it outlives a shard's process as a database server
    would). ``events`` is the gateway's ingest endpoint the shard connects to.
    """

    index: int
    shards: ShardMap
    journal: str
    events: str
    feed: str | None = None
    snapshot_every: int = 40
    cluster: str = NAMESPACE
    """The Ray namespace the cluster's actors are named in (two clusters on one Ray)."""
    keys: ClusterKeys | None = None
    """CURVE on the shard's command socket and event PUB (the gateway's ``keys``)."""

    @property
    def shard_id(self) -> str:
        return shard_name(self.index)

    @property
    def on_postgresql(self) -> bool:
        return self.journal.startswith(POSTGRESQL)

    @property
    def data_dir(self) -> Path:
        if self.on_postgresql:
            return Path(tempfile.gettempdir()) / f"tradeactors-{self.cluster}" / self.shard_id
        scheme, _, rest = self.journal.partition("://")
        if not rest:
            return Path(self.journal) / self.shard_id
        if scheme == "file":
            return Path(rest) / self.shard_id
        raise ValueError(
            f"journal {self.journal!r}: a shard's journal is a directory or a postgresql:// URL"
        )

    def journal_store(self) -> StoreFactory | None:
        """The shard's own schema of the PostgreSQL journal; None for a journal directory."""
        if not self.on_postgresql:
            return None
        from bridges.journal_postgres import PostgresStoreFactory  # noqa: PLC0415 (psycopg)

        database = PostgresStoreFactory.from_url(self.journal)
        return attrs.evolve(database, schema=f"{database.schema}_{self.shard_id}")

    @property
    def account(self) -> str:
        return self.shards.accounts[self.index] if self.shards.accounts else "paper"

    def records(self) -> list[FeedRecord]:
        """The feed's records this shard trades on: its markets', or all (account shards)."""
        if self.feed is None:
            return []
        records = list(read_feed(Path(self.feed)))
        if self.shards.accounts:
            return records
        return [r for r in records if self.shards.of_market(market_of(r)) == self.index]

    def config(self) -> RuntimeConfig:
        return RuntimeConfig(
            scheduler=VirtualTimeKernel(),
            data_dir=self.data_dir,
            journal_store=self.journal_store(),
            account=self.account,
            order_prefix=f"{self.shard_id}-O",
            journal=JournalConfig(snapshot_every=self.snapshot_every),
        )


class ShardEvents(pykka.ThreadingActor):
    """The shard's event stream: each event with ``seq`` per topic and ``shard``, on a PUB
    socket connected to the gateway (it reconnects by itself if the gateway restarts)."""

    def __init__(self, shard_id: str, endpoint: str, keys: ClusterKeys | None = None) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.keys = keys
        self.suffix = f',"shard":"{shard_id}"}}'.encode()
        self.seq: dict[str, int] = {}
        self.socket: zmq.Socket[bytes] | None = None

    def on_start(self) -> None:
        self.socket = zmq.Context.instance().socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        if self.keys is not None:
            self.keys.apply_client(self.socket)
        self.socket.connect(self.endpoint)

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close(0)

    def on_receive(self, message: Any) -> None:
        assert self.socket is not None
        for topic, payload in topics_of(message):
            seq = self.seq[topic] = self.seq.get(topic, 0) + 1
            # The document is one JSON object: the shard's id goes before its closing brace.
            document = encode_event(seq, payload)[:-1] + self.suffix
            try:
                self.socket.send_multipart([topic.encode(), document], zmq.NOBLOCK)
            except zmq.Again:
                continue  # the gateway is behind or away: its clients see a seq gap


class ShardHost:
    """One shard's process: its runtime recovered and replaying, commands answered."""

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.records = spec.records()
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        self.started_ns = time.time_ns()
        self.runtime = Runtime(spec.config()).start(self.records)
        self.resumed_at = self.runtime.next_step
        self.commands = Commands(self.runtime)
        self.events = ShardEvents.start(spec.shard_id, spec.events, spec.keys)
        self.runtime.subscribe(self.events)
        # The gateway's commands come over ZeroMQ, a hop far cheaper than a Ray call; its
        # event socket stays unused (events go to the gateway's ingest).
        host = ray.util.get_node_ip_address()
        self.server = ZmqServer(
            self.commands.handle,
            commands=f"tcp://{host}:*",
            events=f"tcp://{host}:*",
            curve=None if spec.keys is None else spec.keys.server(),
        ).start()
        self._stop = threading.Event()
        self._replayed = threading.Event()
        self._replay = threading.Thread(target=self._run_feed, name="shard-replay", daemon=True)
        self._replay.start()
        self.ready_ns = time.time_ns()
        """When this incarnation took its first call: recovered, its feed resumed."""

    def _run_feed(self) -> None:
        self.runtime.replay(self.records, stop=self._stop)
        self._replayed.set()

    def handle(self, cmd: str, args: dict[str, Any]) -> tuple[Any, ...]:
        """A command over Ray (``status``, answered with Ray's own view of the shard):
        ("ok", result) or ("error", code, message), plain values Ray carries."""
        try:
            return ("ok", self.commands.handle(Request(id="", cmd=cmd, args=args)))
        except CommandError as error:
            return ("error", error.code, error.message)

    def info(self) -> dict[str, Any]:
        """Where the shard runs and how far its feed is (for ``status``)."""
        context = ray.get_runtime_context()
        return {
            "shard": self.spec.shard_id,
            "pid": os.getpid(),
            "node": context.get_node_id(),
            "host": ray.util.get_node_ip_address(),
            "started_ns": self.started_ns,
            "ready_ns": self.ready_ns,
            "resumed_at": self.resumed_at,
            "next_step": self.runtime.next_step,
            "records": len(self.records),
            "replayed": self._replayed.is_set(),
            "journal": str(self.spec.data_dir),
            "commands": self.server.bound_commands,
        }

    def wait_replayed(self, timeout_s: float) -> bool:
        return self._replayed.wait(timeout_s)

    def stop(self) -> None:
        """Stop the feed and the tree: the journal commits and snapshots as it stops."""
        self._stop.set()
        self._replay.join(timeout=30)
        self.server.stop()
        self.events.stop()
        self.runtime.stop()


ShardActor = ray.remote(  # type: ignore[call-overload]
    max_restarts=-1, max_task_retries=0, max_concurrency=16
)(ShardHost)
"""The shard as a Ray actor: threaded (concurrent commands, as the edge's worker pool),
restarted without limit, its calls never retried (a change is not applied twice)."""


def start_shards(
    specs: Sequence[ShardSpec], *, detached: bool = False, num_cpus: float = 1.0
) -> list[Any]:
    """The shards' actors, named ``s<i>`` in their cluster's namespace (found, not doubled,
    if they run already); ``detached`` ones outlive the process that started them."""
    return [
        ShardActor.options(  # type: ignore[attr-defined]
            name=spec.shard_id,
            namespace=spec.cluster,
            get_if_exists=True,
            lifetime="detached" if detached else None,
            num_cpus=num_cpus,
        ).remote(spec)
        for spec in specs
    ]
