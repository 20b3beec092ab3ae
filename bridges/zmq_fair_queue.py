"""FairQueue: the edge's requests waiting for a worker, served round-robin by client.

One client that queues thousands of requests must not make another client's one request
wait behind them: each client has its own queue, bounded (``put`` says no past the bound,
and the server answers ``busy``), and the workers take one request from each client with
work in turn. ``done`` releases a client's slot once its request is answered, so the bound
counts requests queued and in service.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class FairQueue(Generic[T]):
    def __init__(self, per_client: int) -> None:
        if per_client < 1:
            raise ValueError(f"per_client must be >= 1, got {per_client}")
        self.per_client = per_client
        self._queues: dict[bytes, collections.deque[T]] = {}
        self._ready: collections.deque[bytes] = collections.deque()
        """Clients with queued work, in the order their next request is served."""
        self._pending: collections.Counter[bytes] = collections.Counter()
        self._condition = threading.Condition()
        self._closed = False

    def put(self, client: bytes, item: T) -> bool:
        """Queue ``item`` for ``client``; False (nothing queued) if it already has
        ``per_client`` requests queued or in service."""
        with self._condition:
            if self._pending[client] >= self.per_client:
                return False
            self._pending[client] += 1
            queue = self._queues.get(client)
            if queue is None:
                queue = self._queues[client] = collections.deque()
                self._ready.append(client)
            queue.append(item)
            self._condition.notify()
            return True

    def get(self) -> tuple[bytes, T] | None:
        """The next (client, item), the clients taken in turn; None once closed."""
        with self._condition:
            while not self._ready and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            client = self._ready.popleft()
            queue = self._queues[client]
            item = queue.popleft()
            if queue:
                self._ready.append(client)
            else:
                del self._queues[client]
            return client, item

    def done(self, client: bytes) -> None:
        """``client``'s request taken by ``get`` is answered: its slot is free again."""
        with self._condition:
            self._pending[client] -= 1
            if self._pending[client] <= 0:
                del self._pending[client]

    def pending(self, client: bytes) -> int:
        with self._condition:
            return self._pending[client]

    def close(self) -> None:
        """Wake every waiting worker with None; what is still queued is not served."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
