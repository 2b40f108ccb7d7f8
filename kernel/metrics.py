"""The chat's Prometheus metrics, defined once for every layer (prometheus-client).

Each process counts in its own registry; with PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps
the counts in files there, so one exposition can sum every daphne and bridge process.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_DEAD_LETTERED = Counter(
    "chat_events_dead_lettered",
    "Outbox events that can never be published as they are (over NATS max_payload, or malformed).",
    ["reason"],
)

# The stream's reconnect and gap replays (streaming.replay): reading JetStream, and waiting for a slot
# (at most CHAT_STREAM_REPLAY_CONCURRENCY run at once per process).
STREAM_REPLAYS_RUNNING = Gauge(
    "chat_stream_replays_running", "Stream replays reading JetStream now.", multiprocess_mode="livesum"
)
STREAM_REPLAYS_WAITING = Gauge(
    "chat_stream_replays_waiting", "Stream replays waiting for a replay slot.", multiprocess_mode="livesum"
)
