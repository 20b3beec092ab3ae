"""A client of the ZeroMQ edge: commands over a DEALER socket, events over a SUB socket.

One ``Client`` per thread (ZeroMQ sockets are not thread-safe). Replies are matched by
request id, so a late reply to an earlier, timed-out request is skipped, not mistaken.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import attrs
import zmq
import zmq.auth

from bridges.zmq_protocol import CommandError, ErrorCode, decode_json, encode_request
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS


@attrs.frozen(kw_only=True)
class ClientCurve:
    """The server's public key file and this client's secret key file (``keygen``)."""

    server_public_file: Path
    client_secret_file: Path

    def apply(self, socket: zmq.Socket[bytes]) -> None:
        server_public, _ = zmq.auth.load_certificate(self.server_public_file)
        public, secret = zmq.auth.load_certificate(self.client_secret_file)
        socket.curve_serverkey = server_public
        socket.curve_publickey = public
        socket.curve_secretkey = secret


class Client:
    def __init__(
        self,
        endpoint: str = DEFAULT_COMMANDS,
        *,
        timeout_s: float = 5.0,
        curve: ClientCurve | None = None,
    ) -> None:
        self.timeout_ms = int(timeout_s * 1000)
        self.socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(self.socket)
        self.socket.connect(endpoint)
        self._ids = itertools.count(1)
        self._prefix = os.urandom(4).hex()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.socket.close(0)

    def request(self, cmd: str, **args: Any) -> Any:
        """The command's result; CommandError with the server's code, or TimeoutError."""
        request_id = f"{self._prefix}-{next(self._ids)}"
        self.send_raw(encode_request(request_id, cmd, args))
        while True:
            reply = self.receive(self.timeout_ms)
            if reply.get("id") not in (request_id, ""):
                continue  # the answer to an earlier request that timed out here
            if reply.get("ok"):
                return reply.get("result")
            error = reply.get("error") or {}
            raise CommandError(
                error.get("code", ErrorCode.INTERNAL), error.get("message", ""), request_id
            )

    def send_raw(self, *frames: bytes) -> None:
        """Send frames as they are (tests use this to send malformed ones)."""
        self.socket.send_multipart(list(frames))

    def receive(self, timeout_ms: int) -> dict[str, Any]:
        if not self.socket.poll(timeout_ms):
            raise TimeoutError(f"no reply in {timeout_ms} ms")
        # A REQ-style client sends an empty delimiter first and gets it back: the reply is
        # always the last frame.
        frames = self.socket.recv_multipart()
        document: dict[str, Any] = decode_json(frames[-1])
        return document


class EventSubscriber:
    """``next_event(timeout_s)`` returns (topic, message) for the subscribed topic prefixes;
    ``gaps`` counts jumps in a topic's ``seq`` (events lost: ask for a ``snapshot``); behind
    a cluster's gateway, in a topic's ``seq`` of one ``shard``."""

    def __init__(
        self,
        endpoint: str = DEFAULT_EVENTS,
        topics: tuple[str, ...] = ("",),
        *,
        curve: ClientCurve | None = None,
    ) -> None:
        self.socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(self.socket)
        for topic in topics:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.socket.connect(endpoint)
        self.last_seq: dict[str, int] = {}
        """The last ``seq`` per topic (``topic@shard`` for a cluster's events)."""
        self.gaps = 0

    def next_event(self, timeout_s: float = 5.0) -> tuple[str, dict[str, Any]]:
        if not self.socket.poll(int(timeout_s * 1000)):
            raise TimeoutError(f"no event in {timeout_s} s")
        raw_topic, payload = self.socket.recv_multipart()
        topic = raw_topic.decode()
        message: dict[str, Any] = decode_json(payload)
        seq = message.get("seq")
        if isinstance(seq, int):
            shard = message.get("shard")
            stream = topic if shard is None else f"{topic}@{shard}"
            last = self.last_seq.get(stream)
            if last is not None and seq > last + 1:
                self.gaps += 1
            self.last_seq[stream] = seq
        return topic, message

    def close(self) -> None:
        self.socket.close(0)
