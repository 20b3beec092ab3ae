"""`tradeactors cluster`: N shards on Ray behind one gateway, from one command.

Without ``--address`` it starts a Ray instance on this machine (loopback only) that ends
with the command, shards and all. With ``--address`` it joins a running Ray cluster and
its shards are detached: they outlive the command, and the same command again (a
restarted gateway) finds them by name instead of starting others.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from bridges.shard_map import DEFAULT_INGEST, NAMESPACE
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS
from tools.cli_types import endpoint


def add_cluster_command(commands: Any, sample_feed: str) -> None:
    cluster = commands.add_parser("cluster", help="shards on Ray behind one ZeroMQ gateway")
    cluster.add_argument("--shards", type=int, default=2, help="how many shards")
    cluster.add_argument(
        "--journal",
        required=True,
        help="postgresql://user@host/db (a schema per shard), or a directory of the shards' "
        "journals (one machine)",
    )
    cluster.add_argument("--feed", default=sample_feed, help="feed each shard trades its part of")
    cluster.add_argument("--accounts", help="comma-separated: one account per shard (the key)")
    cluster.add_argument("--address", help="join this Ray cluster (detached shards)")
    cluster.add_argument("--namespace", default=NAMESPACE, help="the Ray namespace of the shards")
    cluster.add_argument("--commands-endpoint", type=endpoint, default=DEFAULT_COMMANDS)
    cluster.add_argument("--events-endpoint", type=endpoint, default=DEFAULT_EVENTS)
    cluster.add_argument(
        "--ingest-endpoint", type=endpoint, default=DEFAULT_INGEST, help="shards' events in"
    )
    cluster.add_argument(
        "--cluster-keys",
        help="directory of the cluster's CURVE pair (keygen DIR --name cluster): CURVE "
        "between the gateway and its shards",
    )
    cluster.add_argument("--curve-secret", help="gateway's secret key file: CURVE for clients")
    cluster.add_argument("--curve-clients", help="directory of allowed clients' public keys")
    cluster.add_argument(
        "--hold", type=float, help="serve this long after the feeds end (default: until ^C)"
    )
    cluster.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    """Loaded on demand: Ray takes seconds to import, which no other command needs."""
    return int(importlib.import_module("tools.cluster_run").run_cluster(args))
