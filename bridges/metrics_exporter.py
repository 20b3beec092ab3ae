"""Serve the runtime's metrics to Prometheus over HTTP, mailbox depths included.

Mailbox depth is read when Prometheus scrapes (summed per actor kind over pykka's
registry), so no actor pays for it between scrapes.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

import pykka
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 41559


class MailboxDepth(Collector):
    """``mailbox_depth{kind}``: messages waiting, over every live actor of the kind."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depths: Counter[str] = Counter()
        for ref in pykka.ActorRegistry.get_all():
            kind = getattr(ref.actor_class, "kind", ref.actor_class.__name__)
            inbox = ref.actor_inbox
            depths[kind] += inbox.qsize() if isinstance(inbox, queue.Queue) else 0
        family = GaugeMetricFamily(
            "mailbox_depth", "Messages waiting in actors' mailboxes, by actor kind", labels=["kind"]
        )
        for kind, depth in sorted(depths.items()):
            family.add_metric([kind], depth)
        yield family


_registered = threading.Lock()
_mailboxes: MailboxDepth | None = None


def serve_metrics(
    address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT
) -> tuple[WSGIServer, threading.Thread]:
    """Start the HTTP endpoint (``port`` 0 picks a free one: read ``server.server_port``)."""
    global _mailboxes  # noqa: PLW0603 - one collector per process, like the registry itself
    with _registered:
        if _mailboxes is None:
            _mailboxes = MailboxDepth()
            REGISTRY.register(_mailboxes)
    return start_http_server(port, addr=address)
