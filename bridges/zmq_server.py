"""The ZeroMQ edge's sockets: a ROUTER for commands and a PUB for events, in one thread.

ZeroMQ sockets belong to one thread, so one thread owns both; nothing else touches them.
Requests are parsed there (a malformed one is answered at once) and handled by a small
pool of workers, because a handler may wait on the actors and one slow command must not
stall the others; ``ping``, which waits on nothing, is answered on the socket thread, and
so is a request a ``relay`` passes on to another server (``bridges.zmq_relay``). The
workers serve clients in turn (``FairQueue``), and a client with ``per_client`` requests
already waiting is answered ``busy``. Finished replies and events to publish come back
through an outbox bounded in bytes, with a pipe byte to wake the poller. Sends never
block: a reply to a client that has gone is dropped and counted (``ROUTER_MANDATORY``),
and a subscriber more than ``event_hwm`` events behind loses events (it sees a ``seq``
gap and asks for a snapshot) instead of slowing the runtime. Every ``heartbeat_s`` the
socket thread publishes a ``heartbeat``, so an idle server is told from a dead one.

The socket thread can be stopped (``halt``) and started again on the same endpoints:
``supervisors.assembly.zmq_edge`` supervises it and restarts it if it ever dies (``on_exit``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import structlog
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from actors.metrics import ZMQ_COMMANDS, ZMQ_EVENTS_DROPPED
from bridges.zmq_fair_queue import FairQueue
from bridges.zmq_protocol import (
    DEFAULT_MAX_FRAME,
    CommandError,
    ErrorCode,
    Request,
    encode_json,
    parse_request,
    reply_error,
    reply_ok,
)
from bridges.zmq_relay import Relay, Reply, Upstreams
from supervisors.kernel.supervised import describe_exception

_log = structlog.get_logger("tradeactors", actor="zmq_server")

DEFAULT_COMMANDS = "tcp://127.0.0.1:41550"
DEFAULT_EVENTS = "tcp://127.0.0.1:41551"
"""Not 5555/5556, the ZeroMQ guide's hello-world ports, which other programs hold often: a
client must not end up talking to whatever else listens there."""


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
    events_dropped: int
    """Events not queued because the outbox held ``max_outbox_bytes`` already."""
    busy: int
    heartbeats: int


def serve_curve(
    context: zmq.Context[zmq.Socket[bytes]], curve: CurveConfig, *sockets: zmq.Socket[bytes]
) -> ThreadAuthenticator:
    """``sockets`` serve CURVE with ``curve``'s key and admit its allowed clients only; the
    authenticator (``stop`` it with the context) checks every one that connects."""
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(curve.allowed_clients_dir))
    public, secret = zmq.auth.load_certificate(curve.server_secret_file)
    for socket in sockets:
        socket.curve_secretkey = secret
        socket.curve_publickey = public
        socket.curve_server = True
    return auth


HEARTBEAT_TOPIC = "heartbeat"
DEFAULT_HEARTBEAT_S = 1.0
DEFAULT_EVENT_HWM = 10_000
DEFAULT_MAX_OUTBOX_BYTES = 64 * 1024 * 1024
DEFAULT_PER_CLIENT = 64


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
        event_hwm: int = DEFAULT_EVENT_HWM,
        max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES,
        per_client: int = DEFAULT_PER_CLIENT,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
        inline: frozenset[str] = frozenset({"ping"}),
        relay: Relay | None = None,
    ) -> None:
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be > 0, got {heartbeat_s}")
        self.handle = handle
        self.inline = inline
        """Commands answered on the socket thread itself: they must wait on nothing."""
        self.relay = relay
        self._upstreams: Upstreams | None = None
        self._poller = zmq.Poller()
        self.commands_endpoint = commands
        self.events_endpoint = events
        self.max_frame = max_frame
        self.curve = curve
        self.event_hwm = event_hwm
        self.max_outbox_bytes = max_outbox_bytes
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.on_exit: Callable[[str], None] | None = None
        """Called (on the socket thread) with the reason when that thread dies unasked."""
        self._queue: FairQueue[tuple[bool, Request]] = FairQueue(per_client)
        self._workers = [
            threading.Thread(target=self._work, name=f"zmq-cmd-{number}", daemon=True)
            for number in range(workers)
        ]
        self._outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._outbox_bytes = 0
        self._wake_r, self._wake_w = os.pipe()
        # A full pipe drops the wake byte instead of blocking the writer: the reader
        # drains the whole outbox on any wake anyway.
        os.set_blocking(self._wake_w, False)
        self._closed = False
        self._wake_lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests = self._errors = self._dropped = self._events = 0
        self._events_dropped = self._busy = self._heartbeats = 0
        self._busy_clients: set[bytes] = set()
        self.bound_commands = commands
        self.bound_events = events

    def start(self) -> ZmqServer:
        """Bind both sockets and serve; again after ``halt``, on the endpoints first bound."""
        if self._closed:
            raise RuntimeError("this ZeroMQ server is stopped for good")
        if self.curve is not None and not self.curve.allowed_clients_dir.is_dir():
            raise RuntimeError(
                f"CURVE allow-list {self.curve.allowed_clients_dir} is not a directory"
            )
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the ZeroMQ server is already running")
        self._stopping.clear()
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="zmq-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise RuntimeError(f"the ZeroMQ server did not start: {self._failure}")
        # A restart binds the same ports, so clients reconnect to where they were.
        self.commands_endpoint, self.events_endpoint = self.bound_commands, self.bound_events
        for worker in self._workers:
            if not worker.is_alive():
                worker.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def halt(self) -> None:
        """Stop the socket thread and unbind (the workers and the outbox stay)."""
        self._stopping.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def stop(self) -> None:
        self.halt()
        self._queue.close()
        with self._wake_lock:
            if self._closed:
                return
            # Workers still finishing may wake us later: they must not write to a reused fd.
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue an event for the PUB socket (any thread); dropped, and counted, when the
        outbox already holds ``max_outbox_bytes`` (the subscribers see a ``seq`` gap)."""
        size = len(payload)
        with self._lock:
            if self._outbox_bytes + size > self.max_outbox_bytes:
                self._events_dropped += 1
                ZMQ_EVENTS_DROPPED.inc()
                return
            self._outbox_bytes += size
        self._outbox.put(("event", topic.encode(), payload))
        self._wake()

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                requests=self._requests,
                errors=self._errors,
                replies_dropped=self._dropped,
                events=self._events,
                events_dropped=self._events_dropped,
                busy=self._busy,
                heartbeats=self._heartbeats,
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
                auth = serve_curve(context, self.curve, router, pub)
            self._poller = zmq.Poller()  # a restart's sockets are new: so is its poller
            if self.relay is not None:
                self._upstreams = Upstreams(self.relay, context, self._poller)
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
        failure: str | None = None
        try:
            self._loop(router, pub)
        except BaseException as error:  # told to the supervisor, not lost
            failure = describe_exception(error)
            _log.error("zmq_socket_thread_failed", reason=failure, exc_info=True)
        finally:
            router.close(0)
            pub.close(0)
            if self._upstreams is not None:
                self._upstreams.close()
            if auth is not None:
                auth.stop()
            context.term()
        if failure is not None and self.on_exit is not None:
            self.on_exit(failure)

    def _loop(self, router: zmq.Socket[bytes], pub: zmq.Socket[bytes]) -> None:
        poller = self._poller
        poller.register(router, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_beat = self.clock()
        while not self._stopping.is_set():
            now = self.clock()
            if now >= next_beat:
                self._heartbeat(pub)
                next_beat = now + self.heartbeat_s
            wake_at = next_beat
            if self._upstreams is not None:
                self._relayed(router, self._upstreams.expire(now))
                wake_at = min(wake_at, self._upstreams.next_deadline() or wake_at)
            timeout_ms = min(1000, max(0, int((wake_at - now) * 1000)))
            ready = dict(poller.poll(timeout_ms))
            if router in ready:
                self._receive(router)
            if self._wake_r in ready:
                os.read(self._wake_r, 65536)
                self._drain(router, pub)
            if self._upstreams is not None:
                for upstream in self._upstreams.sockets.values():
                    if upstream in ready:
                        self._relayed(router, self._upstreams.receive(upstream))

    def _relayed(self, router: zmq.Socket[bytes], replies: Iterable[Reply]) -> None:
        for reply in replies:
            ZMQ_COMMANDS.labels(cmd=reply.cmd, code=reply.code).inc()
            if reply.code != "ok":
                with self._lock:
                    self._errors += 1
            self._send(router, reply.identity, reply.delimited, reply.payload)

    def _heartbeat(self, pub: zmq.Socket[bytes]) -> None:
        with self._lock:
            self._heartbeats += 1
            seq = self._heartbeats
        document = {
            "seq": seq,
            "kind": "Heartbeat",
            "event": {"ts": time.time_ns(), "interval_ms": round(self.heartbeat_s * 1000)},
        }
        with contextlib.suppress(zmq.Again):
            pub.send_multipart([HEARTBEAT_TOPIC.encode(), encode_json(document)], zmq.NOBLOCK)

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
                self._take(router, identity, delimited, rest)
            except Exception as error:
                # A bug in parsing must cost one request its answer, never the edge.
                _log.exception("request_parsing_failed")
                self._refuse(
                    router,
                    identity,
                    delimited,
                    CommandError(ErrorCode.INTERNAL, describe_exception(error)),
                )

    def _take(
        self, router: zmq.Socket[bytes], identity: bytes, delimited: bool, rest: list[bytes]
    ) -> None:
        try:
            request = parse_request(rest, self.max_frame)
        except CommandError as error:
            _log.warning("bad_request", code=error.code, detail=error.message)
            self._refuse(router, identity, delimited, error)
            return
        endpoint = None if self.relay is None else self.relay.route(request)
        if endpoint is not None and self._upstreams is not None:
            try:
                self._upstreams.forward(identity, delimited, request, endpoint, self.clock())
            except CommandError as error:
                self._refuse(router, identity, delimited, error, cmd=request.cmd)
        elif request.cmd in self.inline:
            # On this thread, which owns the socket: the answer goes straight out.
            self._send(router, identity, delimited, self._answer(request))
        elif self._queue.put(identity, (delimited, request)):
            self._busy_clients.discard(identity)
        else:
            with self._lock:
                self._busy += 1
            if identity not in self._busy_clients:
                self._busy_clients.add(identity)
                _log.warning("client_busy", waiting=self._queue.per_client)
            self._refuse(
                router,
                identity,
                delimited,
                CommandError(
                    ErrorCode.BUSY,
                    f"{self._queue.per_client} requests of this client are waiting; "
                    "retry once they are answered",
                    request.id,
                ),
                cmd=request.cmd,
            )

    def _refuse(
        self,
        router: zmq.Socket[bytes],
        identity: bytes,
        delimited: bool,
        error: CommandError,
        cmd: str = "",
    ) -> None:
        ZMQ_COMMANDS.labels(cmd=cmd, code=error.code).inc()
        self._send(
            router, identity, delimited, reply_error(error.request_id, error.code, error.message)
        )
        with self._lock:
            self._errors += 1

    def _work(self) -> None:
        """A worker: answer requests, clients in turn, and hand replies to the socket thread."""
        while True:
            taken = self._queue.get()
            if taken is None:
                return
            identity, (delimited, request) = taken
            try:
                payload = self._answer(request)
            finally:
                self._queue.done(identity)
            with self._lock:
                self._outbox_bytes += len(payload)
            self._outbox.put(("reply", identity, delimited, payload))
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
            with self._lock:
                self._outbox_bytes -= len(item[-1])
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
