"""The chat's Prometheus metrics, defined once for every layer (prometheus-client).

Each process counts in its own registry; with PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps
the counts in files there, so one exposition can sum every daphne and bridge process.
"""

from __future__ import annotations

from prometheus_client import Counter

EVENTS_DEAD_LETTERED = Counter(
    "chat_events_dead_lettered",
    "Outbox events that can never be published as they are (over NATS max_payload, or malformed).",
    ["reason"],
)
