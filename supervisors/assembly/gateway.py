"""One ZeroMQ edge for a cluster of shards: docs/PROTOCOL.md, unchanged, in front of N.

Commands go to the shard their arguments name (``ShardMap``: market, account, order id),
over ZeroMQ to the shard's own command socket (which Ray tells: ``info``);
``status``, ``positions``, ``snapshot``, ``lookup`` ask every shard and merge;
``set_limits`` and ``reconcile`` go to every shard. Events: each shard's PUB connects to
the gateway's ingest SUB; the gateway puts them out unchanged on its PUB, so each keeps
its shard's ``seq`` and names its ``shard``. With ``keys`` (``ClusterKeys``) both links
between the gateway and its shards are CURVE, as the clients' sockets are with ``curve``.

A command for one shard whose endpoint the gateway knows is passed on by the socket thread
itself (``bridges.zmq_relay``: no worker thread waits on the shard); the first one for a
shard, and any after a shard stopped answering, goes by a worker, which asks Ray where the
shard is now.

The gateway holds nothing a restart loses: the routing is a function, the shards are
found by name in Ray and their endpoints asked of them, their state is in their journals.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import ray
import zmq
from ray._private import state as ray_state
from ray.exceptions import GetTimeoutError, RayActorError

from bridges.cluster_keys import ClusterKeys
from bridges.shard_map import DEFAULT_INGEST, NAMESPACE, ShardMap, shard_name
from bridges.zmq_client import Client
from bridges.zmq_protocol import CommandError, ErrorCode, Request
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS, ZmqServer, serve_curve
from supervisors.assembly.zmq_commands import command_names

READ_TRY_S = 2.0
"""How long a read waits for one try: then the shard's endpoint is asked again (it may
have restarted elsewhere) and the read sent again."""
READ_WAIT_S = 60.0
"""How long a read waits for a restarting shard (a core restart's wait in a runtime)."""
CHANGE_WAIT_S = 15.0
"""Longest wait for a change's answer: ``submit`` waits 5 s in its shard."""

_BROADCAST_CHANGES = frozenset({"set_limits", "reconcile"})
_MERGED_READS = frozenset({"positions", "snapshot", "lookup"})
_NOT_ONE_SHARDS = frozenset({"ping", "status"}) | _BROADCAST_CHANGES | _MERGED_READS


class _ShardRelay:
    """The gateway's ``Relay``: a command for one shard goes straight to the shard's command
    socket once the gateway knows it; a shard that left one unanswered is asked of Ray again."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.timeout_s = CHANGE_WAIT_S
        self.curve = None if gateway.keys is None else gateway.keys.client()
        self.commands = frozenset(command_names()) - _NOT_ONE_SHARDS

    def route(self, request: Request) -> str | None:
        if request.cmd not in self.commands:
            return None
        index = self.gateway.shards.of_args(request.args)
        return self.gateway.endpoints.get(0 if index is None else index)

    def lost(self, endpoint: str) -> None:
        for index, known in list(self.gateway.endpoints.items()):
            if known == endpoint:
                self.gateway.endpoints.pop(index, None)


class Gateway:
    """``start()`` binds the command, event and ingest sockets; ``stop()`` unbinds."""

    def __init__(
        self,
        shards: ShardMap,
        *,
        commands: str = DEFAULT_COMMANDS,
        events: str = DEFAULT_EVENTS,
        ingest: str = DEFAULT_INGEST,
        read_wait_s: float = READ_WAIT_S,
        cluster: str = NAMESPACE,
        keys: ClusterKeys | None = None,
        **server_options: Any,
    ) -> None:
        self.shards = shards
        self.keys = keys
        self.read_wait_s = read_wait_s
        self.cluster = cluster
        self._actors: list[Any] = []
        self.endpoints: dict[int, str] = {}
        """Each shard's command socket, as Ray last told it (workers and the relay share it:
        single dict operations)."""
        self._local = threading.local()
        self._clients: set[Client] = set()
        """Every worker thread's clients, closed when the gateway stops."""
        self._clients_lock = threading.Lock()
        self.server = ZmqServer(
            self.handle,
            commands=commands,
            events=events,
            relay=_ShardRelay(self),
            **server_options,
        )
        self.ingest = ingest
        self.instance = {"pid": os.getpid(), "started_ns": time.time_ns(), "gateway": True}
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._bound_ingest = ingest
        self._thread: threading.Thread | None = None

    @property
    def actors(self) -> list[Any]:
        """The shards' actor handles, found by name on first use (they may start after the
        gateway, which gives them its ingest endpoint); Ray keeps a handle across restarts."""
        if not self._actors:
            self._actors = [
                ray.get_actor(shard_name(index), namespace=self.cluster)
                for index in range(self.shards.count)
            ]
        return self._actors

    @property
    def commands_endpoint(self) -> str:
        return self.server.bound_commands

    @property
    def events_endpoint(self) -> str:
        return self.server.bound_events

    @property
    def ingest_endpoint(self) -> str:
        return self._bound_ingest

    def start(self) -> Gateway:
        self.server.start()
        self._thread = threading.Thread(target=self._forward, name="gateway-ingest", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.server.stop()
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def _forward(self) -> None:
        """Every shard's events, as they come, onto the clients' PUB socket."""
        context = zmq.Context()
        sub: zmq.Socket[bytes] = context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        # With cluster keys, the ingest takes events from holders of the cluster's key only.
        auth = None if self.keys is None else serve_curve(context, self.keys.server(), sub)
        sub.bind(self.ingest)
        self._bound_ingest = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        self._ready.set()
        try:
            while not self._stopping.is_set():
                if sub.poll(200):
                    while True:
                        try:
                            topic, payload = sub.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self.server.publish(topic.decode(), payload)
        finally:
            sub.close(0)
            if auth is not None:
                auth.stop()
            context.term()

    # -- commands ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Any:
        cmd, args = request.cmd, request.args
        if cmd == "ping":
            return {"pong": True, "ts": time.time_ns()}
        if cmd not in command_names():
            raise CommandError(
                ErrorCode.UNKNOWN_COMMAND,
                f"unknown command {cmd!r}; known: {', '.join(command_names())}",
            )
        if cmd == "status":
            return self.status()
        if cmd in _MERGED_READS:
            return _merge(cmd, [self._read(index, cmd, args) for index in self._all()])
        if cmd in _BROADCAST_CHANGES:
            # Every shard applies it; each answers alike, with its own runtime's result.
            answers = [self._change(index, cmd, args) for index in self._all()]
            return answers[0]
        index = self.shards.of_args(args)
        # Arguments that name no shard are refused by a shard as a runtime refuses them.
        return self._change(0 if index is None else index, cmd, args)

    def _all(self) -> range:
        return range(self.shards.count)

    def _read(self, index: int, cmd: str, args: dict[str, Any]) -> Any:
        """A read from one shard, waiting for it through a restart (reads are safe again)."""
        deadline = time.monotonic() + self.read_wait_s
        while True:
            try:
                return self._send(index, cmd, args, READ_TRY_S)
            except (RayActorError, GetTimeoutError, TimeoutError) as error:
                if time.monotonic() > deadline:
                    raise CommandError(
                        ErrorCode.UNAVAILABLE,
                        f"shard {shard_name(index)} could not answer now ({error}); retry",
                    ) from None
                time.sleep(0.1)

    def _change(self, index: int, cmd: str, args: dict[str, Any]) -> Any:
        """A change, sent once: if its shard died meanwhile, the effect is unknown."""
        try:
            return self._send(index, cmd, args, CHANGE_WAIT_S)
        except (RayActorError, GetTimeoutError, TimeoutError) as error:
            raise CommandError(
                ErrorCode.INTERNAL,
                f"shard {shard_name(index)} did not answer {cmd} ({type(error).__name__}); "
                "the effect is unknown: check state before sending it again",
            ) from None

    def _send(self, index: int, cmd: str, args: dict[str, Any], timeout_s: float) -> Any:
        """One request to the shard's command socket, from this worker thread's own client
        (a ZeroMQ socket is one thread's). No answer: the endpoint is asked again next."""
        endpoint = self.endpoints.get(index)
        if endpoint is None:
            info = ray.get(self.actors[index].info.remote(), timeout=timeout_s)
            endpoint = self.endpoints[index] = info["commands"]
        clients: dict[str, Client] = self._local.__dict__.setdefault("clients", {})
        client = clients.get(endpoint)
        if client is None:
            curve = None if self.keys is None else self.keys.client()
            client = clients[endpoint] = Client(endpoint, curve=curve)
            with self._clients_lock:
                self._clients.add(client)
        client.timeout_ms = int(timeout_s * 1000)
        try:
            return client.request(cmd, **args)
        except TimeoutError:
            self.endpoints.pop(index, None)
            with self._clients_lock:
                self._clients.discard(client)
            clients.pop(endpoint).close()
            raise

    def status(self) -> dict[str, Any]:
        """Every shard: where it runs, its restarts, and (if up) its runtime's status."""
        pending = [
            (index, actor.handle.remote("status", {})) for index, actor in enumerate(self.actors)
        ]
        infos = [actor.info.remote() for actor in self.actors]
        shards = []
        merged: dict[str, Any] = {
            "instance": self.instance,
            "generation": 0,
            "next_step": 0,
            "actors": [],
            "market_actors": [],
            "routed_orders": 0,
            "broker": None,
        }
        for (index, call), info_call in zip(pending, infos, strict=True):
            shard = shard_name(index)
            entry = {"shard": shard, "up": False, **_placement(self.actors[index])}
            try:
                result = _answer(ray.get(call, timeout=5.0))
                entry.update(ray.get(info_call, timeout=5.0), up=True)
            except (RayActorError, GetTimeoutError, CommandError) as error:
                entry["error"] = type(error).__name__
                shards.append(entry)
                continue
            shards.append(entry)
            merged["generation"] = max(merged["generation"], result["generation"])
            merged["next_step"] += result["next_step"]
            merged["actors"] += [{**a, "id": f"{shard}/{a['id']}"} for a in result["actors"]]
            merged["market_actors"] += [
                {**m, "id": f"{shard}/{m['id']}"} for m in result["market_actors"]
            ]
            merged["routed_orders"] += result["routed_orders"]
        merged["shards"] = shards
        return merged


def _answer(reply: tuple[Any, ...]) -> Any:
    if reply[0] == "ok":
        return reply[1]
    raise CommandError(reply[1], reply[2])


def _placement(actor: Any) -> dict[str, Any]:
    """Where Ray has the shard and how often it restarted it, from Ray's own actor table
    (answered while the shard itself is down)."""
    table = ray_state.actors(actor._actor_id.hex())
    address = table.get("Address") or {}
    return {
        "node": address.get("NodeID"),
        "host": address.get("IPAddress"),
        "pid": table.get("Pid"),
        "restarts": table.get("NumRestarts", 0),
        "state": table.get("State"),
    }


_MERGERS: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "positions": lambda parts: {"positions": [p for part in parts for p in part["positions"]]},
    "snapshot": lambda parts: {
        key: [item for part in parts for item in part[key]]
        for key in ("positions", "orders", "account_positions")
    },
    "lookup": lambda parts: {
        "security_id": parts[0]["security_id"],
        "trackers": [t for part in parts for t in part["trackers"]],
    },
}


def _merge(cmd: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return _MERGERS[cmd](parts)
