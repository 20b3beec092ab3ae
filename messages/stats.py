"""Actor health: how much an actor has done and whether it still has work scheduled."""

from __future__ import annotations

import attrs

from messages.fields import text_field


@attrs.frozen(kw_only=True, slots=True)
class GetStats:
    """Ask an actor for its ActorStats (answered through ``ask``; not counted as handled)."""


@attrs.frozen(kw_only=True, slots=True)
class ActorStats:
    """``handled`` counts messages processed; ``scheduled`` counts timers not yet fired."""

    kind: str = text_field()
    handled: int = attrs.field(validator=attrs.validators.instance_of(int))
    scheduled: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
