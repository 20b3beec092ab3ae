"""The supervision library's own Prometheus metric; the runtime's others are ``actors.metrics``.

Both register in the default registry, so ``bridges/metrics_exporter.py`` serves them together.
"""

from __future__ import annotations

from prometheus_client import Counter

ACTOR_RESTARTS = Counter("actor_restarts", "Restarts of supervised actors", ["kind"])
