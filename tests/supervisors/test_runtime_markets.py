"""Where each market is in its life, as the runtime answers it: what a dashboard or a watch
joining late starts from (issue 19, point 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from messages.enums import MarketPhase
from messages.queries import MarketState
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from tests.stubs import arbitrage_feed, opened

pytestmark = pytest.mark.timeout(60)


def test_the_runtime_names_each_market_s_phase_live_and_after_a_restart(tmp_path: Path) -> None:
    feed = [*arbitrage_feed(), opened("m2")]
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as runtime:
        runtime.replay(feed, end=3)
        assert runtime.markets() == (MarketState(market_id="m1", phase=MarketPhase.OPEN),)
        runtime.replay(feed, end=7)  # m1 closed
        assert runtime.markets() == (MarketState(market_id="m1", phase=MarketPhase.CLOSED),)
        runtime.replay(feed)  # m1 resolved, settled and archived; m2 opened
        resolved = MarketState(
            market_id="m1", phase=MarketPhase.RESOLVED, winning_security_id="m1-YES"
        )
        m2 = MarketState(market_id="m2", phase=MarketPhase.OPEN)
        assert runtime.markets() == (resolved, m2)
    with Runtime(RuntimeConfig(data_dir=tmp_path)).start(feed) as resumed:
        assert resumed.markets() == (resolved, m2)
