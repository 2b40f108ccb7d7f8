"""JetStream: the connection and the stream of SPEC.md §5. Only `streaming/` imports `nats`.

The stream `CHAT_EVENTS` holds the room subjects `CHAT_EVENTS.<room_id>` and the user subjects
`CHAT_DIRECT_EVENTS.<user_id>`: file storage, limits retention, at most 1000 messages per subject,
S2 compression, 7 days, CHAT_STREAM_REPLICAS copies (1; 3 on a three-node cluster, whose servers
NATS_URL lists comma-separated). `ensure_stream()` creates it or brings an existing one to this
configuration (idempotent; every worker and web process calls it at start-up). Beyond the original
we allow direct gets (replay) and per-message TTLs (ephemeral typing events, on subjects of their own,
`CHAT_TYPING.<room_id>`, so that they never count towards a room subject's 1000), and keep a
duplicate window long enough for the outbox relay's republishes.
"""

from __future__ import annotations

import logging
from typing import Any

import nats
from django.conf import settings
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from events.subjects import DIRECT_SUBJECT_PREFIX, ROOM_SUBJECT_PREFIX, TYPING_SUBJECT_PREFIX

logger = logging.getLogger(__name__)

STREAM_NAME = "CHAT_EVENTS"
STREAM_SUBJECTS = [f"{ROOM_SUBJECT_PREFIX}.*", f"{DIRECT_SUBJECT_PREFIX}.*", f"{TYPING_SUBJECT_PREFIX}.*"]
MAX_MSGS_PER_SUBJECT = 1000
MAX_AGE_SECONDS = 7 * 24 * 3600.0
# JetStream drops a message whose Nats-Msg-Id it saw within this window (relay republishes).
DUPLICATE_WINDOW_SECONDS = 10 * 60.0


class NatsUnavailableError(RuntimeError):
    """NATS could not be reached (the message names the URL)."""


def nats_url() -> str:
    """NATS_URL: one server's URL, or a cluster's, comma-separated."""
    url = str(getattr(settings, "NATS_URL", "") or "")
    if not url:
        raise NatsUnavailableError("NATS_URL is not set (the embedded server sets it when `runchat` starts it)")
    return url


def nats_servers(url: str) -> list[str]:
    """The server URLs of a NATS_URL value: "nats://a:4222,nats://b:4222" is two servers."""
    return [part.strip() for part in url.split(",") if part.strip()]


def stream_replicas() -> int:
    return int(getattr(settings, "CHAT_STREAM_REPLICAS", 1))


def stream_config() -> api.StreamConfig:
    return api.StreamConfig(
        name=STREAM_NAME,
        description="Chat events: rooms (CHAT_EVENTS.<room_id>), users (CHAT_DIRECT_EVENTS.<user_id>), typing",
        subjects=list(STREAM_SUBJECTS),
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        discard=api.DiscardPolicy.OLD,
        max_msgs_per_subject=MAX_MSGS_PER_SUBJECT,
        max_age=MAX_AGE_SECONDS,
        compression=api.StoreCompression.S2,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        allow_direct=True,
        allow_msg_ttl=True,
        num_replicas=stream_replicas(),
    )


async def connect(*, name: str, url: str | None = None, connect_timeout: float = 2.0, **options: Any) -> Client:
    """A NATS connection to `url` (default NATS_URL; comma-separated: a cluster's servers); raises
    NatsUnavailableError (naming the URL) when no server can be reached.

    Once connected, the client reconnects forever on its own (`max_reconnect_attempts=-1`), to any
    server of the list (or of the cluster's, as the servers announce them).
    """
    target = url or nats_url()

    async def _quiet(exc: Exception) -> None:
        logger.debug("nats %s: %s", name, exc)

    options.setdefault("reconnect_time_wait", 0.5)
    options.setdefault("error_cb", _quiet)
    try:
        # The first connect must fail fast and clearly: with unlimited reconnect attempts, nats-py
        # would retry an unreachable server forever (two tries per server here, then NoServersError).
        nc = await nats.connect(
            nats_servers(target), name=name, connect_timeout=connect_timeout, max_reconnect_attempts=1, **options
        )
    except Exception as exc:  # nats raises NoServersError, OSError, TimeoutError...
        raise NatsUnavailableError(f"cannot connect to NATS at {target}: {exc or type(exc).__name__}") from exc
    nc.options["max_reconnect_attempts"] = -1  # once connected, ride out NATS restarts, however long
    return nc


async def ensure_stream(js: JetStreamContext) -> api.StreamInfo:
    """Creates the stream, or updates an existing one to `stream_config()`. Idempotent."""
    config = stream_config()
    try:
        info = await js.stream_info(STREAM_NAME)
    except NotFoundError:
        info = await js.add_stream(config)
        logger.info("created JetStream stream %s", STREAM_NAME)
        return info
    if _differs(info.config, config):
        info = await js.update_stream(config)
        logger.info("updated JetStream stream %s", STREAM_NAME)
    return info


def _differs(current: api.StreamConfig, wanted: api.StreamConfig) -> bool:
    fields = (
        "subjects",
        "retention",
        "max_msgs_per_subject",
        "max_age",
        "compression",
        "duplicate_window",
        "allow_direct",
        "allow_msg_ttl",
        "discard",
        "num_replicas",
    )
    for name in fields:
        have, want = getattr(current, name), getattr(wanted, name)
        if name == "subjects":
            have, want = sorted(have or []), sorted(want or [])
        if have != want:
            return True
    return False


async def stream_state(js: JetStreamContext) -> api.StreamState:
    return (await js.stream_info(STREAM_NAME)).state
