"""The actor refs messages carry, typed without naming the actor class.

pykka types a ref by its actor (``ActorRef[OrderActor]``), invariantly: a field typed
``ActorRef[pykka.Actor]`` refuses every concrete ref, and naming the concrete class would make
messages import actors. What a message's receiver does with a ref is tell it or, from
outside the actors, ask it; so the field is this protocol, which every ``pykka.ActorRef``
satisfies as it is.
"""

from __future__ import annotations

from typing import Literal, Protocol


class Recipient(Protocol):
    """An actor to tell (or, outside the actors, ask): a ``pykka.ActorRef`` of any actor."""

    @property
    def actor_class(self) -> type:
        """The actor's class, for logs."""
        ...

    def tell(self, message: object) -> None: ...

    def ask(
        self, message: object, *, block: Literal[True], timeout: float | None = None
    ) -> object: ...
