"""BatchReceiver: an actor the journal may tell one ``Delivered`` per commit.

Each event of the batch goes through ``on_receive`` in order, as if it had been told alone,
so a batch changes only how many mailbox hops a commit costs, never what is applied.
"""

from __future__ import annotations

from typing import Any, ClassVar

from messages.journal_protocol import Delivered
from supervisors.kernel.base import handles


class BatchReceiver:
    """Mixed into a ``RuntimeActor`` (before it): takes the journal's ``Delivered``."""

    takes_batches: ClassVar[bool] = True

    @handles(Delivered)
    def _delivered(self, message: Delivered) -> None:
        receive: Any = self.on_receive  # type: ignore[attr-defined]
        for event in message.events:
            receive(event)
