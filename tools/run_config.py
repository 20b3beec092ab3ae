"""``tradeactors run --config FILE``: one TOML file for a run; flags on the command line win.

The file's values become command-line flags placed before the user's own, so each is
checked exactly as the flag is (types, choices, risk limits as exact decimals) and any flag
given again overrides it. A key the runtime does not know is an error that lists the keys
it does know; a float where money belongs is refused (write ``"0.05"``, not ``0.05``).

    data_dir = "tradeactors-data"
    speed = 0

    [venue]
    name = "polymarket"             # or "sim" (a feed file: feed = "day.jsonl.gz")
    assets = ["YES_TOKEN", "NO_TOKEN"]
    # series = "btc-updown-15m-{start}"
    # period = 900
    # reference = "chainlink:btc/usd"  # the oracle's reference price, from Polymarket's RTDS
    # fill_schedule = "staged"      # the simulated venue: 30 % at once, the rest after latency

    [strategy]
    path = "my_strategies.mean_reversion:evaluate"
    # name = "mean_reversion"       # positions' strategy name; default: the module's last part

    [risk]
    max_order_size = "100"
    daily_loss_limit = "250"

    [broker]
    name = "ib"                     # or "paper"; host, port, client_id, account, contracts
    account = "DU1234567"
    contracts = ["AAPL=AAPL:STK:SMART:USD", "ES=conid:495512563"]

    [endpoints]
    commands = "tcp://127.0.0.1:41550"
    events = "tcp://127.0.0.1:41551"
    metrics = false

    [journal]
    durability = "full"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from supervisors.assembly.risk_config import FIELDS as RISK_FIELDS

SWITCH = "switch"
"""A flag without a value (``--quiet``): true gives it, false leaves it out."""
NEGATED = "negated"
"""A flag that switches something off (``--no-zmq``): false gives it."""
MONEY = "money"
"""An exact decimal: a string or an integer, never a float."""

TOP_LEVEL: Mapping[str, tuple[str, str | None]] = {
    "data_dir": ("--data-dir", None),
    "speed": ("--speed", None),
    "duration": ("--duration", None),
    "records": ("--records", None),
    "quiet": ("--quiet", SWITCH),
    "plain": ("--plain", SWITCH),
    "log_level": ("--log-level", None),
    "hold": ("--hold", None),
    "shutdown_s": ("--shutdown-s", None),
}
TABLES: Mapping[str, Mapping[str, tuple[str, str | None]]] = {
    "venue": {
        "name": ("--venue", None),
        "feed": ("--feed", None),
        "latency_ms": ("--latency-ms", None),
        "fill_schedule": ("--fill-schedule", None),
        "assets": ("--assets", None),
        "market_id": ("--market-id", None),
        "series": ("--series", None),
        "period": ("--period", None),
        "ws_url": ("--ws-url", None),
        "gamma_url": ("--gamma-url", None),
        "save_feed": ("--save-feed", None),
        "reference": ("--reference", None),
        "rtds_url": ("--rtds-url", None),
    },
    "broker": {
        "name": ("--broker", None),
        "drop_rate": ("--drop-rate", None),
        "duplicate_rate": ("--duplicate-rate", None),
        "callback_delay_ms": ("--callback-delay-ms", None),
        "seed": ("--broker-seed", None),
        "gap_s": ("--gap-s", None),
        "host": ("--ib-host", None),
        "port": ("--ib-port", None),
        "client_id": ("--ib-client-id", None),
        "account": ("--ib-account", None),
        "contracts": ("--ib-contracts", None),
        "credentials": ("--credentials", None),
        "clob_url": ("--clob-url", None),
        "user_ws_url": ("--user-ws-url", None),
    },
    "shioaji": {
        "credentials": ("--shioaji-credentials", None),
        "account": ("--shioaji-account", None),
        "odd_lot": ("--shioaji-odd-lot", None),
        "simulation": ("--shioaji-simulation", SWITCH),
        "holidays": ("--shioaji-holidays", None),
    },
    "strategy": {
        "path": ("--strategy", None),
        "name": ("--strategy-name", None),
    },
    "risk": {name: (f"--{name.replace('_', '-')}", MONEY) for name in RISK_FIELDS},
    "endpoints": {
        "commands": ("--commands-endpoint", None),
        "events": ("--events-endpoint", None),
        "zmq": ("--no-zmq", NEGATED),
        "metrics": ("--no-metrics", NEGATED),
        "metrics_address": ("--metrics-address", None),
        "metrics_port": ("--metrics-port", None),
        "curve_secret": ("--curve-secret", None),
        "curve_clients": ("--curve-clients", None),
        "heartbeat_s": ("--heartbeat-s", None),
    },
    "journal": {
        "url": ("--journal", None),
        "durability": ("--durability", None),
        "snapshot_every": ("--snapshot-every", None),
        "snapshot_seconds": ("--snapshot-seconds", None),
        "parquet_snapshots": ("--parquet-snapshots", None),
        "parquet_every": ("--parquet-every", None),
    },
}


class RunConfigError(ValueError):
    """A config file that cannot be read or names something the runtime does not know."""


def expand(argv: Sequence[str], known_flags: set[str]) -> list[str]:
    """``argv`` with ``--config FILE`` replaced by the file's flags, placed first so the
    command line's own flags win. ``known_flags``: the ``run`` command's flags; a key whose
    flag this build lacks is an error too."""
    args = list(argv)
    path = _config_path(args)
    if path is None:
        return args
    flags = flags_from(load(path), where=str(path))
    missing = sorted({flag for flag in flags if flag.startswith("--")} - known_flags)
    if missing:
        raise RunConfigError(f"{path}: this tradeactors has no {', '.join(missing)}")
    return [args[0], *flags, *args[1:]]


def load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except OSError as error:
        raise RunConfigError(f"cannot read {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise RunConfigError(f"{path} is not TOML: {error}") from error


def flags_from(document: Mapping[str, Any], *, where: str) -> list[str]:
    flags: list[str] = []
    for key, value in document.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise RunConfigError(f"{where}: [{key}] must be a table")
            for inner, inner_value in value.items():
                flags.extend(_flag(TABLES[key], inner, inner_value, f"{where}: [{key}] {inner}"))
        elif key in TOP_LEVEL:
            flags.extend(_flag(TOP_LEVEL, key, value, f"{where}: {key}"))
        else:
            known = ", ".join([*TOP_LEVEL, *(f"[{table}]" for table in TABLES)])
            raise RunConfigError(f"{where}: unknown key {key!r} (known: {known})")
    return flags


def _flag(
    keys: Mapping[str, tuple[str, str | None]], key: str, value: Any, where: str
) -> list[str]:
    if key not in keys:
        raise RunConfigError(f"{where}: unknown key (known: {', '.join(keys)})")
    flag, kind = keys[key]
    if kind in (SWITCH, NEGATED):
        if not isinstance(value, bool):
            raise RunConfigError(f"{where}: must be true or false, got {value!r}")
        return [flag] if value is (kind == SWITCH) else []
    if isinstance(value, (bool, dict)):
        raise RunConfigError(f"{where}: must be a value, got {value!r}")
    if kind == MONEY and isinstance(value, float):
        raise RunConfigError(f'{where}: write money as a string ("{value}"), not a float')
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise RunConfigError(f"{where}: a list holds strings, got {value!r}")
        return [flag, ",".join(value)]
    return [flag, str(value)]


def _config_path(args: list[str]) -> Path | None:
    """The ``run`` command's ``--config`` value, removed from ``args``."""
    if not args or args[0] != "run":
        return None
    for index, arg in enumerate(args):
        if arg == "--config":
            if index + 1 >= len(args):
                raise RunConfigError("--config needs a file")
            path = args[index + 1]
            del args[index : index + 2]
            return Path(path)
        if arg.startswith("--config="):
            del args[index]
            return Path(arg.split("=", 1)[1])
    return None
