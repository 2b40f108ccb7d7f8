"""Admin: message search by decrypted text, filters, read-only data, moderation through the service."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from storage.models import Message
from tests import storage_probe as probe
from tests.factories import UserFactory
from tests.messaging.conftest import last_outbox_id, make_room, outbox_since, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db: None) -> tuple[Client, Any]:
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client, admin


def test_message_list_search_and_filters(staff_client, api, user_factory) -> None:
    client, _ = staff_client
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    send(api(alice), room, "the quick brown fox")
    send(api(alice), room, "lazy dog")

    found = client.get("/admin/chat/message/", {"q": "brown"})
    assert found.status_code == 200
    assert b"the quick brown fox" in found.content and b"lazy dog" not in found.content
    assert (
        client.get("/admin/chat/message/", {"is_deleted__exact": "0", "type__exact": "user_message"}).status_code
        == 200
    )
    assert client.get("/admin/chat/message/", {"room__id__exact": str(room.id)}).status_code == 200
    for path in ("/admin/chat/reaction/", "/admin/chat/messagemeta/", "/admin/chat/mention/"):
        assert client.get(path).status_code == 200


def test_message_detail_is_read_only(staff_client, api, user_factory) -> None:
    client, _ = staff_client
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "keep me")
    page = client.get(f"/admin/chat/message/{message['id']}/change/")
    assert page.status_code == 200 and b"keep me" in page.content
    client.post(f"/admin/chat/message/{message['id']}/change/", {"text": "tampered"})
    assert Message.objects.get(id=message["id"]).text == "keep me"
    assert client.get("/admin/chat/message/add/").status_code == 403


def test_moderation_soft_deletes_through_the_service(staff_client, api, user_factory) -> None:
    client, admin = staff_client
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    keep = send(api(alice), room, "fine")
    spam = send(api(bob), room, "spam")
    marker = last_outbox_id()

    response = client.post(
        "/admin/chat/message/", {"action": "soft_delete_messages", "_selected_action": [spam["id"]]}
    )

    assert response.status_code == 302
    assert Message.objects.get(id=spam["id"]).is_deleted and not Message.objects.get(id=keep["id"]).is_deleted
    events = outbox_since(marker)
    assert [(e.event_type, e.data["delete_message"], e.actor_user_id) for e in events] == [
        ("delete_message", spam["id"], str(admin.id))
    ]
    room = probe.room(room.id)
    assert str(room.last_message_id) == keep["id"]


def test_staff_without_the_delete_permission_has_no_moderation_action(api, user_factory) -> None:
    viewer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_message"))
    client = Client()
    client.force_login(viewer)
    alice, bob = user_factory(), user_factory()
    message = send(api(alice), make_room(alice, [bob]), "x")
    page = client.get("/admin/chat/message/")
    assert page.status_code == 200 and b"soft_delete_messages" not in page.content
    client.post("/admin/chat/message/", {"action": "soft_delete_messages", "_selected_action": [message["id"]]})
    assert not Message.objects.get(id=message["id"]).is_deleted
