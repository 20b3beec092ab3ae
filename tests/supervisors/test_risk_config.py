"""Risk limits from a TOML file and flags: exact decimals, flags over the file, clear errors."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import pytest

from messages.risk import RiskLimits
from supervisors.assembly.risk_config import (
    RiskConfigError,
    add_flags,
    limits_from_args,
    load_limits,
)

pytestmark = pytest.mark.timeout(10)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return parser.parse_args(argv)


def test_a_file_is_read_exactly_and_flags_win_over_it(tmp_path: Path) -> None:
    path = tmp_path / "limits.toml"
    path.write_text('[risk]\nmax_order_notional = 2500.10\nmax_open_orders = 4\nstop_loss = "40"\n')
    assert load_limits(path) == RiskLimits(
        max_order_notional=Decimal("2500.10"), max_open_orders=4, stop_loss=Decimal(40)
    )
    limits = limits_from_args(parse("--risk-limits", str(path), "--stop-loss", "12.5"))
    assert limits.stop_loss == Decimal("12.5")
    assert limits.max_order_notional == Decimal("2500.10")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[risk]\nmax_size = 3\n", "unknown limits ['max_size']"),
        ("[risk]\nstop_loss = -1\n", "stop_loss must not be negative"),
        ("[risk]\nmax_open_orders = 2.5\n", "max_open_orders must be whole"),
        ("[risk]\nprofit_lock = true\n", "profit_lock must be a number"),
        ("[risk\n", "limits.toml"),
    ],
    ids=["unknown", "negative", "fractional count", "not a number", "not TOML"],
)
def test_a_bad_file_is_refused_with_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "limits.toml"
    path.write_text(text)
    with pytest.raises(RiskConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_limits(path)


def test_no_file_and_no_flag_is_no_limit() -> None:
    assert limits_from_args(parse()) == RiskLimits()
