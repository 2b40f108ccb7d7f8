"""The LOGGING setting: one handler (the console, on the root logger), plain text or JSON lines.

Every logger reaches that handler once, by propagation, and none has a handler of its own: Django's
defaults give the "django" logger a console handler of its own (with DEBUG on) besides ours, which
printed every warning of a request twice, so that logger and "django.server" are named here with no
handlers. The handler's filter adds the request and connection ids of kernel.log_context to each line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from kernel import log_context

LOG_FORMATS = ("plain", "json")

# A LogRecord's own attributes; anything else on a record came from a call's `extra`.
_IDS = ("request_id", "connection_id")
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "context_ids", *_IDS}


class LogContextFilter(logging.Filter):
    """Puts the current request_id and connection_id on a record (None when unset), unless the call
    passed them itself, and `context_ids`, their text for the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = {"request_id": log_context.request_id.get(), "connection_id": log_context.connection_id.get()}
        for name, value in current.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        ids = " ".join(f"{name}={getattr(record, name)}" for name in _IDS if getattr(record, name) is not None)
        record.context_ids = f" [{ids}]" if ids else ""
        return True


def _plain_value(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601, UTC), level, logger, message, the ids that are set,
    the `extra` fields of plain values (a None is left out), and exc_info as text.

    Extra objects are left out, not turned into text: Django's request logger passes the request,
    whose text carries the query string, where a careless client may have put a credential."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _IDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and not name.startswith("_") and _plain_value(value):
                entry.setdefault(name, value)  # never over time, level, logger or message
        if record.exc_info:
            entry["exc_info"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry)


def logging_settings(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict for LOG_FORMAT (plain | json) and CHAT_LOG_LEVEL; a bad value fails at
    start-up naming its variable."""
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    if level.upper() not in logging.getLevelNamesMapping():
        raise ImproperlyConfigured(f"CHAT_LOG_LEVEL must be a log level (DEBUG, INFO, WARNING, ...), got {level!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"log_context": {"()": LogContextFilter}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context_ids)s"},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["log_context"]},
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            # Django's defaults (see the module docstring): no handler of their own, the level of root.
            "django": {"handlers": [], "level": "NOTSET", "propagate": True},
            "django.server": {"handlers": [], "level": "NOTSET", "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
        },
    }
