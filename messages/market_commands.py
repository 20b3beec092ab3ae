"""Market commands: the market lifecycle actor drives a market's life through execution and its
position (route it, stop routing it, settle it, forget it)."""

from __future__ import annotations

from decimal import Decimal

import attrs

from messages.fields import id_field, positive_decimal, text_field, ts_init_field
from messages.markets import MarketDefinition
from messages.refs import Recipient


@attrs.frozen(kw_only=True, slots=True)
class SwitchMarket:
    """Route new orders for ``definition``'s market to ``position`` (``position_id``), the
    position of ``account`` and ``strategy``: a signal naming another is denied.

    Sent by the market lifecycle actor to the ExecutionActor before any order for the market can
    exist, so execution never holds a stale position ref (seed 000). ``position`` is the
    market's PositionActor, ``supervisor`` the MarketLifecycleActor that has its orders started.
    """

    id: str = id_field()
    ts_init: int = ts_init_field()
    definition: MarketDefinition = attrs.field(
        validator=attrs.validators.instance_of(MarketDefinition)
    )
    position: Recipient = attrs.field()
    position_id: str = text_field()
    account: str = text_field()
    strategy: str = text_field()
    supervisor: Recipient = attrs.field()


@attrs.frozen(kw_only=True, slots=True)
class CloseMarket:
    """Stop routing new orders for a market; tell ``notify`` MarketDrained once none is open."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
    notify: Recipient | None = attrs.field(default=None)


@attrs.frozen(kw_only=True, slots=True)
class SettlePosition:
    """Settle a binary market's position at resolution: the winner pays ``payout`` a share."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
    winning_security_id: str = text_field()
    payout: Decimal = positive_decimal()


@attrs.frozen(kw_only=True, slots=True)
class ArchiveMarket:
    """Forget a settled market: its actors stop and execution drops their refs."""

    id: str = id_field()
    ts_init: int = ts_init_field()
    market_id: str = text_field()
