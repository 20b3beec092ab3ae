"""Which shard of a cluster owns what: a pure function of the arguments, no table.

Ray-free, so the command line and the gateway's routing load without Ray.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import attrs

NAMESPACE = "tradeactors"
"""The Ray namespace of a cluster's named actors: a gateway finds its shards by name."""


DEFAULT_INGEST = "tcp://127.0.0.1:41552"
"""Where the gateway takes its shards' events in (each shard's PUB connects there)."""


def shard_name(index: int) -> str:
    return f"s{index}"


@attrs.frozen(kw_only=True)
class ShardMap:
    """Which shard owns what: markets by a stable hash (crc32) of their id, or with
    ``accounts`` one account per shard. Pure: the gateway routes without a table."""

    count: int
    accounts: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a cluster has at least one shard, got {self.count}")
        if self.accounts and len(self.accounts) != self.count:
            raise ValueError(f"{len(self.accounts)} accounts for {self.count} shards")

    def of_market(self, market_id: str) -> int:
        return zlib.crc32(market_id.encode()) % self.count

    def of_args(self, args: Mapping[str, Any]) -> int | None:
        """The shard a command's arguments name (None: the arguments name none)."""
        order_id = args.get("order_id")
        if isinstance(order_id, str) and order_id.startswith("s") and "-O" in order_id:
            number = order_id[1 : order_id.index("-O")]
            if number.isdigit() and int(number) < self.count:
                return int(number)
        account = args.get("account")
        if self.accounts and isinstance(account, str) and account in self.accounts:
            return self.accounts.index(account)
        market_id = args.get("market_id")
        if not self.accounts and isinstance(market_id, str) and market_id:
            return self.of_market(market_id)
        return None
