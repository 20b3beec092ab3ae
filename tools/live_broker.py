"""``tradeactors run --venue polymarket --broker polymarket``: live orders on Polymarket.

The live books come from the market channel (``tools.live_venue``); orders go to the CLOB
through ``bridges.polymarket_clob_broker.PolymarketBroker`` and fills come back on the user
channel, reconciled like any broker's. Credentials come from the environment, or from
``--credentials FILE`` (readable by its owner alone). A trade that FAILED on chain is taken
back from its order and position (the broker's reversal callback), and asks for a
reconcile with its reason, which corrects the account to the venue's truth.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from bridges.polymarket_credentials import load
from bridges.polymarket_user_channel import PUBLIC_USER_CHANNEL
from supervisors.assembly.runtime import Runtime

if TYPE_CHECKING:
    from bridges.polymarket_clob_broker import PolymarketBroker

POLYMARKET = "polymarket"
ACCOUNT = "polymarket"
"""The account a live Polymarket run books its orders, fills and positions to (the API
key's), never the runtime's default ``paper``: a real position must not read as a paper one."""
PUBLIC_CLOB = "https://clob.polymarket.com"


def add_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--credentials", help="polymarket broker: NAME=value file (chmod 600); default: env"
    )
    run.add_argument("--clob-url", default=PUBLIC_CLOB, help="polymarket broker: CLOB REST API")
    run.add_argument(
        "--user-ws-url", default=PUBLIC_USER_CHANNEL, help="polymarket broker: user channel"
    )


def check(args: argparse.Namespace) -> None:
    """ValueError if ``--broker polymarket`` is asked for without live books."""
    if args.broker == POLYMARKET and args.venue != POLYMARKET:
        raise ValueError("--broker polymarket trades on live books: add --venue polymarket")


def broker_of(args: argparse.Namespace) -> PolymarketBroker | None:
    """The live broker the flags ask for, its user channel connecting; CredentialsError if
    the credentials are missing or readable by others."""
    if args.broker != POLYMARKET:
        return None
    credentials = load(Path(args.credentials) if args.credentials else None)
    # Loaded here: py-clob-client takes seconds to import, which every other command (the
    # client commands start a process each) would pay.
    adapter = importlib.import_module("bridges.polymarket_clob_broker")
    broker: PolymarketBroker = adapter.PolymarketBroker(
        credentials,
        adapter.clob_client(credentials, host=args.clob_url),
        user_url=args.user_ws_url,
        account=ACCOUNT,
    )
    return broker.start()


def wire(broker: PolymarketBroker | None, runtime: Runtime) -> None:
    """A reversed trade asks the runtime for a reconcile that says why."""
    if broker is not None:
        broker.on_reversal = lambda reversal: runtime.reconcile(reversal.reason)
