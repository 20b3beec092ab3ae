"""``tradeactors run --broker ib``: Interactive Brokers' options, and the adapter they make.

The options name a TWS or IB Gateway session (host, port, API client id), the IB account
the run trades and reconciles, and the contracts the run's securities are: ``--ib-contracts
AAPL=AAPL:STK:SMART:USD,ES=conid:495512563`` (in the config file, ``contracts = [...]`` in
``[broker]``). Only 127.0.0.1 is a default: another host is the operator's explicit choice.
Keep the client id the same from run to run: IB numbers our orders per client id, and the
runtime finds its orders by those numbers (and their ``orderRef``) after a restart.
ib_async is imported only when a run asks for IB: it takes seconds, and every other command
would pay for it.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ib_async import IB

    from bridges.ib_broker import IbBroker, IbContracts

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7497  # TWS paper trading; 7496 live TWS, 4002 / 4001 IB Gateway paper / live


def add_ib_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ib-host", default=DEFAULT_HOST, help="--broker ib: TWS / Gateway host")
    parser.add_argument("--ib-port", type=int, default=DEFAULT_PORT, help="--broker ib: API port")
    parser.add_argument(
        "--ib-client-id", type=int, default=7, help="--broker ib: API client id (keep it fixed)"
    )
    parser.add_argument("--ib-account", default="", help="--broker ib: the IB account to trade")
    parser.add_argument(
        "--ib-contracts",
        default="",
        help="--broker ib: SECURITY=conid:N or SECURITY=SYMBOL[:TYPE[:EXCHANGE[:CURRENCY]]], "
        "comma-separated",
    )


def parse_contracts(text: str) -> IbContracts:
    """``--ib-contracts``; ValueError naming the item that is not one."""
    from bridges.ib_broker import IbContract, IbContracts  # noqa: PLC0415 (--broker ib only)

    contracts: dict[str, IbContract] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        security_id, _, spec = item.partition("=")
        if not security_id or not spec:
            raise ValueError(f"--ib-contracts: {item!r} is not SECURITY=CONTRACT")
        if spec.startswith("conid:"):
            number = spec.removeprefix("conid:")
            if not number.isdigit():
                raise ValueError(f"--ib-contracts: {item!r}: a conid is a number")
            contracts[security_id] = IbContract(con_id=int(number))
            continue
        symbol, sec_type, exchange, currency, *rest = [*spec.split(":"), "", "", "", ""][:5]
        multiplier = Decimal(1)
        if rest[0]:
            try:
                multiplier = Decimal(rest[0])
            except InvalidOperation as error:
                raise ValueError(f"--ib-contracts: {item!r}: a bad multiplier") from error
        contracts[security_id] = IbContract(
            symbol=symbol,
            sec_type=sec_type or "STK",
            exchange=exchange or "SMART",
            currency=currency or "USD",
            multiplier=multiplier,
        )
    return IbContracts(contracts)


def check_ib_options(args: argparse.Namespace) -> IbContracts:
    """The contracts of ``--broker ib``; ValueError for a missing account or a bad contract."""
    if not args.ib_account:
        raise ValueError("--broker ib needs --ib-account (the IB account to trade)")
    return parse_contracts(args.ib_contracts)


def ib_broker(args: argparse.Namespace) -> IbBroker:
    """The adapter for ``--broker ib``; it connects (and reconnects) on its own thread."""
    from ib_async import IB  # noqa: PLC0415 (--broker ib only)

    from bridges.ib_broker import IbBroker  # noqa: PLC0415

    contracts = check_ib_options(args)
    host, port, client_id, account = args.ib_host, args.ib_port, args.ib_client_id, args.ib_account

    async def connect(ib: IB) -> None:
        await ib.connectAsync(host, port, clientId=client_id, account=account, timeout=10)

    return IbBroker(IB(), account=account, contracts=contracts, connect=connect)
