"""The gateway's routing: a pure function of a command's arguments, the same in every
process and after every restart (no table to lose)."""

from __future__ import annotations

import pytest

from bridges.shard_map import ShardMap


def test_a_market_always_routes_to_the_same_shard_and_markets_spread_over_all() -> None:
    shards = ShardMap(count=3)
    owners = [shards.of_args({"market_id": f"btc-up-{n:04d}"}) for n in range(60)]
    assert owners == [ShardMap(count=3).of_market(f"btc-up-{n:04d}") for n in range(60)]
    assert set(owners) == {0, 1, 2}
    # crc32, not Python's hash(): another process (PYTHONHASHSEED) routes alike.
    assert ShardMap(count=2).of_market("btc-up-0004") == 0
    assert ShardMap(count=2).of_market("btc-up-0001") == 1


def test_an_order_id_names_its_shard_whatever_its_market() -> None:
    shards = ShardMap(count=4)
    assert shards.of_args({"order_id": "s3-O17"}) == 3
    assert shards.of_args({"order_id": "s9-O1"}) is None  # no such shard: refused by s0
    assert shards.of_args({"order_id": "O17"}) is None


def test_with_accounts_the_account_is_the_key() -> None:
    shards = ShardMap(count=2, accounts=("alice", "bob"))
    assert shards.of_args({"account": "bob", "market_id": "btc-up-0004"}) == 1
    assert shards.of_args({"market_id": "btc-up-0004"}) is None
    with pytest.raises(ValueError, match="3 accounts for 2 shards"):
        ShardMap(count=2, accounts=("a", "b", "c"))
