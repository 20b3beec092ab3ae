"""The base every runtime actor shares: typed dispatch, bound logging, stats.

Handlers are declared with ``@handles(MessageType)``; a message nobody handles is logged and
dropped, never fatal, so a stray or malformed message cannot kill an actor.

A ``tell`` to a dead actor raises ``pykka.ActorDeadError``, and a handler is not shielded
from it: stopped half-way it would leave its state changed and the effects untold, so the
error fails the actor and its supervisor rebuilds it from the journal. Where a dead peer
is expected and harmless (a per-market actor that restarts alone and is handed what it
missed), the handler says so with ``tell_quietly``, and tells before it changes its state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import pykka
import structlog

from messages.refs import Recipient
from messages.stats import ActorStats, GetStats
from messages.subscriptions import Subscribe, Unsubscribe
from messages.supervision import InjectFault
from supervisors.kernel.errors import InjectedFaultError
from supervisors.kernel.virtual_time import KernelActor

F = TypeVar("F", bound=Callable[..., Any])

ASK_TIMEOUT_S = 5.0
"""Default timeout for every ``ask`` and ``Future.get`` made from outside an actor."""


def handles(*message_types: type, reads_only: bool = False) -> Callable[[F], F]:
    """Mark a method as the handler of ``message_types``.

    ``reads_only`` handlers (queries) change nothing and tell nothing, their reply is all
    they give, so they are not counted as handled: a client reading in a loop must not keep
    a lockstep step from going quiet. A handler that tells anyone must be counted, or a
    quiescence check could see no change while what it told is still on its way.
    """

    def mark(method: F) -> F:
        method._handles = message_types  # type: ignore[attr-defined]
        method._reads_only = reads_only  # type: ignore[attr-defined]
        return method

    return mark


class RuntimeActor(KernelActor):
    """A pykka actor with a dispatch table built from ``@handles`` methods."""

    kind: ClassVar[str] = "actor"
    _dispatch: ClassVar[dict[type, Callable[[Any, Any], Any]]] = {}
    _reads: ClassVar[frozenset[type]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dispatch: dict[type, Callable[[Any, Any], Any]] = {}
        reads: set[type] = set()
        for klass in reversed(cls.__mro__):
            for member in vars(klass).values():
                for message_type in getattr(member, "_handles", ()):
                    dispatch[message_type] = member
                    if getattr(member, "_reads_only", False):
                        reads.add(message_type)
                    else:
                        reads.discard(message_type)
        cls._dispatch = dispatch
        cls._reads = frozenset(reads)

    def __init__(self, **log_context: Any) -> None:
        super().__init__()
        self.log = structlog.get_logger("tradeactors", actor=self.kind, **log_context)
        self.handled = 0

    def on_receive(self, message: Any) -> Any:
        handler = self._dispatch.get(type(message))
        if handler is None:
            if type(message) is GetStats:
                return self.stats()
            if type(message) is InjectFault:
                raise InjectedFaultError(message.reason)
            self.log.warning("unhandled_message", message_type=type(message).__name__)
            return None
        if type(message) not in self._reads:
            self.handled += 1
        return handler(self, message)

    def stats(self) -> ActorStats:
        """Override to report scheduled work (timers) that the mailbox does not show."""
        return ActorStats(kind=self.kind, handled=self.handled)


def tell_quietly(ref: Recipient, message: object) -> bool:
    """Tell ``ref`` unless it is dead; False if it was (a restart will redo what matters)."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True


def ask(ref: Recipient, message: object) -> Any:
    """A blocking ask with the default timeout: for callers *outside* actors only.

    Inside a handler, asking another actor that may ask back is a deadlock; tell instead.
    """
    return ref.ask(message, block=True, timeout=ASK_TIMEOUT_S)


class PublishingActor(RuntimeActor):
    """An actor others subscribe to (Subscribe / Unsubscribe) and that publishes to them."""

    def __init__(self, **log_context: Any) -> None:
        super().__init__(**log_context)
        self.subscribers: list[Recipient] = []

    @handles(Subscribe)
    def _subscribe(self, message: Subscribe) -> None:
        if message.subscriber not in self.subscribers:
            self.subscribers.append(message.subscriber)
            if message.welcome:
                self.welcome(message.subscriber)

    @handles(Unsubscribe)
    def _unsubscribe(self, message: Unsubscribe) -> None:
        if message.subscriber in self.subscribers:
            self.subscribers.remove(message.subscriber)

    def welcome(self, subscriber: Recipient) -> None:
        """Send a new subscriber the current state, so it never waits for the next change."""

    def publish(self, message: object) -> None:
        """Tell every live subscriber; a dead one is skipped, never an error for the publisher."""
        for subscriber in self.subscribers:
            tell_quietly(subscriber, message)
