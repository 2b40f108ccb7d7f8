"""Times and timeuuids of the `scylla` back end: microseconds since the epoch (what the tables store),
month buckets, and timeuuids ordered and built exactly as Cassandra does."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

# --- time ----------------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_UUID_EPOCH_OFFSET = 0x01B21DD213814000  # 100 ns intervals from 1582-10-15 to 1970-01-01


def to_us(value: datetime) -> int:
    """Microseconds since the epoch, exactly."""
    return (value - EPOCH) // _MICRO


def opt_us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def from_us(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def at_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def month_bucket(us: int) -> int:
    moment = at_us(us)
    return moment.year * 12 + moment.month - 1


_clock_lock = threading.Lock()
_clock_last = 0


def monotonic_now_us() -> int:
    """The current time in microseconds, strictly increasing within the process (outbox order)."""
    global _clock_last
    now = to_us(datetime.now(UTC))
    with _clock_lock:
        _clock_last = max(now, _clock_last + 1)
        return _clock_last


# --- timeuuids (Cassandra orders them by time, then by the low 8 bytes as signed bytes) ----------


def _timeuuid(us: int, clock_seq: int, node: int) -> uuid.UUID:
    intervals = us * 10 + _UUID_EPOCH_OFFSET
    return uuid.UUID(
        fields=(
            intervals & 0xFFFFFFFF,
            (intervals >> 32) & 0xFFFF,
            (intervals >> 48) & 0x0FFF,
            0x80 | ((clock_seq >> 8) & 0x3F),
            clock_seq & 0xFF,
            node,
        ),
        version=1,
    )


def timeuuid_for(us: int, key: uuid.UUID) -> uuid.UUID:
    """The timeuuid of a row created at `us`, unique by `key` (a message or event id): deterministic,
    so a cursor (created_at, id) maps back to the clustering key."""
    return _timeuuid(us, (key.int >> 48) & 0x3FFF, key.int & 0xFFFFFFFFFFFF)


def timeuuid_us(value: uuid.UUID) -> int:
    """The time of a timeuuid, in microseconds since the epoch (the inverse of timeuuid_for)."""
    return (value.time - _UUID_EPOCH_OFFSET) // 10


def min_timeuuid(us: int) -> uuid.UUID:
    """The smallest timeuuid of time `us` (as Cassandra's minTimeuuid)."""
    return _timeuuid(us, 0x0080, 0x808080808080)


def max_timeuuid(us: int) -> uuid.UUID:
    """The largest timeuuid of time `us` (as Cassandra's maxTimeuuid)."""
    return _timeuuid(us, 0x3F7F, 0x7F7F7F7F7F7F)


def timeuuid_order(value: uuid.UUID) -> tuple[int, int]:
    """A Python sort key that orders timeuuids as Cassandra does."""
    return value.time, (value.int & 0xFFFFFFFFFFFFFFFF) ^ 0x8080808080808080


LOWEST_TIMEUUID = min_timeuuid(0)
HIGHEST_TIMEUUID = max_timeuuid(to_us(datetime(9999, 1, 1, tzinfo=UTC)))


