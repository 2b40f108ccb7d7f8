"""Open sockets follow their credentials: a socket closes (4001) soon after its token is deleted, its
user is deactivated, or its session ends (logout, password change, expiry).

- `Credential`: what a connection authenticated with (a token key or a session key) and as whom.
- `invalid_credentials()`: which of many credentials no longer hold, in a fixed number of queries.
- At once: signals (a token deleted, a user saved, a logout) send `stream.recheck` to the user's
  group after the change commits; each connection of the user re-checks its own credential.
- As a backstop (a channel-layer message may be dropped, a row may change without a signal): the
  process's heartbeat ticker re-checks all its connections in one batch per beat (revalidate()).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal, Protocol

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework.authtoken.models import Token

from streaming.db import db_async
from streaming.envelope import user_group

logger = logging.getLogger(__name__)

RECHECK_MESSAGE_TYPE = "stream.recheck"
DB_SESSION_ENGINE = "django.contrib.sessions.backends.db"


@dataclass(frozen=True, slots=True)
class Credential:
    kind: Literal["token", "session"]
    key: str
    user_id: int


def credential_of(scope: dict[str, Any], user_id: int) -> Credential | None:
    """The credential a handshake authenticated with (streaming.ws_auth): its token, else its session."""
    token = scope.get("auth_token")
    if token:
        return Credential("token", str(token), user_id)
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    return Credential("session", str(key), user_id) if key else None


def _session_data(keys: list[str]) -> dict[str, dict[str, Any]]:
    """The live sessions among `keys`, decoded: one query on the database back end."""
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE == DB_SESSION_ENGINE:
        from django.contrib.sessions.models import Session

        store = engine.SessionStore()
        rows = Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        return {row.session_key: store.decode(row.session_data) for row in rows}
    return {key: data for key in keys if (data := engine.SessionStore(session_key=key).load())}


def _session_holds(data: dict[str, Any] | None, user: Any) -> bool:
    """As django.contrib.auth.get_user decides: the session is the user's, under their current password."""
    if not data or user is None or str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    stored = str(data.get(HASH_SESSION_KEY) or "")
    hashes = [user.get_session_auth_hash()]
    hashes += [user._get_session_auth_hash(secret=s) for s in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(constant_time_compare(stored, h) for h in hashes)


def invalid_credentials(credentials: Collection[Credential]) -> set[Credential]:
    """The credentials that no longer authenticate their user (a fixed number of queries for any number)."""
    tokens = [c for c in credentials if c.kind == "token"]
    sessions = [c for c in credentials if c.kind == "session"]
    invalid: set[Credential] = set()
    if tokens:
        valid = set(
            Token.objects.filter(key__in={c.key for c in tokens}, user__is_active=True).values_list("key", "user_id")
        )
        invalid.update(c for c in tokens if (c.key, c.user_id) not in valid)
    if sessions:
        users = {u.pk: u for u in get_user_model().objects.filter(pk__in={c.user_id for c in sessions}, is_active=True)}
        data = _session_data(list({c.key for c in sessions}))
        invalid.update(c for c in sessions if not _session_holds(data.get(c.key), users.get(c.user_id)))
    return invalid


class Revocable(Protocol):
    """A stream connection, as revalidate() sees it."""

    @property
    def credential(self) -> Credential | None: ...

    async def revoke(self) -> None:
        """Tells the client its credential is gone and closes with 4001."""


async def revalidate(connections: Iterable[Revocable]) -> int:
    """Closes the connections whose credential no longer holds (one batch of queries); how many."""
    held = [c for c in connections if c.credential is not None]
    if not held:
        return 0
    invalid = await db_async(invalid_credentials)({c.credential for c in held if c.credential is not None})
    revoked = [c for c in held if c.credential in invalid]
    for connection in revoked:
        try:
            await connection.revoke()
        except Exception as exc:  # closing already
            logger.info("stream: revoking a connection failed: %r", exc)
    return len(revoked)


# --- at once: signals → stream.recheck to the user's connections ------------------------------------


def _send_recheck(user_id: int, ended_session: str = "") -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": RECHECK_MESSAGE_TYPE, "ended_session": ended_session}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:  # called from async code: no nested loop
            loop.create_task(layer.group_send(user_group(user_id), message))
        else:
            async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception as exc:  # the backstop still closes the socket within a heartbeat
        logger.warning("stream: recheck of user %s not sent: %r", user_id, exc)


def recheck_user(user_id: int | None, *, ended_session: str = "") -> None:
    """After the current transaction commits, the user's connections re-check their credentials
    (those on `ended_session` close without asking: a logout flushes the session only after its signal)."""
    if user_id is not None:
        transaction.on_commit(lambda: _send_recheck(int(user_id), ended_session))


def _on_token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    recheck_user(instance.user_id)


def _on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no sockets; a login changes nothing of the others' credentials
    recheck_user(instance.pk)


def _on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    recheck_user(getattr(user, "pk", None), ended_session=str(getattr(session, "session_key", None) or ""))


def connect_signals() -> None:
    post_delete.connect(_on_token_deleted, sender=Token, dispatch_uid="stream-token-deleted")
    post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="stream-user-saved")
    user_logged_out.connect(_on_logged_out, dispatch_uid="stream-logged-out")
