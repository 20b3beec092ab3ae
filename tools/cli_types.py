"""The command line's parsers and the option values they check before anything runs: a typo
is one clear line (argparse's ``error: argument --x: ...``, exit status 2), never a traceback
later; every ``--help`` shows the defaults."""

from __future__ import annotations

import argparse
from typing import Any


class DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it names one already or has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings and action.nargs != 0:
            return f"{text} (default: %(default)s)"
        return text


class CliParser(argparse.ArgumentParser):
    """The CLI's parsers (each subcommand's is one too): help that shows the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsShown)
        super().__init__(*args, **kwargs)


LOG_LEVELS = ("debug", "info", "warning", "error")
TRANSPORTS = ("tcp://", "ipc://", "inproc://")


def log_level(text: str) -> str:
    level = text.lower()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def endpoint(text: str) -> str:
    """A ZeroMQ endpoint names its transport: ``tcp://127.0.0.1:41550``."""
    if not text.startswith(TRANSPORTS):
        raise argparse.ArgumentTypeError(
            f"{text!r} names no transport; ZeroMQ endpoints look like tcp://127.0.0.1:41550"
        )
    return text


def positive_seconds(text: str) -> float:
    """A period in seconds, above zero: ``1``, ``0.5``."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--log-level", type=log_level, default=default, help=", ".join(LOG_LEVELS))
