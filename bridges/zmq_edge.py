"""The ZeroMQ edge around a running runtime: command server and event stream."""

from __future__ import annotations

from typing import Any

import pykka

from bridges.zmq_commands import Commands
from bridges.zmq_events import EventStreamActor
from bridges.zmq_protocol import DEFAULT_MAX_FRAME
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS, CurveConfig, ZmqServer
from supervisors.runtime import Runtime


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
    ) -> None:
        self.runtime = runtime
        self.server = ZmqServer(
            Commands(runtime).handle,
            commands=commands,
            events=events,
            curve=curve,
            max_frame=max_frame,
        )
        self.stream: pykka.ActorRef[Any] | None = None

    @property
    def commands_endpoint(self) -> str:
        return self.server.bound_commands

    @property
    def events_endpoint(self) -> str:
        return self.server.bound_events

    def start(self) -> ZmqEdge:
        self.server.start()
        self.stream = EventStreamActor.start(self.server)
        self.runtime.subscribe(self.stream)
        return self

    def stop(self) -> None:
        """Stop the stream first (nothing publishes to a closed server), then the sockets."""
        if self.stream is not None:
            self.stream.stop()
        self.server.stop()
