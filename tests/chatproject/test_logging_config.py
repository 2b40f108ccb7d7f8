"""The log format, the ids on each line, and the access log, in process (chatproject/logging_config.py,
chatproject/access_log.py, kernel/log_context.py); tests/chatproject/test_logging.py runs them on a
real daphne."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatproject.access_log import ConnectionLogMiddleware
from chatproject.logging_config import JsonFormatter, LogContextFilter, logging_settings
from kernel import log_context
from streaming.heartbeat import HeartbeatTicker


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """pytest's capture with the console handler's filter: the ids land on the records as they are
    logged, in the context of the call."""
    ids = LogContextFilter()
    caplog.handler.addFilter(ids)
    yield caplog
    caplog.handler.removeFilter(ids)


def _record(message: str = "hello %s", *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger("chat.test").makeRecord("chat.test", logging.WARNING, __file__, 1, message, args, None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def _formatted(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    LogContextFilter().filter(record)
    return formatter.format(record)


def test_a_json_line_has_the_fields_and_the_ids_of_its_context() -> None:
    request_token = log_context.request_id.set("req-1")
    try:
        line = _formatted(_record("hello %s", "world", status=404, duration_ms=1.5), JsonFormatter())
    finally:
        log_context.request_id.reset(request_token)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert {k: entry[k] for k in ("level", "logger", "message", "request_id", "status", "duration_ms")} == {
        "level": "WARNING",
        "logger": "chat.test",
        "message": "hello world",
        "request_id": "req-1",
        "status": 404,
        "duration_ms": 1.5,
    }
    assert "connection_id" not in entry  # unset: left out, not null


def test_a_json_line_leaves_out_extra_objects_and_never_overrides_its_own_fields() -> None:
    class Request:
        def __repr__(self) -> str:
            return "<Request GET /x?token=secret-in-the-query>"

    entry = json.loads(_formatted(_record("m", request=Request(), level="forged", user_id=None), JsonFormatter()))
    assert "secret-in-the-query" not in json.dumps(entry)
    assert "request" not in entry and "user_id" not in entry
    assert entry["level"] == "WARNING"


def test_a_json_line_carries_the_traceback_as_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    entry = json.loads(_formatted(record, JsonFormatter()))
    assert "ValueError: boom" in entry["exc_info"] and "Traceback" in entry["exc_info"]


def test_the_filter_keeps_ids_a_call_passed_and_the_plain_format_shows_them() -> None:
    plain = logging.Formatter(logging_settings(log_format="plain", level="INFO")["formatters"]["plain"]["format"])
    connection_token = log_context.connection_id.set("conn-1")
    try:
        passed = _record("m", request_id="given")
        line = _formatted(passed, plain)
    finally:
        log_context.connection_id.reset(connection_token)
    assert (getattr(passed, "request_id", None), getattr(passed, "connection_id", None)) == ("given", "conn-1")
    assert line.endswith("WARNING chat.test m [request_id=given connection_id=conn-1]")
    assert _formatted(_record("m"), plain).endswith("WARNING chat.test m")


def test_a_detached_context_has_no_ids() -> None:
    token = log_context.connection_id.set("conn-1")
    try:
        assert log_context.detached().run(log_context.connection_id.get) is None
        assert log_context.connection_id.get() == "conn-1"
    finally:
        log_context.connection_id.reset(token)


@pytest.mark.parametrize(
    ("offered", "kept"),
    [("abc-DEF_1.2", True), ("x" * 64, True), ("x" * 65, False), ("has space", False), ("", False), (None, False)],
)
def test_a_client_request_id_is_kept_only_when_sane(offered: str | None, kept: bool) -> None:
    chosen = log_context.sane_request_id(offered)
    assert (chosen == offered) is kept
    if not kept:
        assert len(chosen) == 32 and int(chosen, 16) >= 0


@pytest.mark.parametrize(
    ("log_format", "level", "variable"), [("xml", "INFO", "LOG_FORMAT"), ("json", "LOUD", "CHAT_LOG_LEVEL")]
)
def test_a_bad_setting_fails_naming_its_variable(log_format: str, level: str, variable: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=variable):
        logging_settings(log_format=log_format, level=level)


def test_every_logger_of_the_config_reaches_one_handler_only() -> None:
    config = logging_settings(log_format="json", level="info")
    assert config["root"] == {"handlers": ["console"], "level": "INFO"}
    # Django's defaults give these a handler of their own; named here without one, they propagate.
    assert config["loggers"]["django"]["handlers"] == [] and config["loggers"]["django.server"]["handlers"] == []
    assert all(not logger.get("handlers") for logger in config["loggers"].values())


@pytest.mark.django_db
def test_a_request_answers_its_id_and_writes_one_access_line(api: Any, user_factory: Any, caplog: Any) -> None:
    user = user_factory()
    with caplog.at_level(logging.INFO, logger="chat.access"):
        response = api(user).get("/api/chat/v1/room/list?secret=in-the-query", HTTP_X_REQUEST_ID="trace.1")
        refused = api().get("/healthz", HTTP_X_REQUEST_ID="not sane!")

    assert response.status_code == 200 and response["X-Request-ID"] == "trace.1"
    assert refused["X-Request-ID"] != "not sane!" and len(refused["X-Request-ID"]) == 32
    lines = [r for r in caplog.records if r.name == "chat.access"]
    assert [(r.method, r.path, r.status, r.request_id, r.user_id) for r in lines] == [
        ("GET", "/api/chat/v1/room/list", 200, "trace.1", user.pk),
        ("GET", "/healthz", 200, refused["X-Request-ID"], None),
    ]
    assert all(r.duration_ms >= 0 and r.client == "127.0.0.1" for r in lines)
    assert not [r for r in caplog.records if "in-the-query" in r.getMessage()]
    assert log_context.request_id.get() is None  # reset after the request


@pytest.mark.django_db
def test_an_error_answer_is_logged_once_with_its_request_id(api: Any, caplog: Any) -> None:
    with caplog.at_level(logging.INFO):
        response = api().get("/api/chat/v1/no-such-operation", HTTP_X_REQUEST_ID="trace.404")
    assert response.status_code == 404
    lines = [(r.name, r.levelname, r.request_id) for r in caplog.records if r.name in ("django.request", "chat.access")]
    assert lines == [("django.request", "WARNING", "trace.404"), ("chat.access", "INFO", "trace.404")]


async def test_every_line_of_a_socket_carries_its_connection_id(caplog: Any) -> None:
    async def consumer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        logging.getLogger("chat.test").warning("inside the consumer")
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4003})

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws/chat/v1/stream",
        "query_string": b"client_id=secret",
        "client": ("10.0.0.1", 5),
    }
    with caplog.at_level(logging.INFO):
        await ConnectionLogMiddleware(consumer)(scope, receive, send)

    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert [name for name, _ in lines] == ["chat.test", "chat.access", "chat.access"]
    assert lines[1][1] == "WS connect /ws/chat/v1/stream client=10.0.0.1"
    assert lines[2][1].startswith("WS close /ws/chat/v1/stream code=4003 ")
    ids = {r.connection_id for r in caplog.records}
    assert len(ids) == 1 and None not in ids
    assert caplog.records[2].close_code == 4003 and caplog.records[2].accepted is True
    assert "secret" not in " ".join(message for _, message in lines)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert log_context.connection_id.get() is None


async def test_the_process_heartbeat_logs_for_no_connection_even_one_started_it(settings: Any) -> None:
    """The ticker serves every socket of the process: the socket whose join started it must not lend
    it its connection id (its lines would name the wrong socket)."""
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 0.05
    seen: list[str | None] = []

    class Member:
        channel_name, user_id, credential = "logs-test", None, None

        async def heartbeat(self) -> None:
            seen.append(log_context.connection_id.get())

        async def revoke(self) -> None:
            raise AssertionError("never revoked: no credential")

    ticker, member = HeartbeatTicker(), Member()
    token = log_context.connection_id.set("the-first-socket")
    try:
        ticker.join(member)
    finally:
        log_context.connection_id.reset(token)
    try:
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
    finally:
        ticker.leave(member)
    assert seen and seen[0] is None
