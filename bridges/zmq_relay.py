"""Requests a server passes on to another server, from its own socket thread.

A gateway in front of shards answers most commands by asking one shard. Handing each to a
worker thread that waits on the shard costs two thread hand-offs a command (to the worker,
back to the socket thread) on top of the network hop. With a ``Relay``, the server's socket
thread sends such a request straight on, from a DEALER of its own per destination, and
sends the destination's reply back to the client when it comes: no thread waits.

Each relayed request goes on under an id of the relay's (two clients may use the same id)
and its reply comes back with the client's: the reply frame is the destination's own, its
id swapped in place (a reply is ``{"v":1,"id":"…",…`` as ``reply_ok`` writes it), never
decoded and encoded again. A destination silent for ``timeout_s`` gets the request an
``internal`` error that says the effect is unknown (it was sent once; it may have been
applied) and is told to the relay's ``lost``, which forgets it.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import attrs
import structlog
import zmq

from bridges.zmq_protocol import (
    VERSION,
    CommandError,
    ErrorCode,
    Request,
    decode_json,
    encode_json,
    encode_request,
    reply_error,
)

if TYPE_CHECKING:  # the client module imports the server's, which imports this one
    from bridges.zmq_client import ClientCurve

_log = structlog.get_logger("tradeactors", actor="zmq_relay")

_PREFIX = b'{"v":%d,"id":"' % VERSION
"""How every reply of a tradeactors server begins (``reply_ok``, ``reply_error``)."""


class Relay(Protocol):
    """Which requests go where; told when a destination stopped answering."""

    timeout_s: float
    curve: ClientCurve | None

    def route(self, request: Request) -> str | None:
        """The endpoint to pass ``request`` on to, or None to answer it on a worker."""

    def lost(self, endpoint: str) -> None:
        """``endpoint`` left a request unanswered for ``timeout_s``."""


@attrs.frozen
class Reply:
    """A frame to send a client: its ROUTER identity, whether it sent a delimiter."""

    identity: bytes
    delimited: bool
    payload: bytes
    cmd: str
    code: str


@attrs.frozen
class _Pending:
    identity: bytes
    delimited: bool
    request_id: str
    cmd: str
    endpoint: str
    deadline: float


class Upstreams:
    """The socket thread's side of a relay: its DEALERs and the requests in flight."""

    def __init__(
        self, relay: Relay, context: zmq.Context[zmq.Socket[bytes]], poller: zmq.Poller
    ) -> None:
        self.relay = relay
        self.context = context
        self.poller = poller
        """The socket thread's poller: each new DEALER is registered in it."""
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        self._pending: dict[bytes, _Pending] = {}
        self._deadlines: collections.deque[tuple[float, bytes]] = collections.deque()
        self._ids = (b"r%d" % number for number in itertools.count(1))
        self.unmatched = 0
        """Replies that came after their request expired (or were never ours)."""

    def forward(
        self, identity: bytes, delimited: bool, request: Request, endpoint: str, now: float
    ) -> None:
        """Send ``request`` on (CommandError ``busy`` if its destination's queue is full)."""
        socket = self.sockets.get(endpoint)
        if socket is None:
            socket = self.sockets[endpoint] = self.context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            if self.relay.curve is not None:
                self.relay.curve.apply(socket)
            socket.connect(endpoint)
            self.poller.register(socket, zmq.POLLIN)
        relay_id = next(self._ids)
        try:
            socket.send(encode_request(relay_id.decode(), request.cmd, request.args), zmq.NOBLOCK)
        except zmq.Again:
            raise CommandError(
                ErrorCode.BUSY, f"{endpoint} is not taking requests now; retry", request.id
            ) from None
        deadline = now + self.relay.timeout_s
        self._pending[relay_id] = _Pending(
            identity, delimited, request.id, request.cmd, endpoint, deadline
        )
        self._deadlines.append((deadline, relay_id))

    def receive(self, socket: zmq.Socket[bytes]) -> Iterator[Reply]:
        """The replies waiting on ``socket``, each for its client, with the client's id."""
        while True:
            try:
                payload = socket.recv_multipart(zmq.NOBLOCK)[-1]
            except zmq.Again:
                return
            end = payload.find(b'"', len(_PREFIX))
            pending = None
            if payload.startswith(_PREFIX) and end > 0:
                pending = self._pending.pop(payload[len(_PREFIX) : end], None)
            if pending is None:
                self.unmatched += 1
                _log.warning("relay_reply_unmatched", size=len(payload))
                continue
            swapped = b'{"v":%d,"id":' % VERSION + encode_json(pending.request_id)
            code = "ok" if payload.startswith(b'","ok":true', end) else _error_code(payload)
            yield Reply(
                pending.identity, pending.delimited, swapped + payload[end + 1 :], pending.cmd, code
            )

    def expire(self, now: float) -> Iterator[Reply]:
        """An error for each request whose destination has not answered by its deadline."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _deadline, relay_id = self._deadlines.popleft()
            pending = self._pending.pop(relay_id, None)
            if pending is None:
                continue  # answered in time
            _log.warning("relay_timeout", cmd=pending.cmd, endpoint=pending.endpoint)
            self.relay.lost(pending.endpoint)
            message = (
                f"no answer to {pending.cmd} from {pending.endpoint} in "
                f"{self.relay.timeout_s:g} s; the effect is unknown: check state before "
                "sending it again"
            )
            yield Reply(
                pending.identity,
                pending.delimited,
                reply_error(pending.request_id, ErrorCode.INTERNAL, message),
                pending.cmd,
                ErrorCode.INTERNAL,
            )

    def next_deadline(self) -> float | None:
        return self._deadlines[0][0] if self._deadlines else None

    def close(self) -> None:
        for socket in self.sockets.values():
            socket.close(0)
        self.sockets.clear()


def _error_code(payload: bytes) -> str:
    """An error reply's code, for the metrics (errors are rare: decoding one is cheap)."""
    try:
        return str(decode_json(payload)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ErrorCode.INTERNAL
