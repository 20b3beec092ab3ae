"""Drawing frames in place on a terminal, and giving the terminal back as it was.

The dashboard draws on the alternate screen (as ``top`` and ``less`` do) with the cursor
hidden; each frame moves the cursor home, writes its lines clearing what is left of each,
and clears below. Leaving restores the cursor and the screen the user had, so what the
command printed before (and prints after) is still there.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TextIO

REDRAW_S = 0.2
"""Seconds between frames: fresh enough to watch, far fewer than events at full speed."""

ENTER = "\x1b[?1049h\x1b[?25l"
"""Switch to the alternate screen and hide the cursor."""

LEAVE = "\x1b[?25h\x1b[?1049l"
"""Show the cursor and switch back to the normal screen."""

HOME = "\x1b[H"
CLEAR_LINE = "\x1b[K"
CLEAR_BELOW = "\x1b[J"


def is_terminal(out: TextIO) -> bool:
    """Whether ``out`` is a terminal to draw on; anything else gets plain lines."""
    return out.isatty()


def terminal_size() -> tuple[int, int]:
    """Columns and lines of the terminal (``COLUMNS``/``LINES`` override; 80x24 if unknown)."""
    size = shutil.get_terminal_size()
    return size.columns, size.lines


class Screen:
    """One terminal's drawing surface; ``with Screen(out) as screen: screen.draw(...)``."""

    def __init__(self, out: TextIO, *, size: Callable[[], tuple[int, int]] = terminal_size) -> None:
        self.out = out
        self.size = size
        self._entered = False

    def __enter__(self) -> Screen:
        self.enter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.leave()

    def enter(self) -> None:
        self.out.write(ENTER)
        self.out.flush()
        self._entered = True

    def leave(self) -> None:
        """Restore the terminal; safe to call twice (on Ctrl-C and again on the way out)."""
        if self._entered:
            self._entered = False
            self.out.write(LEAVE)
            self.out.flush()

    def draw(self, frame: Callable[[int, int], str]) -> None:
        """Draw ``frame(width, height)`` over the last one.

        One column is kept free: a line that fills the last column leaves the cursor in a
        pending wrap, where clearing the rest of the line would erase its last character.
        """
        columns, lines = self.size()
        text = frame(max(columns - 1, 0), lines)
        body = (CLEAR_LINE + "\n").join(text.split("\n"))
        self.out.write(HOME + body + CLEAR_LINE + CLEAR_BELOW)
        self.out.flush()
