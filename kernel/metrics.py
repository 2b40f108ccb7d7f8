"""The chat's Prometheus metrics, defined once for every layer (prometheus-client).

Each process counts in its own registry; with PROMETHEUS_MULTIPROC_DIR set, prometheus-client keeps
the counts in files there, so one exposition (`GET /metrics`, chatproject/metrics.py) sums every
daphne and bridge process. The directory is created here if missing (prometheus-client opens its
files as the metrics below are defined); emptying it before the processes start is the operator's
(README "Metrics"), or `runchat`'s.

The hot paths stay cheap: a send, and a socket's delivery of an event, each touch one counter; the
stored→socket histogram is observed about once per event and process (see STREAM_EVENT_LATENCY).
The outbox backlog is not here: it is read from storage at scrape time (chatproject/metrics.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, multiprocess

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

if multiproc_dir := os.environ.get(MULTIPROC_DIR_VARIABLE):
    os.makedirs(multiproc_dir, exist_ok=True)


def forget_other_processes() -> int:
    """Deletes the multi-process files of every other process (earlier runs: their counts would add
    up forever); for a process that runs the whole chat alone (`runchat`). Returns how many."""
    if not multiproc_dir:
        return 0
    own = f"_{os.getpid()}.db"
    stale = [f for f in Path(multiproc_dir).glob("*.db") if not f.name.endswith(own)]
    for file in stale:
        file.unlink(missing_ok=True)
    return len(stale)


def mark_process_dead() -> None:
    """At a clean exit: this process's live gauges (open sockets, running replays) leave the sums."""
    if multiproc_dir:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# Milliseconds to seconds: a send answered in 5 ms, a frame a second late after a NATS hiccup.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- HTTP and database (chatproject.metrics.RequestMetricsMiddleware) ---------------------------

HTTP_REQUESTS = Counter(
    "chat_http_requests", "HTTP requests answered, by view, method and status.", ["view", "method", "status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "chat_http_request_seconds", "Time to answer an HTTP request, by view.", ["view"], buckets=LATENCY_BUCKETS
)
DB_QUERIES = Counter("chat_db_queries", "Database queries run while answering HTTP requests.", ["database"])
DB_QUERY_SECONDS = Histogram(
    "chat_db_query_seconds",
    "Time of one database query run while answering an HTTP request.",
    ["database"],
    buckets=LATENCY_BUCKETS,
)

# --- messages and events ---------------------------------------------------------------------

MESSAGES_SENT = Counter("chat_messages_sent", "Messages stored by SendMessage (idempotent repeats not counted).")
SEND_SECONDS = Histogram(
    "chat_message_send_seconds",
    "Time of a SendMessage that stored a message: checks, the unit of work and its commit.",
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter("chat_events_published", "Outbox events JetStream acknowledged (publisher and relay).")
EVENTS_DEAD_LETTERED = Counter(
    "chat_events_dead_lettered",
    "Outbox events that can never be published as they are (over NATS max_payload, or malformed).",
    ["reason"],
)
BRIDGE_EVENTS_FORWARDED = Counter(
    "chat_bridge_events_forwarded", "Events the bridge sent to a channel-layer group (room or user)."
)
# Set by each bridge from its durable consumer's info every BRIDGE_CONSUMER_POLL_SECONDS.
BRIDGE_CONSUMER_PENDING = Gauge(
    "chat_bridge_consumer_pending",
    "Stream events the bridge's durable consumer has not delivered yet (its lag, in events).",
    ["durable"],
    multiprocess_mode="livemax",
)
BRIDGE_CONSUMER_ACK_PENDING = Gauge(
    "chat_bridge_consumer_ack_pending",
    "Events delivered to the bridge and not acknowledged yet (being forwarded).",
    ["durable"],
    multiprocess_mode="livemax",
)

# --- the stream (streaming.consumers, streaming.replay) --------------------------------------

STREAM_SOCKETS_OPEN = Gauge(
    "chat_stream_sockets_open", "Stream sockets open (accepted and registered).", multiprocess_mode="livesum"
)
STREAM_EVENTS_DELIVERED = Counter("chat_stream_events_delivered", "Event frames sent to stream sockets.")
# Observed when a socket sends a live event, skipped at the next sockets of the same process that
# send the same event (one counter per socket is the fan-out's budget): about once per event and
# process. "Stored": JetStream's timestamp of the event (the outbox's delay before it shows in
# chat_outbox_oldest_pending_age_seconds).
STREAM_EVENT_LATENCY = Histogram(
    "chat_stream_event_latency_seconds",
    "From an event stored in JetStream to its frame sent on a socket (live events, sampled per process).",
    buckets=LATENCY_BUCKETS,
)
STREAM_REPLAYS = Counter(
    "chat_stream_replays", "Replays from JetStream: reconnect (with a cursor) or gap (seen live).", ["kind"]
)
STREAM_GAPS = Counter("chat_stream_gaps", "Gaps a socket saw in live delivery (the channel layer dropped an event).")
STREAM_RESYNC_REQUIRED = Counter(
    "chat_stream_resync_required", "resync_required frames sent: missed events that could not be replayed."
)
# The stream's reconnect and gap replays (streaming.replay): reading JetStream, and waiting for a slot
# (at most CHAT_STREAM_REPLAY_CONCURRENCY run at once per process).
STREAM_REPLAYS_RUNNING = Gauge(
    "chat_stream_replays_running", "Stream replays reading JetStream now.", multiprocess_mode="livesum"
)
STREAM_REPLAYS_WAITING = Gauge(
    "chat_stream_replays_waiting", "Stream replays waiting for a replay slot.", multiprocess_mode="livesum"
)

# --- push (streaming.push) -------------------------------------------------------------------

PUSH_SENT = Counter("chat_push_sent", "Push notifications the push back end accepted.")
PUSH_FAILED = Counter("chat_push_failed", "Push notifications the push back end refused or failed.")
