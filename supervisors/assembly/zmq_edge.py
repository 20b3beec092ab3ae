"""The ZeroMQ edge around a running runtime: command server and event stream, supervised.

::

    zmq_edge         Supervisor, one_for_one (beside the runtime's tree, not in its core)
    └── zmq_server   ZmqServerActor: owns the socket thread of one ZmqServer

If the socket thread dies, its actor fails and the supervisor starts it again on the same
endpoints (counted in ``actor_restarts_total{kind="zmq_server"}``, published as
``supervision.zmq_edge``); the workers, the outbox and the event ``seq`` counters live on.
If it keeps dying (more than ``max_restarts`` in ``period_s``), the supervisor gives up,
``down`` says why and ``on_down`` is called, so the process fails loudly instead of
trading on without an edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pykka

from bridges.zmq_events import EventStreamActor
from bridges.zmq_protocol import DEFAULT_MAX_FRAME
from bridges.zmq_server import (
    DEFAULT_COMMANDS,
    DEFAULT_EVENTS,
    DEFAULT_HEARTBEAT_S,
    CurveConfig,
    ZmqServer,
)
from messages.subscriptions import Subscribe
from supervisors.assembly.runtime import Runtime
from supervisors.assembly.zmq_commands import Commands
from supervisors.kernel.base import RuntimeActor, ask, handles
from supervisors.kernel.child_spec import ChildSpec, SupervisedContext
from supervisors.kernel.events import IntensityExceeded
from supervisors.kernel.protocol import WhichChildren
from supervisors.kernel.supervised import Supervised
from supervisors.kernel.supervisor import Supervisor

EDGE_SUPERVISOR = "zmq_edge"


class ZmqServerError(Exception):
    """Raised by ``ZmqServerActor`` when its socket thread died: the supervisor restarts it."""


@attrs.frozen(kw_only=True, slots=True)
class SocketThreadDied:
    """The socket thread ended without being asked to; ``reason`` is the exception."""

    reason: str


class ZmqServerActor(Supervised, RuntimeActor):
    """One incarnation of the socket thread: binds on start, unbinds on stop or failure."""

    kind = "zmq_server"

    def __init__(self, server: ZmqServer, *, supervision: SupervisedContext | None) -> None:
        super().__init__(supervision=supervision)
        self.server = server

    def on_start(self) -> None:
        self.server.on_exit = self._died
        if not self.server.running:  # the first incarnation adopts the edge's first start
            self.server.start()

    def on_stop(self) -> None:
        self.server.halt()

    def on_failure(self, *_exc_info: object) -> None:
        self.server.halt()

    def _died(self, reason: str) -> None:
        try:
            self.actor_ref.tell(SocketThreadDied(reason=reason))
        except pykka.ActorDeadError:
            return  # already stopping

    @handles(SocketThreadDied)
    def _socket_thread_died(self, message: SocketThreadDied) -> None:
        raise ZmqServerError(f"the ZeroMQ socket thread died: {message.reason}")


def zmq_edge_specs(server: ZmqServer) -> list[ChildSpec]:
    """The ZeroMQ edge's children: the actor that owns ``server``'s socket thread."""
    return [
        ChildSpec(
            id="zmq_server",
            start=lambda context: ZmqServerActor.start(server, supervision=context),
            start_timeout_s=15.0,
            shutdown_s=15.0,
        )
    ]


class _DownAlarm(pykka.ThreadingActor):
    """Hears the edge supervisor's events; tells the edge when it gave up."""

    def __init__(self, edge: ZmqEdge) -> None:
        super().__init__()
        self.edge = edge

    def on_receive(self, message: Any) -> None:
        if isinstance(message, IntensityExceeded):
            self.edge.gave_up(
                f"the ZeroMQ socket thread died more than {message.max_restarts} times "
                f"in {message.period_s} s"
            )


class ZmqEdge:
    """``start()`` binds both sockets (``tcp://127.0.0.1:*`` picks free ports: read
    ``commands_endpoint`` / ``events_endpoint`` after); ``stop()`` unbinds."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        commands: str = DEFAULT_COMMANDS,
        events: str = DEFAULT_EVENTS,
        curve: CurveConfig | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        max_restarts: int = 5,
        period_s: float = 30.0,
        on_down: Callable[[str], object] | None = None,
        **server_options: Any,
    ) -> None:
        self.runtime = runtime
        self.server = ZmqServer(
            Commands(runtime).handle,
            commands=commands,
            events=events,
            curve=curve,
            max_frame=max_frame,
            heartbeat_s=heartbeat_s,
            **server_options,
        )
        self.max_restarts = max_restarts
        self.period_s = period_s
        self.on_down = on_down
        self.down: str | None = None
        """Why the edge stopped serving for good (None while it serves)."""
        self.stream: pykka.ActorRef[Any] | None = None
        self.supervisor: pykka.ActorRef[Any] | None = None
        self._alarm: pykka.ActorRef[Any] | None = None

    @property
    def commands_endpoint(self) -> str:
        return self.server.bound_commands

    @property
    def events_endpoint(self) -> str:
        return self.server.bound_events

    def start(self) -> ZmqEdge:
        # Bound here first, so a taken port is this call's error; the supervisor's first
        # incarnation adopts the running socket thread.
        self.server.start()
        self.stream = EventStreamActor.start(self.server)
        self._alarm = _DownAlarm.start(self)
        self.supervisor = Supervisor.start(
            name=EDGE_SUPERVISOR,
            children=zmq_edge_specs(self.server),
            max_restarts=self.max_restarts,
            period_s=self.period_s,
            events=self.stream,
        )
        # The supervisor starts its child in its own on_start, after this start() returned:
        # until the child has taken the running thread (its on_exit), a thread that died
        # would be started again unsupervised and never counted. An ask waits for that.
        ask(self.supervisor, WhichChildren())
        self.supervisor.tell(Subscribe(subscriber=self._alarm))
        self.runtime.subscribe(self.stream)
        return self

    def gave_up(self, reason: str) -> None:
        """The edge's supervisor gave up (on its alarm's thread)."""
        self.down = reason
        if self.on_down is not None:
            self.on_down(reason)

    def stop(self) -> None:
        """Stop the stream first (nothing publishes to a closed server), then the sockets."""
        self._stop_actors()
        self.server.stop()

    def _stop_actors(self) -> None:
        for ref in (self.stream, self.supervisor, self._alarm):
            if ref is not None and ref.is_alive():
                ref.stop()
