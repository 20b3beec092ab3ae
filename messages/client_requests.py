"""Client requests: what the ZeroMQ edge asks execution on a client's behalf.

The edge waits outside the actors, so each request carries the ``concurrent.futures.Future``
execution resolves; no actor ever blocks on it.
"""

from __future__ import annotations

import concurrent.futures

import attrs

from messages.fields import text_field
from messages.signals import TradeSignal


@attrs.frozen(kw_only=True, slots=True)
class SubmitSignal:
    """A client's signal (the ZeroMQ ``submit``): execution handles it as any signal and
    resolves ``answer`` with ``{"order_id": ...}`` once the order is journaled, or
    ``{"denied": reason}``."""

    signal: TradeSignal = attrs.field(validator=attrs.validators.instance_of(TradeSignal))
    answer: concurrent.futures.Future[dict[str, str]] = attrs.field(
        validator=attrs.validators.instance_of(concurrent.futures.Future)
    )


@attrs.frozen(kw_only=True, slots=True)
class AwaitMarket:
    """A client waits until ``market_id`` takes orders (the ZeroMQ ``switch_market``).

    Execution resolves ``answer`` with ``{"opened": True}`` once it routes the market as the
    current, open one, or with ``{"refused": reason}`` when the market is known but closed or
    no longer current.
    """

    market_id: str = text_field()
    answer: concurrent.futures.Future[dict[str, bool | str]] = attrs.field(
        validator=attrs.validators.instance_of(concurrent.futures.Future)
    )
