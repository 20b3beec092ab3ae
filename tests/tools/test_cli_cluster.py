"""`tradeactors cluster` joined to a running Ray, CURVE on every link: its gateway answers
`tradeactors status` with every shard, its node and its restarts."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import ray

from bridges.feed_codec import write_feed
from tools.cli import build_parser, main
from tools.client_cli import run_client
from tools.feedgen import generate_feed

pytestmark = pytest.mark.timeout(120)


def test_cluster_serves_status_of_every_shard_through_one_gateway(
    local_ray: str, tmp_path: Path
) -> None:
    for name, directory in (("cluster", "cluster"), ("server", "gateway"), ("me", "clients")):
        assert main(["keygen", str(tmp_path / directory), "--name", name]) == 0
    feed = tmp_path / "feed.jsonl"
    write_feed(generate_feed(seed=3, markets=4, updates_per_market=20), feed)
    any_port = "tcp://127.0.0.1:*"
    command = [
        sys.executable, "-m", "tools.cli", "cluster", "--address", local_ray,
        "--namespace", "cli-cluster", "--shards", "2", "--journal", str(tmp_path / "journal"),
        "--feed", str(feed), "--hold", "60", "--commands-endpoint", any_port,
        "--events-endpoint", any_port, "--ingest-endpoint", any_port,
        "--cluster-keys", str(tmp_path / "cluster"),
        "--curve-secret", str(tmp_path / "gateway" / "server.key_secret"),
        "--curve-clients", str(tmp_path / "clients"),
    ]  # fmt: skip
    environment = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()
        commands = re.search(r"commands on (\S+),", announced)
        assert commands is not None, announced
        assert process.stdout.readline() == "tradeactors: every shard replayed its feed\n"

        out = io.StringIO()
        server_key = str(tmp_path / "gateway" / "server.key")
        client_key = str(tmp_path / "clients" / "me.key_secret")
        args = build_parser().parse_args(
            ["status", "--endpoint", commands.group(1), "--timeout", "30",
             "--server-key", server_key, "--client-key", client_key]
        )  # fmt: skip
        status = run_client(args, out)

        shown = out.getvalue()
        assert status == 0, shown
        for shard in ("s0", "s1"):
            assert re.search(rf"shard {shard}\s+up\s+node \w+ \(127\.0\.0\.1\), pid \d+, "
                             r"restarts 0, record (\d+) of \1", shown), shown  # fmt: skip
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        for shard in ("s0", "s1"):  # joined: the shards are detached, they outlive the gateway
            ray.kill(ray.get_actor(shard, namespace="cli-cluster"))
