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


class InjectedFaultError(Exception):
    """Raised by an actor told ``InjectFault``: a deliberate crash, so supervision can be tested."""
