"""`tradeactors run --broker shioaji` without usable credentials stops with one line that
says what to do, before anything connects (a real process, its environment cleared of the
Shioaji variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tools import run_config
from tools.cli import build_parser
from tools.shioaji_run import settlement_calendar

pytestmark = pytest.mark.timeout(120)


def _run(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIOAJI_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.cli",
            "run",
            "--data-dir",
            str(tmp_path / "data"),
            "--no-metrics",
            "--no-zmq",
            "--quiet",
            "--records",
            "10",
            "--broker",
            "shioaji",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env=env,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "cannot start" in line]
    return line


def test_without_credentials_the_run_names_the_variables(tmp_path: Path) -> None:
    assert "SHIOAJI_API_KEY" in _run(tmp_path, "--shioaji-account", "0001234")


def test_a_credentials_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shioaji.toml"
    path.write_text('api_key = "k"\nsecret_key = "never-printed"\n')
    path.chmod(0o644)
    line = _run(tmp_path, "--shioaji-account", "0001234", "--shioaji-credentials", str(path))
    assert "chmod 600" in line
    assert "never-printed" not in line


def test_without_an_account_the_run_says_so(tmp_path: Path) -> None:
    assert "--shioaji-account" in _run(tmp_path)


def test_a_holiday_that_is_not_a_date_is_named(tmp_path: Path) -> None:
    line = _run(tmp_path, "--shioaji-account", "0001234", "--shioaji-holidays", "2027-01-01,1/2")
    assert "--shioaji-holidays: holiday '1/2' is not a date (YYYY-MM-DD)" in line


def test_the_config_file_has_a_shioaji_table(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[broker]\nname = "shioaji"\n[shioaji]\naccount = "0001234"\nodd_lot = "refuse"\n'
        'simulation = true\nholidays = ["2027-01-01", "2027-02-16"]\n'
    )
    flags = run_config.flags_from(run_config.load(path), where=str(path))
    args = build_parser().parse_args(["run", *flags])
    assert (args.broker, args.shioaji_account, args.shioaji_odd_lot) == (
        "shioaji",
        "0001234",
        "refuse",
    )
    assert args.shioaji_simulation
    assert settlement_calendar(args).holidays == {date(2027, 1, 1), date(2027, 2, 16)}
