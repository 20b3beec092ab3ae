"""Exceptions for broken invariants inside the actors' domain logic.

Business refusals (an overfill, a cancel of a filled order) are not exceptions: they come
back as outcomes and become events. These are for code paths that must never be taken.
"""


class InvalidTransitionError(Exception):
    """Raised by the order state machine for a (state, trigger) pair its table does not have."""

    def __init__(self, state: object, trigger: object) -> None:
        super().__init__(f"{getattr(state, 'name', state)} -> {getattr(trigger, 'name', trigger)}")
        self.state = state
        self.trigger = trigger


class FoldError(Exception):
    """Raised by ``RuntimeState.apply`` for a committed event the fold cannot apply.

    The fold is what snapshots hold and restarts rebuild from, so one that cannot take an
    event would part from the live actors: the JournalActor fails with this error (a fault
    of the core, restarted from the journal), and recovery raises it for the same record.
    """

    def __init__(self, seq: int, stream: str, kind: str, reason: str) -> None:
        super().__init__(f"cannot fold {kind} seq {seq} on {stream!r}: {reason}")
        self.seq = seq
        self.stream = stream
        self.kind = kind
        self.reason = reason
