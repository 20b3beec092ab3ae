"""Progress of a long command: a line that rewrites itself on a terminal, a summary on a pipe.

``chaos``, ``bench``, ``export`` and ``report`` take seconds to minutes. On a terminal
(stderr is a TTY) one line on stderr is redrawn in place with ``\\r``, at most every
``every_s`` unless its text changes; when piped, nothing is written until the one-line
summary, so a log or a CI transcript holds no carriage returns. Stdout is left to the
command's own output.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

ERASE_TO_END = "\x1b[K"
BAR_WIDTH = 20


class Progress:
    """One command's progress line; ``finish`` replaces it with the summary."""

    def __init__(
        self,
        command: str,
        *,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = 0.1,
    ) -> None:
        self.command = command
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.clock = clock
        self.every_s = every_s
        self.started = clock()
        self.done = 0
        self._drawn_at = float("-inf")
        self._drawn_text = ""

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def update(self, done: int | None = None, *, what: str = "", total: int | None = None) -> None:
        """``done`` of ``total`` so far, at ``what`` (a phase, a bench's name)."""
        if total is not None:
            self.total = total
        if done is not None:
            self.done = done
        if not self.tty:
            return
        now = self.clock()
        text = self._line(what)
        if now - self._drawn_at < self.every_s and what == self._drawn_text:
            return
        self._drawn_at, self._drawn_text = now, what
        self.stream.write("\r" + text + ERASE_TO_END)
        self.stream.flush()

    def finish(self, summary: str) -> None:
        """The one line that stays: over the progress line on a terminal, alone on a pipe."""
        line = f"{self.command}: {summary}"
        self.stream.write(("\r" + line + ERASE_TO_END if self.tty else line) + "\n")
        self.stream.flush()

    def _line(self, what: str) -> str:
        parts = [f"{self.command}:"]
        if what:
            parts.append(what)
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = round(share * BAR_WIDTH)
            parts.append("[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]")
            parts.append(f"{self.done:,}/{self.total:,}{' ' + self.unit if self.unit else ''}")
            parts.append(f"{share:4.0%}")
        elif self.done:
            parts.append(f"{self.done:,}{' ' + self.unit if self.unit else ''}")
        parts.append(f"{self.elapsed_s:.1f} s")
        width = shutil.get_terminal_size((80, 24)).columns - 1
        return " ".join(parts)[:width]
