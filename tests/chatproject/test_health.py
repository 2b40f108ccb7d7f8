"""GET /healthz (liveness, touches nothing) and GET /readyz (each dependency answers, bounded in time),
on the real services."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from django.test import Client

from chatproject import health
from storage import get_repository
from streaming.embedded import free_port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.django_db
def test_healthz_answers_without_touching_any_dependency(client: Client, django_assert_num_queries, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: not looked at
    settings.NATS_URL = f"nats://127.0.0.1:{free_port()}"
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_ok_when_every_dependency_answers(client: Client, settings) -> None:
    assert settings.REDIS_URL and settings.NATS_URL  # the tests' services: all of them checked
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    expected = {"database": "ok", "redis": "ok", "nats": "ok"}
    if get_repository().name == "scylla":
        expected["cassandra"] = "ok"
    assert response.json() == {"status": "ok", "checks": expected}


@pytest.mark.django_db
def test_readyz_names_each_failing_dependency_with_its_error(client: Client, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.NATS_URL = f"nats://127.0.0.1:{free_port()}"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert "Connection" in body["checks"]["redis"]  # redis ConnectionError: refused
    assert body["checks"]["nats"] != "ok"


@pytest.mark.django_db
def test_readyz_bounds_a_check_whose_server_hangs(client: Client, settings, silent_port: int) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_port}/0"
    settings.NATS_URL = f"nats://127.0.0.1:{silent_port}"
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] != "ok" and checks["nats"] != "ok"


def test_the_readiness_checks_follow_the_configuration(settings) -> None:
    settings.REDIS_URL = ""
    settings.NATS_URL = ""
    names = set(health.checks())
    assert names == ({"database", "cassandra"} if get_repository().name == "scylla" else {"database"})


@pytest.mark.django_db
def test_health_checks_are_exempt_from_the_https_redirect(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
