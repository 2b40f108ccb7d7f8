"""A database that stops answering gives the API's clients a 503 with Retry-After, not a 500."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate(pid: int) -> None:
    """What an outage or a failover does to a connection: the server ends it."""
    params = connection.settings_dict
    with psycopg.connect(
        dbname="postgres",
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"] or 5432,
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_request_whose_database_connection_is_gone_answers_503(api, user_factory, caplog) -> None:
    client = api(user_factory())
    assert client.get("/api/chat/v1/room/list").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    _terminate(pid)

    with caplog.at_level("INFO"):
        response = client.get("/api/chat/v1/room/list")

    assert response.status_code == 503, response.content
    # Logged once, as a warning: not again as an error by Django's request logger (beside the access lines).
    lines = [(r.name, r.levelname) for r in caplog.records if r.name != "chat.access"]
    assert lines == [("kernel.exceptions", "WARNING")]
    assert json.loads(response.content)["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    connection.close()
    assert client.get("/api/chat/v1/room/list").status_code == 200  # served again once it answers
