"""Where a signal's order lands, in the running runtime: only on its own (market, account,
strategy) position, judged by risk as that position, only while its market is the current
one; and a restarted position is addressed directly by the orders of its market."""

from __future__ import annotations

import concurrent.futures
import queue
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from prometheus_client import REGISTRY

from actors.journal import JournalActor
from actors.risk import RiskActor
from actors.synthetic_arbitrage import SyntheticArbitrage
from bridges.journal_memory import MemoryJournal
from messages.client_requests import SubmitSignal
from messages.enums import BookSide, OrderSide, OrderStatus
from messages.fills import Fill
from messages.journal import FillApplied
from messages.journal_protocol import Append
from messages.market_data import MarketSnapshot, PriceChange
from messages.orders import OrderDenied
from messages.positions import PositionSnapshot
from messages.queries import ListPositions
from messages.risk import CheckSignal, RiskLimits
from messages.signals import TradeSignal
from messages.supervision import InjectFault
from supervisors.assembly import subsystems
from supervisors.assembly.runtime import Runtime, RuntimeConfig
from supervisors.kernel.base import ask, handles
from tests.holding import Gate, GoOn, holding
from tests.stubs import arbitrage_feed, book, change, collector, opened, wait_for

pytestmark = pytest.mark.timeout(60)
D = Decimal
FEED = arbitrage_feed()
TRADED = 6
"""Records up to here trade m1 (60 YES at 0.45, 60 NO at 0.50) and leave it open."""
PROBE_TS = 100
PROBE = PriceChange(
    ts_event=PROBE_TS,
    market_id="m1",
    security_id="m1-YES",
    sequence=2,
    side=BookSide.BID,
    price=D("0.39"),
    size=D(5),
)
"""A book tick on which the probing strategy sends its one extra signal."""


@attrs.frozen
class ArbitrageThenProbe:
    """The example strategy, and on the ``PROBE`` tick one SELL of m1-YES named ``names``."""

    names: dict[str, str] = attrs.field(factory=dict)

    def __call__(self, market: MarketSnapshot, position: PositionSnapshot) -> list[TradeSignal]:
        if market.ts_event != PROBE_TS:
            return SyntheticArbitrage()(market, position)
        probe = TradeSignal(
            market_id="m1",
            security_id="m1-YES",
            side=OrderSide.SELL,
            price=D("0.99"),
            size=D(1),
            reason="probe",
            **self.names,
        )
        return [probe]


def _probe_denial(tmp_path: Path, names: dict[str, str], limits: RiskLimits) -> OrderDenied:
    config = RuntimeConfig(
        data_dir=tmp_path, journal_store=MemoryJournal(), evaluate=ArbitrageThenProbe(names)
    )
    with Runtime(config).start(FEED) as runtime:
        events, inbox = collector()
        runtime.subscribe(events)
        runtime.replay(FEED, end=TRADED)
        assert len(runtime.orders()) == 4
        runtime.set_limits(limits)
        runtime.feed_and_wait(PROBE)
        assert len(runtime.orders()) == 4, "the probe became an order"
        denied = wait_for(
            inbox, lambda m: isinstance(m, OrderDenied) and m.signal.reason == "probe"
        )
        assert isinstance(denied, OrderDenied)
        return denied


def test_a_signal_that_names_no_strategy_is_judged_by_the_stop_loss_of_its_position(
    tmp_path: Path,
) -> None:
    # m1 is marked at the mids (YES 0.425, NO 0.50): 60 x 0.425 + 60 x 0.50 - 57 - fees 0.057.
    denied = _probe_denial(tmp_path, {}, RiskLimits(stop_loss=D(1)))

    assert denied.reason == "risk: stop loss: position PnL -1.557000 is under -1"
    assert (denied.signal.account, denied.signal.strategy) == ("paper", "synthetic_arbitrage")


