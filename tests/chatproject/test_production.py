"""The chat as a production runs it (README, "Production"): the variables of .env.example, DEBUG off,
`collectstatic`, then daphne. The pages load styled and with their script (WhiteNoise: compressed
copies, hashed names cached for years), the cookies are Secure, the API docs load offline, and
`check --deploy` has nothing to say about the documented variables."""

from __future__ import annotations

import gzip
import http.client
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.factories import UserFactory
from tests.servers import ROOT, ChatServer, server_env, started_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "CHAT_MASTER_KEY": lambda: secrets.token_hex(32),
    "CHAT_MASTER_IV": lambda: secrets.token_hex(16),
}
TEN_YEARS = 315360000  # WhiteNoise's max-age for files whose name holds their hash


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def production_env(**overrides: str) -> dict[str, str]:
    """.env.example with fresh secrets, over the tests' environment (no DEBUG from the shell)."""
    values = env_example()
    values.update({name: make() for name, make in SECRETS.items()})
    values.update(overrides)
    return values


def test_env_example_holds_no_secret_and_check_deploy_is_clean_with_it() -> None:
    example = env_example()
    assert example["DJANGO_DEBUG"] == "0"
    for name in SECRETS:
        assert example[name] == "", f"{name} must be left for the operator to generate"
    env = {k: v for k, v in server_env().items() if not k.startswith(("DJANGO_", "CHAT_"))}
    env.update(production_env())
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class Browser:
    """HTTP with cookies kept by hand: a cookie jar would not send Secure cookies over plain HTTP,
    and this server has no TLS (a load balancer's job)."""

    def __init__(self, base: str) -> None:
        self.address = urlsplit(base).netloc
        self.cookies: dict[str, SimpleCookie] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None, **headers: str) -> Answer:
        connection = http.client.HTTPConnection(self.address, timeout=30)
        sent = {"Host": self.address.split(":")[0], **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={c[name].value}" for name, c in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie(header)
            for name in cookie:
                self.cookies[name] = cookie
        return answer


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> None:
    """Overrides tests/conftest.py's MD5 hasher: the server checks the login page's password with the
    hashers of the production settings."""


@pytest.fixture
def production(tmp_path: Path) -> Iterator[ChatServer]:
    static_root = tmp_path / "static"
    # The test has no TLS in front: no redirect to https and no proxy header; the cookies stay Secure.
    env = production_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_CSRF_TRUSTED_ORIGINS="",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_PROXY_SSL_HEADER="0",
        DJANGO_STATIC_ROOT=str(static_root),
        CHAT_STORAGE=server_env().get("CHAT_STORAGE", "postgres"),
    )
    # The services of the test run, not the example's hosts.
    for name in ("REDIS_URL", "NATS_URL", "CASSANDRA_HOSTS", "CASSANDRA_KEYSPACE"):
        env.pop(name, None)
    env.pop("CHAT_CHANNEL_LAYER_PREFIX")
    env.pop("CHAT_STREAM_REPLICAS")
    env.pop("DATABASE_URL")
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env={**server_env(), **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collect.returncode == 0, collect.stdout + collect.stderr
    assert (static_root / "staticfiles.json").exists()
    with started_server(tmp_path / "logs", **env) as server:
        yield server


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""<(?:link rel="stylesheet"|script[^>]*) (?:href|src)="(/static/[^"]+)\"""", html)


def _check_asset(browser: Browser, url: str, content_type: str) -> None:
    plain = browser.request("GET", url)
    assert plain.status == 200, url
    assert plain.headers["Content-Type"].startswith(content_type), (url, plain.headers["Content-Type"])
    assert "Content-Encoding" not in plain.headers
    cache = plain.headers["Cache-Control"]
    assert f"max-age={TEN_YEARS}" in cache and "immutable" in cache, (url, cache)

    compressed = browser.request("GET", url, **{"Accept-Encoding": "gzip"})
    assert compressed.status == 200
    assert compressed.headers["Content-Encoding"] == "gzip", url
    assert "Accept-Encoding" in compressed.headers["Vary"]
    assert len(compressed.body) < len(plain.body)
    assert gzip.decompress(compressed.body) == plain.body


def test_pages_load_with_their_css_and_script_and_secure_cookies(production: ChatServer) -> None:
    UserFactory(username="ada")
    browser = Browser(production.url)

    login = browser.request("GET", "/accounts/login/")
    assert login.status == 200
    assert browser.cookies["csrftoken"]["csrftoken"]["secure"]
    (css,) = [url for url in _asset_urls(login.text) if url.endswith(".css")]
    # The name holds the file's hash: a new release changes it, so browsers may keep it for years.
    assert re.fullmatch(r"/static/chat/chat\.[0-9a-f]{12}\.css", css), css
    _check_asset(browser, css, "text/css")

    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert csrf is not None
    form = {"username": "ada", "password": "pass-1234", "csrfmiddlewaretoken": csrf.group(1), "next": "/"}
    signed_in = browser.request("POST", "/accounts/login/", form)
    assert signed_in.status == 302, signed_in.text[:2000]
    assert browser.cookies["sessionid"]["sessionid"]["secure"]
    assert browser.cookies["sessionid"]["sessionid"]["httponly"]

    rooms = browser.request("GET", "/")
    assert rooms.status == 200
    assets = _asset_urls(rooms.text)
    (script,) = [url for url in assets if url.endswith(".js")]
    assert re.fullmatch(r"/static/chat/chat\.[0-9a-f]{12}\.js", script), script
    assert css in assets
    _check_asset(browser, script, "text/javascript")


def test_the_api_docs_load_their_files_from_the_app(production: ChatServer) -> None:
    browser = Browser(production.url)
    page = browser.request("GET", "/api/docs/")
    assert page.status == 200
    urls = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
    assert any("swagger-ui-bundle" in url for url in urls)
    for url in urls:
        assert url.startswith("/"), url
        assert browser.request("GET", url).status == 200, url
    assert browser.request("GET", "/api/docs/stream/").status == 200


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_procfile_starts_every_process_with_arguments_they_take() -> None:
    import shlex

    from daphne.cli import CommandLineInterface
    from django.core.management import get_commands, load_command_class

    processes = _procfile()
    assert set(processes) == {"release", "web", "bridge", "push", "relay"}
    assert "collectstatic --noinput" in processes["release"] and "migrate --noinput" in processes["release"]
    commands = [part.strip() for line in processes.values() for part in re.split(r"&&|;|\bthen\b", line)]
    managed = [shlex.split(c)[2:] for c in commands if c.startswith("python manage.py")]
    names = {args[0] for args in managed}
    assert names == {"migrate", "sync_cassandra", "collectstatic", "chat_bridge", "chat_outbox_relay"}
    for name, *args in managed:
        if name == "sync_cassandra":  # a command only with CHAT_STORAGE=scylla (INSTALLED_APPS)
            assert not args
            continue
        # Each command's own parser: an option it does not take exits (SystemExit) here.
        load_command_class(get_commands()[name], name).create_parser("manage.py", name).parse_args(args)

    web = shlex.split(processes["web"].replace("${PORT:-8000}", "8000"))
    assert web[0] == "daphne"
    parsed = CommandLineInterface().parser.parse_args(web[1:])
    assert parsed.application == "chatproject.asgi:application" and parsed.proxy_headers
