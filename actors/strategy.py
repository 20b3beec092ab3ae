"""StrategyActor: runs a user's ``evaluate(market, position) -> signals`` on every market tick."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pykka

from actors.metrics import STRATEGY_FAILURES
from messages.market_data import MarketSnapshot
from messages.positions import PositionSnapshot
from messages.signals import TradeSignal
from supervisors.kernel.base import RuntimeActor, handles
from supervisors.kernel.child_spec import SupervisedContext
from supervisors.kernel.supervised import Supervised

Evaluate = Callable[[MarketSnapshot, PositionSnapshot], Sequence[TradeSignal]]


class StrategyActor(Supervised, RuntimeActor):
    """Evaluates only on synced books and with the market's own position in hand.

    The user function sees immutable snapshots, so nothing it does can change runtime state;
    its signals go to the ExecutionActor, which may still deny them (pending order, closed
    market). An exception in the user function, or a result that is not a list of
    TradeSignals (None counts as none), is logged, counted (``failures``, and the
    ``strategy_failures`` metric) and the tick skipped whole: one bad evaluation must not take
    the strategy down, nor trade half of a result it could not read.
    """

    kind = "strategy"

    def __init__(
        self,
        evaluate: Evaluate,
        *,
        execution: pykka.ActorRef[Any],
        name: str = "default",
        supervision: SupervisedContext | None = None,
    ) -> None:
        super().__init__(strategy=name, supervision=supervision)
        self.evaluate = evaluate
        self.execution = execution
        self.name = name
        self.positions: dict[str, PositionSnapshot] = {}
        self.evaluated: dict[str, tuple[object, ...]] = {}
        self.signals_sent = 0
        self.failures: collections.Counter[str] = collections.Counter()

    @handles(PositionSnapshot)
    def _position(self, snapshot: PositionSnapshot) -> None:
        # The latest to arrive is the latest there is: one actor's snapshots arrive in order,
        # and a restarted position (whose version may start lower) only speaks after the
        # old one is dead.
        self.positions[snapshot.market_id] = snapshot

    @handles(MarketSnapshot)
    def _market(self, snapshot: MarketSnapshot) -> None:
        position = self.positions.get(snapshot.market_id)
        if position is None or not snapshot.synced:
            return
        # A restarted market re-publishes its latest book: the one just evaluated (same
        # time, same book sequences, same reference price) is not evaluated twice.
        reference = snapshot.reference
        key = (
            snapshot.ts_event,
            tuple(book.sequence for book in snapshot.books),
            None if reference is None else (reference.ts_event, reference.price),
        )
        if self.evaluated.get(snapshot.market_id) == key:
            return
        self.evaluated[snapshot.market_id] = key
        try:
            result = self.evaluate(snapshot, position)
        except Exception:
            self._failed("raised")
            self.log.exception(
                "evaluate_failed", market_id=snapshot.market_id, failures=self.failures["raised"]
            )
            return
        signals = _signals(result)
        if signals is None:
            self._failed("bad_result")
            self.log.error(
                "evaluate_returned_garbage",
                market_id=snapshot.market_id,
                result=_describe(result),
                want="a list of TradeSignal",
                failures=self.failures["bad_result"],
            )
            return
        for signal in signals:
            # A signal that names no strategy is this strategy's; execution denies one that
            # names a strategy the market's position is not for.
            named = signal if signal.strategy else attrs.evolve(signal, strategy=self.name)
            self.execution.tell(named)
            self.signals_sent += 1

    def _failed(self, kind: str) -> None:
        self.failures[kind] += 1
        STRATEGY_FAILURES.labels(strategy=self.name, kind=kind).inc()


def _signals(result: object) -> list[TradeSignal] | None:
    """The signals of an evaluation's result; None unless it is None or a list or tuple
    holding only TradeSignals."""
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        return None
    if not all(isinstance(signal, TradeSignal) for signal in result):
        return None
    return list(result)


def _describe(result: object) -> str:
    """A short text of a user's result for the log; its own ``repr`` may be broken too."""
    try:
        return repr(result)[:200]
    except Exception:
        return f"<{type(result).__name__} whose repr raised>"