@pytest.mark.parametrize(
    ("names", "named"),
    [
        ({"strategy": "default"}, "account 'paper' and strategy 'default'"),
        ({"account": "other"}, "account 'other' and strategy 'synthetic_arbitrage'"),
    ],
    ids=["another strategy", "another account"],
)
def test_a_signal_naming_another_strategy_or_account_is_denied_and_lands_nowhere(
    tmp_path: Path, names: dict[str, str], named: str
) -> None:
    def counted() -> float:
        sample = REGISTRY.get_sample_value(
            "execution_events_total", {"type": "SignalForAnotherPosition"}
        )
        return sample or 0.0

    before = counted()

    denied = _probe_denial(tmp_path, names, RiskLimits(stop_loss=D(1)))

    assert denied.reason == (
        f"market m1 has no position for {named}; its position is m1/paper/synthetic_arbitrage"
    )
    assert counted() == before + 1


def test_an_order_is_not_created_for_a_market_switched_away_from_while_risk_decided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(
        subsystems,
        "RiskActor",
        holding(RiskActor, CheckSignal, lambda check: check.signal.reason == "held", gate),
    )
    with Runtime(
        RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())
    ).start() as runtime:
        runtime.feed_and_wait(opened("m1"))
        answer: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
        signal = TradeSignal(
            market_id="m1",
            security_id="m1-YES",
            side=OrderSide.BUY,
            price=D("0.40"),
            size=D(1),
            reason="held",
        )
        execution = runtime.execution
        assert execution is not None
        execution.tell(SubmitSignal(signal=signal, answer=answer))
        gate.wait_holding()
        runtime.feed_and_wait(opened("m2"))  # the switch, while risk holds the check
        risk = runtime.risk
        assert risk is not None
        risk.tell(GoOn())

        assert answer.result(timeout=5) == {
            "denied": "market m1 is not the current market (it changed while risk decided)"
        }
        runtime.wait_idle()
        assert runtime.orders() == []


@attrs.frozen(kw_only=True, slots=True)
class _Addressed:
    """What an Append to a position stream carried: the event and the actor it names."""

    event: Any
    deliver_to: Any


def _recording_journal(appends: queue.Queue[_Addressed]) -> type[JournalActor]:
    """A journal that records the ``deliver_to`` of every FillApplied it is asked to append:
    the ref the order addressed, before the journal's own re-routing of the stream."""

    class RecordingJournal(JournalActor):
        @handles(Append)
        def _recorded(self, message: Append) -> None:
            if isinstance(message.event, FillApplied):
                appends.put(_Addressed(event=message.event, deliver_to=message.deliver_to))
            JournalActor._append(self, message)

    return RecordingJournal


def test_after_a_position_restart_an_open_order_addresses_its_fills_to_the_new_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    appends: queue.Queue[_Addressed] = queue.Queue()
    monkeypatch.setattr(subsystems, "JournalActor", _recording_journal(appends))
    with Runtime(
        RuntimeConfig(data_dir=tmp_path, journal_store=MemoryJournal())
    ).start() as runtime:
        # YES 20 @ 0.45 and NO 20 @ 0.50 fill; the next tick's YES order rests at 0.45.
        for record in (
            opened("m1"),
            book("m1-YES", bids=(("0.40", "100"),), asks=(("0.45", "20"),)),
            book("m1-NO", bids=(("0.48", "100"),), asks=(("0.50", "50"),)),
            change("m1-NO", BookSide.BID, "0.47", "10", sequence=1),
        ):
            runtime.feed_and_wait(record)
        (resting,) = [o for o in runtime.orders() if o.status is OrderStatus.ACCEPTED]
        lifecycle = runtime.market_lifecycle
        assert lifecycle is not None
        ((_, old),) = ask(lifecycle, ListPositions()).live
        old.tell(InjectFault(reason="test"))
        assert old.actor_stopped.wait(5)
        runtime.wait_idle()
        ((_, new),) = ask(lifecycle, ListPositions()).live
        assert new != old
        assert new.is_alive()
        while not appends.empty():
            appends.get()

        runtime.venue_report(
            Fill(
                fill_id="after-restart",
                ts_event=30,
                order_id=resting.order_id,
                market_id="m1",
                security_id="m1-YES",
                side=resting.side,
                price=D("0.45"),
                size=D(5),
            )
        )
        runtime.wait_idle()

        addressed = appends.get(timeout=5)
        assert addressed.event.fill.fill_id == "after-restart"
        # The order named the new position itself; the journal's Route was not needed.
        assert addressed.deliver_to == new
        (position,) = runtime.positions()
        assert position.leg("m1-YES").quantity == D(25)
