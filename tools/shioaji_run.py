"""``tradeactors run --broker shioaji``: the Shioaji adapter's flags, and the adapter they
ask for. Credentials are checked (environment, or an owner-only file) before anything
connects, so a run without them stops with one line instead of a login attempt."""

from __future__ import annotations

import argparse
from pathlib import Path

from actors.broker import BrokerError
from actors.settlement_calendar import SettlementCalendar, parse_holidays
from bridges.shioaji_broker import OddLot, ShioajiBroker, load_credentials


def add_shioaji_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Shioaji (--broker shioaji)")
    group.add_argument(
        "--shioaji-credentials",
        metavar="FILE",
        help="owner-only TOML with api_key and secret_key (else SHIOAJI_API_KEY/SECRET_KEY)",
    )
    group.add_argument("--shioaji-account", metavar="ID", help="the account id to trade")
    group.add_argument(
        "--shioaji-odd-lot",
        default=OddLot.INTRADAY.value,
        choices=[mode.value for mode in OddLot],
        help="stock orders under 1000 shares: intraday odd-lot orders, or refused",
    )
    group.add_argument(
        "--shioaji-simulation", action="store_true", help="Shioaji's simulation environment"
    )
    group.add_argument(
        "--shioaji-holidays",
        default="",
        metavar="DATES",
        help="TWSE holidays, YYYY-MM-DD comma-separated: not trading days for T+2 settlement",
    )


def settlement_calendar(args: argparse.Namespace) -> SettlementCalendar:
    """TWSE's T+2 with ``--shioaji-holidays``; BrokerError naming a date it cannot read."""
    try:
        return SettlementCalendar(holidays=parse_holidays(args.shioaji_holidays))
    except ValueError as error:
        raise BrokerError(f"--shioaji-holidays: {error}") from None


def shioaji_broker(args: argparse.Namespace) -> ShioajiBroker | None:
    """The adapter ``--broker shioaji`` asks for, logged in; None for another broker.

    Raises ``BrokerError`` without an account, ``CredentialsError`` (one) without usable
    credentials.
    """
    if args.broker != "shioaji":
        return None
    if not args.shioaji_account:
        raise BrokerError("--broker shioaji needs --shioaji-account")
    settlement_calendar(args)
    path = Path(args.shioaji_credentials) if args.shioaji_credentials else None
    credentials = load_credentials(path)
    import shioaji as sj  # noqa: PLC0415 - only a Shioaji run loads the library

    api = sj.Shioaji(simulation=args.shioaji_simulation)
    return ShioajiBroker(api, credentials, odd_lot=OddLot(args.shioaji_odd_lot))
