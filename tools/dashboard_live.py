"""What `tradeactors run` shows while it runs: the live dashboard on a terminal, a line per
event anywhere else (a pipe, a file, ``--plain``).

On a terminal the ``DashboardView`` actor, subscribed to the bus, folds every event into a
``DashboardState``; a painter thread asks it for a frame every ``REDRAW_S`` and writes it.
The actor never writes, so a slow terminal delays frames, never the fold; and a frame is
drawn a few times a second however many thousand events arrive.

`tradeactors watch` folds in its own loop and draws with ``PacedDashboard``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TextIO

import attrs
import pykka

from messages.orders import OrderSnapshot
from messages.positions import PositionSnapshot
from messages.queries import MarketState
from tools.console import ConsoleView, Note, decimal_text
from tools.dashboard import DashboardState
from tools.dashboard_render import render
from tools.dashboard_screen import REDRAW_S, Screen, is_terminal, terminal_size

_STOP_S = 10.0
"""How long closing waits for a view to write what it was told before it stops."""


class RunView(Protocol):
    """A view the runtime's events go to (``runtime.subscribe(view.ref)``)."""

    ref: pykka.ActorRef[Any]

    def say(self, text: str) -> None:
        """Show a line of the command's own, in turn with the events."""

    def seed(self, snapshot: Snapshot) -> None:
        """Start from what the runtime already holds (a resumed run's journal)."""

    def close(self) -> None:
        """Stop the view and give the output back; safe to call twice."""


@attrs.frozen(kw_only=True, slots=True)
class Snapshot:
    """What a runtime holds when a view starts: its positions, orders and markets."""

    positions: Sequence[PositionSnapshot]
    orders: Sequence[OrderSnapshot]
    markets: Sequence[MarketState]


def resumed_line(snapshot: Snapshot) -> str | None:
    """One line on what a resumed run starts from; None when it starts from nothing."""
    if not snapshot.markets:
        return None
    state = DashboardState()
    state.seed(snapshot.positions, snapshot.orders, snapshot.markets)
    market = state.current_market
    assert market is not None
    return (
        f"== resumed from the journal: markets {len(state.markets)} (current {market} "
        f"{state.markets[market].phase.value}), open orders {len(state.open_orders)}, "
        f"net PnL {decimal_text(state.total().net)}"
    )


@attrs.frozen(kw_only=True, slots=True)
class _Frame:
    width: int
    height: int


class DashboardView(pykka.ThreadingActor):
    """Folds every event it is told into ``state``; answers ``_Frame`` with the rendered text."""

    def __init__(self, state: DashboardState) -> None:
        super().__init__()
        self.state = state

    def on_receive(self, message: Any) -> Any:
        match message:
            case _Frame(width=width, height=height):
                return render(self.state, width, height)
            case Note(text=text):
                self.state.note = text
            case Snapshot(positions=positions, orders=orders, markets=markets):
                self.state.seed(positions, orders, markets)
            case _:
                self.state.apply(message)
        return None


class LiveDashboard:
    """The dashboard on the terminal ``out``, redrawn every ``interval_s`` until ``close``."""

    def __init__(
        self,
        out: TextIO,
        *,
        size: Callable[[], tuple[int, int]] = terminal_size,
        interval_s: float = REDRAW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ref = DashboardView.start(DashboardState(clock=clock))
        self.screen = Screen(out, size=size)
        self.interval_s = interval_s
        self._closing = threading.Event()
        self._painter = threading.Thread(target=self._paint, name="dashboard", daemon=True)
        try:
            self.screen.enter()
            self._painter.start()
        except BaseException:  # Ctrl-C this early: the caller has no view to close
            self.close()
            raise

    def say(self, text: str) -> None:
        self.ref.tell(Note(text=text))

    def seed(self, snapshot: Snapshot) -> None:
        self.ref.tell(snapshot)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        try:
            self._painter.join(timeout=_STOP_S)
            self.ref.stop(timeout=_STOP_S)
        finally:
            self.screen.leave()

    def _paint(self) -> None:
        while not self._closing.is_set():
            try:
                self.screen.draw(self._frame)
            except pykka.Timeout:
                pass  # the view is behind on events: the next frame will be fresher
            except pykka.ActorDeadError:
                return
            self._closing.wait(self.interval_s)

    def _frame(self, width: int, height: int) -> str:
        frame: str = self.ref.ask(
            _Frame(width=width, height=height), block=True, timeout=self.interval_s * 5
        )
        return frame


class PlainView:
    """A line per event on ``out`` (``ConsoleView``)."""

    def __init__(self, out: TextIO) -> None:
        self.ref = ConsoleView.start(out)

    def say(self, text: str) -> None:
        self.ref.tell(Note(text=text))

    def seed(self, snapshot: Snapshot) -> None:
        line = resumed_line(snapshot)
        if line is not None:
            self.say(line)

    def close(self) -> None:
        self.ref.stop(timeout=_STOP_S)


def open_view(out: TextIO, *, plain: bool = False) -> RunView:
    """The live dashboard if ``out`` is a terminal and ``plain`` is not asked; else lines."""
    if plain or not is_terminal(out):
        return PlainView(out)
    return LiveDashboard(out)


class PacedDashboard:
    """The dashboard drawn from the caller's own loop (`tradeactors watch`): fold events with
    ``state.apply`` and call ``tick`` often; it draws at most once per ``interval_s``."""

    def __init__(
        self,
        out: TextIO,
        *,
        size: Callable[[], tuple[int, int]] = terminal_size,
        interval_s: float = REDRAW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = DashboardState(clock=clock)
        self.screen = Screen(out, size=size)
        self.interval_s = interval_s
        self.clock = clock
        self._next_draw = clock()

    def __enter__(self) -> PacedDashboard:
        self.screen.enter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.screen.leave()

    def tick(self) -> None:
        now = self.clock()
        if now >= self._next_draw:
            self.draw()
            self._next_draw = now + self.interval_s

    def draw(self) -> None:
        self.screen.draw(lambda width, height: render(self.state, width, height))
