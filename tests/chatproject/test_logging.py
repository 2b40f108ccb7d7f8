"""The logs of a real daphne and bridge with LOG_FORMAT=json: every line one JSON object, each warning
written once, the request id on every line of a request and the connection id on every line of a
socket, an access line per request and per socket, and no password, token or message text anywhere."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar
from typing import Any

import pytest

from bench.wsclient import WebSocket, WebSocketClosedError
from tests.factories import UserFactory, token_for
from tests.servers import ROOT, ChatServer, Service, api_post, server_env, started_server, stop_process

pytestmark = pytest.mark.django_db(transaction=True)

LOGS = ROOT / "test-artifacts" / "logging"


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> None:
    """Overrides tests/conftest.py's MD5 hasher: the server checks the login page's passwords with
    the hashers of its settings."""


@pytest.fixture(scope="module")
def json_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChatServer]:
    with started_server(LOGS, LOG_FORMAT="json") as server:
        yield server


def _log_lines(server: ChatServer, name: str) -> list[str]:
    return [line for line in (server.logs / name).read_text().splitlines() if line.strip()]


def _entries(server: ChatServer, name: str) -> list[dict[str, Any]]:
    entries = []
    for line in _log_lines(server, name):
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{name}: a line that is not JSON: {line!r}")
    return entries


def _wait_for(found: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            pytest.fail(f"not logged within {timeout}s: {what}")
        time.sleep(0.1)


def _http(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    opener: urllib.request.OpenerDirector | None = None,
) -> tuple[int, Any, str]:
    """(status, headers, text) of a request; 4xx and 5xx answers too."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with (opener.open if opener else urllib.request.urlopen)(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def _sign_in(server: ChatServer, opener: urllib.request.OpenerDirector, username: str, password: str) -> str:
    """Posts the login form; the path the browser ends on."""
    _, _, page = _http(f"{server.url}/accounts/login/", opener=opener)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf, page
    form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf.group(1)}
    request = urllib.request.Request(
        f"{server.url}/accounts/login/", data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    with opener.open(request, timeout=30) as response:
        return str(urllib.parse.urlsplit(response.url).path)


def test_a_warning_is_written_once_with_its_request_id(json_server: ChatServer) -> None:
    path = f"/api/chat/v1/no-such-operation-{uuid.uuid4().hex}"
    status, headers, _ = _http(f"{json_server.url}{path}?key=value")
    assert status == 404

    def access_line() -> bool:
        return any(path in line and "chat.access" in line for line in _log_lines(json_server, "daphne.log"))

    _wait_for(access_line, f"the access line of {path}")
    warnings = [line for line in _log_lines(json_server, "daphne.log") if f"Not Found: {path}" in line]
    assert len(warnings) == 1, warnings  # Django's own handler printed it a second time
    entry = json.loads(warnings[0])
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "WARNING",
        "django.request",
        headers["X-Request-ID"],
    )
    assert not [line for line in _log_lines(json_server, "daphne.log") if "key=value" in line]  # no query string


async def _socket_session(server: ChatServer, token: str, bogus_token: str, send: Callable[[], str], text: str) -> int:
    """A member's socket gets a message sent over REST, sends a frame the server refuses (an error
    frame, no 5xx), and closes; a socket with an unknown token is refused. The refused one's code."""
    url = f"ws://127.0.0.1:{server.port}/ws/chat/v1/stream?client_id=logs"
    socket = await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
    try:
        assert json.loads(await socket.recv()).get("connected") is True
        message_id = await asyncio.get_running_loop().run_in_executor(None, send)
        while (frame := json.loads(await asyncio.wait_for(socket.recv(), 15))).get("message", {}).get(
            "id"
        ) != message_id:
            pass
        await socket.send_json({"say": text})
        while "error" not in (frame := json.loads(await asyncio.wait_for(socket.recv(), 15))):
            pass
        assert frame["error"]["code"] == "invalid_request_data"
    finally:
        await socket.close()
    refused = await WebSocket.connect(url, headers={"Authorization": f"Token {bogus_token}"})
    try:
        while True:
            await asyncio.wait_for(refused.recv(), 15)
    except WebSocketClosedError as closed:
        return int(closed.code or 0)
    finally:
        await refused.close()


