"""structlog configuration for the command line: console on a terminal, JSON lines otherwise."""

from __future__ import annotations

import enum
import logging
import sys
from decimal import Decimal
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor


def plain_values(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Decimals as their exact text and enums as their values, in JSON and on the console.

    Actors pass the values themselves, so a line filtered out by its level costs no
    formatting on the fill path.
    """
    for key, value in event_dict.items():
        if isinstance(value, Decimal):
            event_dict[key] = str(value)
        elif isinstance(value, enum.Enum):
            event_dict[key] = value.value
    return event_dict


def configure_logging(level: str = "warning", stream: TextIO | None = None) -> None:
    """Logs with bound context (actor, market_id, order_id, correlation_id) on ``stream``.

    Console lines when ``stream`` (stderr by default) is a terminal, JSON lines otherwise.
    """
    out = stream if stream is not None else sys.stderr
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if out.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            plain_values,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
