"""The ids that tie a log line to the HTTP request or the WebSocket connection it was written for.

They live in context variables, set once at the edge (chatproject/access_log.py) and read by the log
filter (chatproject/logging_config.py), so code of any layer logs with them without passing them
along: asyncio tasks and asgiref's sync_to_async threads start with a copy of the caller's context.
"""

from __future__ import annotations

import contextvars
import re
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
connection_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("connection_id", default=None)

# What a client may choose as its request id: short, and nothing that could forge a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(offered: str | None) -> str:
    """The client's X-Request-ID when it is a sane token (<= 64 of [A-Za-z0-9._-]), else a new id."""
    if offered is not None and _SANE_ID.fullmatch(offered):
        return offered
    return new_id()


def detached() -> contextvars.Context:
    """A copy of the current context without the ids: for a task that outlives the request or
    connection that happens to start it (a process-wide ticker), whose lines belong to neither."""
    context = contextvars.copy_context()
    context.run(request_id.set, None)
    context.run(connection_id.set, None)
    return context
