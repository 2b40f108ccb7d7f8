"""GET /metrics: who may read it, what it shows, and that it sums every process (daphne and bridge)."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from events.builders import room_event
from events.emit import emit
from storage import get_repository
from tests.factories import UserFactory, token_for
from tests.servers import api_post, started_server

METRICS = [
    "chat_http_requests",
    "chat_http_request_seconds",
    "chat_db_queries",
    "chat_messages_sent",
    "chat_message_send_seconds",
    "chat_events_published",
    "chat_bridge_events_forwarded",
    "chat_bridge_consumer_pending",
    "chat_bridge_consumer_ack_pending",
    "chat_stream_sockets_open",
    "chat_stream_events_delivered",
    "chat_stream_event_latency_seconds",
    "chat_stream_replays",
    "chat_stream_gaps",
    "chat_stream_resync_required",
    "chat_push_sent",
    "chat_push_failed",
    "chat_outbox_pending",
    "chat_outbox_oldest_pending_age_seconds",
]


def scrape(text: str) -> dict[str, float]:
    """The exposition's samples as {'name{label="v",...}': value}, labels sorted."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()) if k != "pid")
            key = f"{sample.name}{{{labels}}}" if labels else sample.name
            found[key] = found.get(key, 0.0) + sample.value
    return found


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def get_metrics(client: Client, **extra: Any) -> Any:
    return client.get("/metrics", **extra)


@pytest.mark.django_db
def test_metrics_answer_the_loopback_in_the_text_format_with_every_metric(client: Client) -> None:
    response = get_metrics(client, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert set(METRICS) <= families(text), set(METRICS) - families(text)
    assert get_metrics(client, REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_metrics_refuse_other_addresses_unless_allowed_or_with_the_token(client: Client, settings: Any) -> None:
    response = get_metrics(client, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied" and set(response.json()) == {"code", "message", "details"}
    settings.CHAT_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert get_metrics(client, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert get_metrics(client, REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.CHAT_METRICS_TOKEN = "s3cret"
    assert get_metrics(client, REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert get_metrics(client, REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@pytest.mark.django_db
def test_metrics_skip_the_https_redirect(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert get_metrics(client, REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_a_rest_send_counts_a_message_its_latency_its_request_and_queries(client: Client) -> None:
    alice, bob = UserFactory(), UserFactory()
    api = APIClient()
    api.force_authenticate(alice)
    room = api.post("/api/chat/v1/room/create", {"type": "group", "name": "m", "participants": [bob.pk]}, format="json")
    assert room.status_code == 200, room.content
    before = scrape(get_metrics(client, REMOTE_ADDR="127.0.0.1").content.decode())
    body = {"room_id": room.json()["room"]["id"], "text": "hi"}
    for extra in ({}, {"sender_message_id": "x"}, {"sender_message_id": "x"}):  # the repeat stores nothing
        assert api.post("/api/chat/v1/send", {**body, **extra}, format="json").status_code == 200
    after = scrape(get_metrics(client, REMOTE_ADDR="127.0.0.1").content.decode())

    def moved(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("chat_messages_sent_total") == 2
    assert moved("chat_message_send_seconds_count") == 2
    assert moved('chat_http_requests_total{method="POST",status="200",view="message-send"}') == 3
    assert moved('chat_http_request_seconds_count{view="message-send"}') == 3
    assert moved('chat_db_queries_total{database="default"}') > 0


@pytest.mark.django_db
def test_the_outbox_backlog_is_read_at_scrape_time(client: Client) -> None:
    repo = get_repository()
    with repo.atomic():
        emit([room_event("is_room_updated", True, room_id="8d5e2c1e-0000-4000-8000-000000000001", actor_user_id=1)])
    text = get_metrics(client, REMOTE_ADDR="127.0.0.1").content.decode()
    found = scrape(text)
    count, _ = repo.outbox_backlog(now=timezone.now())
    assert count >= 1 and found["chat_outbox_pending"] == count
    assert found["chat_outbox_oldest_pending_age_seconds"] > 0


@pytest.mark.django_db(transaction=True)
def test_every_process_reports_into_one_exposition(tmp_path: Path) -> None:
    """daphne and the bridge, each with its own counters, summed from PROMETHEUS_MULTIPROC_DIR."""
    alice, bob = UserFactory(), UserFactory()
    token = token_for(alice)
    multiproc = tmp_path / "prometheus"
    with started_server(tmp_path / "logs", PROMETHEUS_MULTIPROC_DIR=str(multiproc)) as server:
        room = api_post(server, token, "room/create", {"type": "group", "name": "procs", "participants": [bob.pk]})
        api_post(server, token, "send", {"room_id": room["room"]["id"], "text": "from daphne"})
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
                found = scrape(response.read().decode())
            forwarded = found.get("chat_bridge_events_forwarded_total", 0.0)
            if forwarded >= 2 or time.monotonic() > deadline:  # room create and send: several events
                break
            time.sleep(0.2)
        assert found["chat_messages_sent_total"] == 1  # counted by daphne
        assert forwarded >= 2  # counted by the bridge, in its own process
        assert found["chat_events_published_total"] >= 2
        assert sorted(p.name.split("_")[-1] for p in multiproc.glob("counter_*.db")) == sorted(
            f"{pid}.db"
            for pid in (server.web.pid, server.bridge.pid)  # type: ignore[union-attr]
        )
