"""The shared progress line: redrawn in place on a terminal, one summary line on a pipe."""

from __future__ import annotations

import io

from tools.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_line_is_redrawn_at_most_every_interval_then_the_summary_replaces_it() -> None:
    terminal, clock = Terminal(), Clock()
    progress = Progress("export fills", total=200, unit="records", stream=terminal, clock=clock)

    progress.update(0)
    progress.update(50)  # within the interval: not drawn
    clock.now += 0.25
    progress.update(100)
    progress.update(150, what="writing")  # a new phase is drawn at once
    progress.finish("200 records in 0.3 s")

    draws = terminal.getvalue().split("\r")[1:]
    assert draws == [
        "export fills: [....................] 0/200 records   0% 0.0 s\x1b[K",
        "export fills: [##########..........] 100/200 records  50% 0.2 s\x1b[K",
        "export fills: writing [###############.....] 150/200 records  75% 0.2 s\x1b[K",
        "export fills: 200 records in 0.3 s\x1b[K\n",
    ]


def test_on_a_pipe_only_the_summary_is_written() -> None:
    pipe, clock = io.StringIO(), Clock()
    progress = Progress("chaos", total=10, unit="records", stream=pipe, clock=clock)

    for done in range(11):
        clock.now += 1
        progress.update(done, what="clean run" if done < 5 else "run with faults")
    progress.finish("10 records twice, 0 faults, EQUAL to the clean run, in 11.0 s")

    assert (
        pipe.getvalue() == "chaos: 10 records twice, 0 faults, EQUAL to the clean run, in 11.0 s\n"
    )
    assert progress.done == 10
