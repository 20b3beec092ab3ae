"""The ZeroMQ edge's sockets: a ROUTER for commands and a PUB for events, in one thread.

ZeroMQ sockets belong to one thread, so one thread owns both; nothing else touches them.
Requests are parsed there (a malformed one is answered at once) and handled on a small
worker pool, because a handler may wait on the actors and one slow command must not stall
the others; ``ping``, which waits on nothing, is answered on the socket thread. Finished
replies and events to publish come back through a queue, with a pipe byte to wake the
poller. Sends never block: a reply to a client that has gone is dropped and counted
(``ROUTER_MANDATORY``), and a subscriber more than ``event_hwm`` events behind loses
events (it sees a ``seq`` gap and asks for a snapshot) instead of slowing the runtime.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import structlog
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from actors.metrics import ZMQ_COMMANDS
from bridges.zmq_protocol import (
    DEFAULT_MAX_FRAME,
    CommandError,
    ErrorCode,
    Request,
    parse_request,
    reply_error,
    reply_ok,
)

_log = structlog.get_logger("tradeactors", actor="zmq_server")

DEFAULT_COMMANDS = "tcp://127.0.0.1:5555"
DEFAULT_EVENTS = "tcp://127.0.0.1:5556"


@attrs.frozen(kw_only=True)
class CurveConfig:
    """CURVE for both sockets: the server's secret key file and the allowed clients' public
    key files (``tradeactors keygen`` writes both). An unknown client gets nothing."""

    server_secret_file: Path
    allowed_clients_dir: Path


@attrs.frozen(kw_only=True, slots=True)
class ServerStats:
    requests: int
    errors: int
    replies_dropped: int
    events: int


class ZmqServer:
    """``handle(request) -> result`` answers commands; ``publish(topic, payload)`` streams."""

    def __init__(
        self,
        handle: Callable[[Request], Any],
        *,
        commands: str = DEFAULT_COMMANDS,
        events: str = DEFAULT_EVENTS,
        max_frame: int = DEFAULT_MAX_FRAME,
        workers: int = 8,
        curve: CurveConfig | None = None,
        event_hwm: int = 100_000,
        inline: frozenset[str] = frozenset({"ping"}),
    ) -> None:
        self.handle = handle
        self.inline = inline
        """Commands answered on the socket thread itself: they must wait on nothing."""
        self.commands_endpoint = commands
        self.events_endpoint = events
        self.max_frame = max_frame
        self.curve = curve
        self.event_hwm = event_hwm
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="zmq-cmd")
        self._outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        # A full pipe drops the wake byte instead of blocking the writer: the reader
        # drains the whole outbox on any wake anyway.
        os.set_blocking(self._wake_w, False)
        self._closed = False
        self._wake_lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="zmq-server", daemon=True)
        self._lock = threading.Lock()
        self._requests = self._errors = self._dropped = self._events = 0
        self.bound_commands = commands
        self.bound_events = events

    def start(self) -> ZmqServer:
        if self.curve is not None and not self.curve.allowed_clients_dir.is_dir():
            raise RuntimeError(
                f"CURVE allow-list {self.curve.allowed_clients_dir} is not a directory"
            )
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise RuntimeError(f"the ZeroMQ server did not start: {self._failure}")
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._wake_lock:
            # Workers still finishing may wake us later: they must not write to a reused fd.
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue an event for the PUB socket (any thread)."""
        self._outbox.put(("event", topic.encode(), payload))
        self._wake()

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=self._requests,
                errors=self._errors,
                replies_dropped=self._dropped,
                events=self._events,
            )

    # -- the socket thread -----------------------------------------------------------------

    def _run(self) -> None:
        context = zmq.Context()
        auth: ThreadAuthenticator | None = None
        try:
            router = context.socket(zmq.ROUTER)
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            router.setsockopt(zmq.LINGER, 0)
            # Frames over max_frame get a frame_too_large reply; only a message far larger
            # (a memory attack, not a mistake) makes ZeroMQ drop the connection unread.
            router.setsockopt(zmq.MAXMSGSIZE, max(self.max_frame * 16, 1 << 20))
            pub = context.socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 0)
            pub.setsockopt(zmq.SNDHWM, self.event_hwm)
            if self.curve is not None:
                auth = ThreadAuthenticator(context)
                auth.start()
                auth.configure_curve(domain="*", location=str(self.curve.allowed_clients_dir))
                public, secret = zmq.auth.load_certificate(self.curve.server_secret_file)
                for socket in (router, pub):
                    socket.curve_secretkey = secret
                    socket.curve_publickey = public
                    socket.curve_server = True
            router.bind(self.commands_endpoint)
            pub.bind(self.events_endpoint)
            self.bound_commands = router.getsockopt_string(zmq.LAST_ENDPOINT)
            self.bound_events = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        except Exception as error:
            self._failure = error
            self._ready.set()
            if auth is not None:
                auth.stop()
            context.destroy(linger=0)
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                ready = dict(poller.poll(1000))
                if router in ready:
                    self._receive(router)
                if self._wake_r in ready:
                    os.read(self._wake_r, 65536)
                    self._drain(router, pub)
        finally:
            router.close(0)
            pub.close(0)
            if auth is not None:
                auth.stop()
            context.term()

    def _receive(self, router: zmq.Socket[bytes]) -> None:
        while True:
            try:
                frames = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            identity, rest = frames[0], frames[1:]
            delimited = bool(rest) and rest[0] == b""
            if delimited:
                rest = rest[1:]
            with self._lock:
                self._requests += 1
            try:
                request = parse_request(rest, self.max_frame)
            except CommandError as error:
                ZMQ_COMMANDS.labels(cmd="", code=error.code).inc()
                _log.warning("bad_request", code=error.code, detail=error.message)
                self._send(
                    router,
                    identity,
                    delimited,
                    reply_error(error.request_id, error.code, error.message),
                )
                with self._lock:
                    self._errors += 1
                continue
            if request.cmd in self.inline:
                # On this thread, which owns the socket: the answer goes straight out.
                self._send(router, identity, delimited, self._answer(request))
            else:
                self._pool.submit(self._serve, identity, delimited, request)

    def _serve(self, identity: bytes, delimited: bool, request: Request) -> None:
        """On a pool thread: answer, and hand the reply to the socket thread."""
        self._outbox.put(("reply", identity, delimited, self._answer(request)))
        self._wake()

    def _answer(self, request: Request) -> bytes:
        code = "ok"
        try:
            payload = reply_ok(request.id, self.handle(request))
        except CommandError as error:
            code = error.code
            payload = reply_error(request.id, error.code, error.message)
        except Exception as error:
            _log.exception("command_failed", cmd=request.cmd, request_id=request.id)
            code = ErrorCode.INTERNAL
            payload = reply_error(
                request.id, ErrorCode.INTERNAL, f"{type(error).__name__}: {error}"
            )
        if code != "ok":
            with self._lock:
                self._errors += 1
        ZMQ_COMMANDS.labels(cmd=request.cmd, code=code).inc()
        return payload

    def _drain(self, router: zmq.Socket[bytes], pub: zmq.Socket[bytes]) -> None:
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return
            if item[0] == "reply":
                _, identity, delimited, payload = item
                self._send(router, identity, delimited, payload)
            else:
                _, topic, payload = item
                try:
                    pub.send_multipart([topic, payload], zmq.NOBLOCK)
                except zmq.Again:
                    continue
                with self._lock:
                    self._events += 1

    def _send(
        self, router: zmq.Socket[bytes], identity: bytes, delimited: bool, payload: bytes
    ) -> None:
        frames = [identity, b"", payload] if delimited else [identity, payload]
        try:
            router.send_multipart(frames, zmq.NOBLOCK)
        except (zmq.Again, zmq.ZMQError):
            # Gone (EHOSTUNREACH) or not reading: a client never holds the server up.
            with self._lock:
                self._dropped += 1

    def _wake(self) -> None:
        with self._wake_lock:
            if self._closed:
                return
            try:
                os.write(self._wake_w, b"x")
            except OSError:  # full (BlockingIOError): a wake is already pending
                return
