"""Admin: a room's messages searched by their text, read only, moderated through the service after a
confirmation, on both back ends (CHAT_STORAGE)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from messaging.admin_scylla import MODERATE_DELETE
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
    other = make_room(bob, [alice])
    send(api(alice), room, "the quick brown fox")
    send(api(alice), room, "lazy dog")
    send(api(bob), other, "brown elsewhere")
    of_room = {"room__id__exact": str(room.id)}

    found = client.get("/admin/chat/message/", {**of_room, "q": "brown"})

    assert found.status_code == 200
    assert b"the quick brown fox" in found.content
    assert b"lazy dog" not in found.content and b"brown elsewhere" not in found.content
    newest_first = client.get("/admin/chat/message/", of_room).content.decode()
    assert newest_first.index("lazy dog") < newest_first.index("the quick brown fox")
    assert b"lazy dog" in client.get("/admin/chat/message/", {**of_room, "is_deleted__exact": "0"}).content
    assert b"lazy dog" not in client.get("/admin/chat/message/", {**of_room, "is_deleted__exact": "1"}).content
    assert [m.text for m in probe.messages(room_id=room.id)] == ["the quick brown fox", "lazy dog"]
    assert client.get("/admin/chat/message/").status_code == 200
    if settings.CHAT_STORAGE != "scylla":  # pages of the postgres admin only (its ORM tables)
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
    assert probe.message(message["id"]).text == "keep me"
    assert client.get("/admin/chat/message/add/").status_code == 403


def test_moderation_is_confirmed_then_soft_deletes_through_the_service(staff_client, api, user_factory) -> None:
    client, admin = staff_client
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    keep = send(api(alice), room, "fine")
    spam = send(api(bob), room, "spam")
    marker = last_outbox_id()
    action = {"action": "soft_delete_messages", "_selected_action": [spam["id"]]}
    changelist = f"/admin/chat/message/?room__id__exact={room.id}"

    confirm = client.post(changelist, action)

    assert confirm.status_code == 200
    assert MODERATE_DELETE in confirm.content.decode() and "spam" in confirm.content.decode()
    assert not probe.message(spam["id"]).is_deleted and outbox_since(marker) == []
    response = client.post(changelist, {**action, "post": "yes"})
    assert response.status_code == 302
    assert probe.message(spam["id"]).is_deleted and not probe.message(keep["id"]).is_deleted
    events = outbox_since(marker)
    assert [(e.event_type, e.data["delete_message"], e.actor_user_id) for e in events] == [
        ("delete_message", spam["id"], str(admin.id))
    ]
    assert str(probe.room(room.id).last_message_id) == keep["id"]


def test_staff_without_the_delete_permission_has_no_moderation_action(api, user_factory) -> None:
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_message"))
    client = Client()
    client.force_login(viewer)
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "x")
    changelist = f"/admin/chat/message/?room__id__exact={room.id}"
    page = client.get(changelist)
    assert page.status_code == 200 and b"soft_delete_messages" not in page.content
    assert f"/admin/chat/message/{message['id']}/change/" in page.content.decode()  # listed, read only
    client.post(changelist, {"action": "soft_delete_messages", "_selected_action": [message["id"]], "post": "yes"})
    assert not probe.message(message["id"]).is_deleted