def test_no_password_token_or_message_text_reaches_the_logs(json_server: ChatServer) -> None:
    password, wrong_password = f"pw-{uuid.uuid4().hex}", f"wrong-{uuid.uuid4().hex}"
    text, bogus_token = f"plaintext-{uuid.uuid4().hex}", secrets.token_hex(20)
    alice, bob = UserFactory(password=password), UserFactory()
    alice_token, bob_token = token_for(alice), token_for(bob)

    # The login page: a wrong password, then the right one.
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    assert _sign_in(json_server, browser, alice.username, wrong_password) == "/accounts/login/"
    assert _sign_in(json_server, browser, alice.username, password) == "/"
    cookies = [cookie.value for cookie in jar if cookie.value]
    assert len(cookies) >= 2  # the session and the CSRF token: secrets too

    # REST with the token, a socket with a token on its handshake, a 4xx and an unknown token.
    room = api_post(
        json_server, alice_token, "room/create", {"type": "group", "name": "logs", "participants": [bob.pk]}
    )
    auth = {"Authorization": f"Token {alice_token}", "Content-Type": "application/json"}
    echoed: dict[str, str] = {}

    def send() -> str:
        body = json.dumps({"room_id": room["room"]["id"], "text": text}).encode()
        headers = {**auth, "X-Request-ID": "trace-send.1"}
        status, answer_headers, answer = _http(
            f"{json_server.url}/api/chat/v1/send", method="POST", headers=headers, body=body
        )
        assert status == 200, answer
        echoed["sane"] = answer_headers["X-Request-ID"]
        return str(json.loads(answer)["message"]["id"])

    refused_code = asyncio.run(_socket_session(json_server, bob_token, bogus_token, send, text))
    assert refused_code == 4001
    bad = json.dumps({"room_id": "not-a-room", "text": text}).encode()
    headers = {**auth, "X-Request-ID": "not a sane id!"}
    status, bad_headers, _ = _http(f"{json_server.url}/api/chat/v1/send", method="POST", headers=headers, body=bad)
    assert status == 400
    status, _, _ = _http(f"{json_server.url}/api/chat/v1/room/list", headers={"Authorization": f"Token {bogus_token}"})
    assert status == 401
    assert echoed["sane"] == "trace-send.1"
    assert re.fullmatch(r"[0-9a-f]{32}", bad_headers["X-Request-ID"])

    def socket_lines_done() -> bool:
        return sum('"ws_close"' in line for line in _log_lines(json_server, "daphne.log")) >= 2

    _wait_for(socket_lines_done, "the close lines of both sockets")
    daphne, bridge = _entries(json_server, "daphne.log"), _entries(json_server, "bridge.log")

    everything = "\n".join(_log_lines(json_server, "daphne.log") + _log_lines(json_server, "bridge.log"))
    for secret in (password, wrong_password, alice_token, bob_token, bogus_token, text, *cookies):
        assert secret not in everything

    requests = [e for e in daphne if e.get("event") == "http_request"]
    assert requests and all(re.fullmatch(r"[A-Za-z0-9._-]{1,64}", e.get("request_id", "")) for e in requests)
    assert all("?" not in e["path"] for e in requests)
    assert not [e for e in daphne if e["logger"] == "django.request" and "request_id" not in e]
    (sent,) = [e for e in requests if e["request_id"] == "trace-send.1"]
    assert (sent["method"], sent["path"], sent["status"], sent["user_id"]) == (
        "POST",
        "/api/chat/v1/send",
        200,
        alice.pk,
    )
    (refused,) = [e for e in requests if e["request_id"] == bad_headers["X-Request-ID"]]
    assert refused["status"] == 400

    sockets = [e for e in daphne if e.get("event") in ("ws_connect", "ws_close")]
    assert all(e.get("connection_id") for e in sockets)
    by_connection: dict[str, list[str]] = {}
    for e in sockets:
        by_connection.setdefault(e["connection_id"], []).append(e["event"])
    assert sorted(by_connection.values()) == [["ws_connect", "ws_close"], ["ws_connect", "ws_close"]]
    codes = sorted(e["close_code"] for e in sockets if e["event"] == "ws_close")
    assert codes == [1000, 4001]

    assert any("partition 0 of 1 running" in e["message"] for e in bridge)


def test_the_outbox_relay_writes_json_lines_only(tmp_path: Any) -> None:
    """The relay's start line was command output (text) among the JSON lines of its log."""
    args = [sys.executable, "manage.py", "chat_outbox_relay", "--interval", "0.2"]
    relay = Service("relay", args, env=server_env(LOG_FORMAT="json"), log=tmp_path / "relay.log")
    relay.start()
    try:
        relay.wait_output("chat_outbox_relay: running", timeout=30)
    finally:
        assert relay.proc is not None
        stop_process(relay.proc)
    lines = [line for line in relay.output().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # fails on a line that is not JSON
    assert any(e["message"] == "chat_outbox_relay: running" for e in entries), lines
