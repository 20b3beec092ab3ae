"""Errors of the supervision library: an actor or a supervisor failing on purpose."""

from __future__ import annotations


class SupervisionError(Exception):
    """Base of the errors a supervisor raises to fail itself."""


class RestartIntensityError(SupervisionError):
    """Raised by a supervisor, in its own thread, when its children needed more than
    ``max_restarts`` restarts within ``period_s``: it stops its children and fails, so its
    parent supervisor sees an abnormal exit and applies its own strategy."""


class ChildStartError(SupervisionError):
    """Raised by a supervisor's ``on_start`` when a child's factory fails during the initial
    start: the children already started are stopped and the supervisor fails, as in OTP."""


class InjectedFaultError(Exception):
    """Raised by an actor told ``InjectFault``: a deliberate crash, so supervision can be tested."""
