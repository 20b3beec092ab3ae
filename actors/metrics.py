"""The runtime's Prometheus metrics, defined once; the actors that know a fact record it.

``bridges/metrics_exporter.py`` serves them over HTTP (``tradeactors run`` on
127.0.0.1:41559 by default). Names and labels are docs/OPERATIONS.md's "Metrics" table.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_MS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000)

EXECUTION_EVENTS = Counter(
    "execution_events",
    "Events through execution: signals, orders created, denials, venue/broker reports",
    ["type"],
)
STRATEGY_FAILURES = Counter(
    "strategy_failures",
    "Evaluations of a strategy's function that raised or returned something not a signal list",
    ["strategy", "kind"],
)
POSITION_DELTA_LATENCY_MS = Histogram(
    "position_delta_latency_ms",
    "Broker callback timestamp to the account position updated, in milliseconds",
    buckets=_MS_BUCKETS,
)
RECONCILIATION_DURATION_MS = Histogram(
    "reconciliation_duration_ms",
    "A reconcile of one account: first query to findings handed over, in milliseconds",
    buckets=(*_MS_BUCKETS, 10_000, 30_000),
)
CALLBACK_GAP_SECONDS = Gauge(
    "callback_gap_seconds", "Seconds since the broker's last callback (the heartbeat)"
)
JOURNAL_COMMIT_MS = Histogram(
    "journal_commit_ms",
    "One journal commit (a batch of appends), in milliseconds",
    buckets=_MS_BUCKETS,
)
JOURNAL_BATCH_SIZE = Histogram(
    "journal_batch_size",
    "Appends per journal commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
JOURNAL_DUPLICATES = Counter(
    "journal_duplicates",
    "Appends whose dedup key was journaled already, by kind and content: identical (a "
    "redelivery, dropped), conflicting (refused), not_compared (a kind deduplicated on its key)",
    ["kind", "content"],
)
ZMQ_COMMANDS = Counter(
    "zmq_commands", "ZeroMQ requests by command and outcome (ok or the error code)", ["cmd", "code"]
)
ZMQ_EVENTS_DROPPED = Counter(
    "zmq_events_dropped", "Events the ZeroMQ edge dropped because its outbox was full (bytes)"
)
RECONCILIATION_MISMATCH_ALERTS = Counter(
    "tradeactors_reconciliation_mismatch_alerts",
    "Position differences with the broker above the alert threshold",
    ["account"],
)
PNL_MISMATCH_ALERTS = Counter(
    "tradeactors_pnl_mismatch_alerts",
    "Realized PnL differences with the broker above the alert threshold, per security compared",
    ["account"],
)
SETTLEMENT_MISMATCH_ALERTS = Counter(
    "tradeactors_settlement_mismatch_alerts",
    "Settlement amounts differing from the broker's above the alert threshold, per date compared",
    ["account"],
)
RECOVERY_SLOW_ALERTS = Counter(
    "tradeactors_recovery_slow_alerts",
    "Startup recoveries that took longer than the limit (seed 001: 10 s) before trading resumed",
)
BROKER_CALLBACKS_QUARANTINED = Counter(
    "broker_callbacks_quarantined",
    "Broker callbacks whose arguments are malformed, quarantined instead of applied",
    ["callback"],
)
FILL_REVERSALS = Counter(
    "fill_reversals",
    "Fills taken back (a trade that failed to settle), by who took it back (order, position) "
    "and outcome (applied, or the refusal's reason)",
    ["by", "outcome"],
)
FILL_CHARGES = Counter(
    "fill_charges",
    "Broker charges (fee and tax) for a fill that replaced the fee it was booked with, by who "
    "took it (order, position) and outcome (applied, duplicate, or the refusal's reason)",
    ["by", "outcome"],
)
