"""The room cache (SPEC.md §7): formatted rooms per (room, user), dropped together on any room change.

Layout in Django's cache (Redis when REDIS_URL is set):
- `rooms:ver:<room>` → a random version token of the room. Invalidating a room replaces the token,
  so every entry of the room (under the old token) becomes unreachable at once and expires.
  A token is random, not a counter, so a lost version key can never resurrect old entries.
- `rooms:base:<room>:<version>:<user>` → the *base* of the formatted room as that user sees it
  (rooms.formatting: everything but unread_count / last_message / last_message_at).
- `rooms:lastat:<room>` → the room's newest message time (microseconds since the epoch), patched on
  every new message.

unread_count and last_message are never cached: selectors compute them fresh, in bulk, per request,
so the cache cannot serve stale values of them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from kernel.cache import set_if_greater
from kernel.shapes import MessageData, RoomBase
from kernel.timefmt import iso
from storage import get_repository

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _version_key(room_id: uuid.UUID | str) -> str:
    return f"rooms:ver:{room_id}"


def _base_key(room_id: uuid.UUID | str, version: str, user_id: int) -> str:
    return f"rooms:base:{room_id}:{version}:{user_id}"


def _last_at_key(room_id: uuid.UUID | str) -> str:
    return f"rooms:lastat:{room_id}"


def _timeout() -> int:
    return int(settings.CHAT_ROOM_CACHE_SECONDS)


def room_versions(room_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The current version token of each room (creating missing ones): one or two cache round trips."""
    room_ids = list(room_ids)
    found = cache.get_many([_version_key(r) for r in room_ids])
    versions = {r: found[_version_key(r)] for r in room_ids if _version_key(r) in found}
    missing = [r for r in room_ids if r not in versions]
    if missing:
        for room_id in missing:
            cache.add(_version_key(room_id), uuid.uuid4().hex, _timeout())
        # Re-read: a concurrent reader or invalidation may have won the add.
        again = cache.get_many([_version_key(r) for r in missing])
        for room_id in missing:
            versions[room_id] = again.get(_version_key(room_id)) or uuid.uuid4().hex
    return versions


def room_bases_get(user_id: int, versions: dict[uuid.UUID, str]) -> dict[uuid.UUID, RoomBase]:
    """The cached bases of these rooms for the user (misses left out)."""
    keys = {_base_key(r, v, user_id): r for r, v in versions.items()}
    found = cache.get_many(list(keys))
    return {keys[k]: value for k, value in found.items()}


def room_bases_set(user_id: int, versions: dict[uuid.UUID, str], bases: dict[uuid.UUID, RoomBase]) -> None:
    if bases:
        cache.set_many({_base_key(r, versions[r], user_id): b for r, b in bases.items()}, _timeout())


def room_last_message_times(room_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The patched newest-message times (ISO) of these rooms, where known."""
    room_ids = list(room_ids)
    found = cache.get_many([_last_at_key(r) for r in room_ids])
    times: dict[uuid.UUID, str] = {}
    for room_id in room_ids:
        value = found.get(_last_at_key(room_id))
        if isinstance(value, int):
            times[room_id] = str(iso(_EPOCH + timedelta(microseconds=value)))
        elif isinstance(value, str):  # written before the times were integers
            times[room_id] = value
    return times


def _bump(room_ids: list[uuid.UUID | str]) -> None:
    try:
        cache.set_many({_version_key(r): uuid.uuid4().hex for r in room_ids}, _timeout())
        cache.delete_many([_last_at_key(r) for r in room_ids])  # a delete may move the newest message back
    except Exception:  # a cache outage must not fail the write; entries expire on their own
        logger.exception("room cache invalidation failed for rooms %s", room_ids[:5])


def room_cache_invalidate_many(room_ids: Iterable[uuid.UUID | str]) -> None:
    """Drops every cached entry of the rooms: at once, and again after the current unit of work commits.

    The second drop closes the race of a reader that caches the old rows between the first drop and
    the commit.
    """
    ids = list(room_ids)
    if not ids:
        return
    _bump(ids)
    get_repository().on_commit(lambda: _bump(ids))


def room_cache_invalidate(room_id: uuid.UUID | str) -> None:
    """Drops every cached entry of the room (see room_cache_invalidate_many)."""
    room_cache_invalidate_many([room_id])


def room_cache_on_new_message(room_id: uuid.UUID | str, message_data: MessageData) -> None:
    """Patches the room's newest-message time (last_message itself is never cached, see above): in
    microseconds since the epoch, never moved backwards, in one round trip on Redis."""
    created_at = message_data.get("created_at")
    if not created_at:
        return
    key, micros = _last_at_key(room_id), (_parse(created_at) - _EPOCH) // timedelta(microseconds=1)
    try:
        if set_if_greater(cache, key, micros, _timeout()):
            return
        current = cache.get(key)  # not Redis (the embedded default): a get and a set
        if current is None or not isinstance(current, int) or current <= micros:
            cache.set(key, micros, _timeout())
    except Exception:  # a cache outage must not fail the send
        logger.exception("room cache patch failed for room %s", room_id)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
