"""The parameters each ``tradeactors run`` on a data dir started with, for ``report``.

The journal holds what happened, not the flags that made it happen (the speed, the venue's
latency, the fee rate, the strategy, the risk limits), so ``run`` appends one JSON line per
start to ``runs.jsonl`` beside the journal; ``--fresh`` removes it with the journal.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import attrs

from supervisors.assembly.runtime_config import RuntimeConfig

RUNS_FILE = "runs.jsonl"


def record_run(
    args: argparse.Namespace, config: RuntimeConfig, *, feed: str, records: int, start: int
) -> None:
    """Append this run's parameters to the data dir's ``runs.jsonl``."""
    assert config.data_dir is not None
    limits = {k: str(v) for k, v in attrs.asdict(config.risk).items() if v is not None}
    entry: dict[str, Any] = {
        "started_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "version": importlib.metadata.version("tradeactors"),
        "pid": os.getpid(),
        "feed": feed,
        "feed_records": records,
        "resumed_at_record": start,
        "speed": "max (lockstep)" if args.speed <= 0 else str(args.speed),
        "latency_ms": str(args.latency_ms),
        "fee_rate": str(config.fee_rate),
        "account": config.account,
        "strategy": config.strategy_name,
        "broker": args.broker,
        "durability": args.durability,
        "snapshot_every": args.snapshot_every,
        "risk_limits": limits or "none",
    }
    with (config.data_dir / RUNS_FILE).open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry) + "\n")


def read_runs(data_dir: Path) -> list[dict[str, Any]]:
    """Every run's parameters, oldest first; none for a data dir older than this file."""
    path = data_dir / RUNS_FILE
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash mid-write
        if isinstance(entry, dict):
            runs.append(entry)
    return runs
