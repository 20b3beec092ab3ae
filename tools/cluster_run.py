"""What `tradeactors cluster` runs (tools/cluster.py has its options): Ray, the gateway,
the shards; the merged positions once every shard has replayed its feed."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

import ray

from bridges.cluster_keys import ClusterKeys
from bridges.shard_map import ShardMap
from bridges.zmq_protocol import CommandError, Request, decode_json, encode_json
from bridges.zmq_server import CurveConfig
from supervisors.assembly.gateway import Gateway
from supervisors.assembly.shard import ShardSpec, start_local_ray, start_shards
from tools.client_cli import decode_snapshot
from tools.console import positions_table


def run_cluster(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    accounts = tuple(args.accounts.split(",")) if args.accounts else ()
    try:
        shards = ShardMap(count=args.shards, accounts=accounts)
        keys = None if args.cluster_keys is None else ClusterKeys(args.cluster_keys).check()
        curve = _client_curve(args)
    except ValueError as error:
        out.write(f"tradeactors: {error}\n")
        return 2
    joined = args.address is not None
    if joined:
        ray.init(address=args.address, namespace=args.namespace, log_to_driver=False)
    else:
        start_local_ray(num_cpus=max(2, args.shards))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gateway = Gateway(
        shards,
        commands=args.commands_endpoint,
        events=args.events_endpoint,
        ingest=args.ingest_endpoint,
        cluster=args.namespace,
        keys=keys,
        curve=curve,
    )
    try:
        gateway.start()
    except (RuntimeError, OSError) as error:
        out.write(f"tradeactors: {error} (choose other endpoints)\n")
        ray.shutdown()
        return 2
    specs = [
        ShardSpec(
            index=index,
            shards=shards,
            journal=args.journal,
            events=gateway.ingest_endpoint,
            feed=args.feed,
            cluster=args.namespace,
            keys=keys,
        )
        for index in range(shards.count)
    ]
    actors = start_shards(specs, detached=joined)
    out.write(
        f"tradeactors: cluster of {shards.count} shards, journal {args.journal}; "
        f"commands on {gateway.commands_endpoint}, events on {gateway.events_endpoint}\n"
    )
    out.flush()
    try:
        while not stop.is_set() and not all(
            ray.get([actor.wait_replayed.remote(0.5) for actor in actors])
        ):
            pass
        if not stop.is_set():
            _report(gateway, out)
            stop.wait(args.hold)
    finally:
        gateway.stop()
        if not joined:
            ray.get([actor.stop.remote() for actor in actors])
        ray.shutdown()
    return 0


def _client_curve(args: argparse.Namespace) -> CurveConfig | None:
    """CURVE on the gateway's client sockets, as ``run --curve-secret`` puts it on its own."""
    if not (args.curve_secret or args.curve_clients):
        return None
    if not (args.curve_secret and args.curve_clients):
        raise ValueError("CURVE needs both --curve-secret and --curve-clients")
    return CurveConfig(
        server_secret_file=Path(args.curve_secret), allowed_clients_dir=Path(args.curve_clients)
    )


def _report(gateway: Gateway, out: TextIO) -> None:
    try:
        # As a client reads it: enums and decimals as the wire's strings.
        result = decode_json(encode_json(gateway.handle(Request(id="", cmd="positions", args={}))))
    except CommandError as error:
        out.write(f"tradeactors: no positions: {error.message}\n")
        return
    out.write("tradeactors: every shard replayed its feed\n")
    out.write(positions_table([decode_snapshot(p) for p in result["positions"]]) + "\n")
    out.flush()
