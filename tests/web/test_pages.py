"""The chat pages rendered by Django (no browser): auth, data from the selectors, escaping, 404s."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from messaging.services.send import SendRequest, message_send
from rooms import services as room_services

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _group(owner: Any, *members: Any, name: str = "Group") -> uuid.UUID:
    result = room_services.room_create(
        user_id=owner.id, room_type="group", participant_ids=[m.id for m in members], name=name
    )
    return uuid.UUID(result.room["id"])


def _send(user: Any, room_id: uuid.UUID, text: str) -> dict[str, Any]:
    return message_send(user_id=user.id, request=SendRequest(room_id=room_id, text=text)).message


def _config(html: str) -> dict[str, Any]:
    start = html.index('<script id="chat-config" type="application/json">') + len(
        '<script id="chat-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize("path", ["/", "/rooms/new/", f"/rooms/{uuid.uuid4()}/", "/web/users/"])
def test_pages_need_a_login(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_posts_with_a_csrf_token(client: Client) -> None:
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'name="username"' in response.content


def test_login_then_logout(user_factory: Any) -> None:
    user = user_factory(username="alice")
    client = Client()

    response = client.post("/accounts/login/", {"username": "alice", "password": "pass-1234"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200

    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
    assert user.is_authenticated


def test_room_list_renders_rooms_with_previews_and_unread_counts(user_factory: Any) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = _group(alice, bob, name="<b>Team</b>")
    _send(bob, room_id, "hi <i>there</i>")

    response = _client(alice).get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-room-id="{room_id}"' in html
    assert "&lt;b&gt;Team&lt;/b&gt;" in html and "<b>Team</b>" not in html
    assert "hi &lt;i&gt;there&lt;/i&gt;" in html
    assert '<span class="badge" data-role="unread" aria-label="unread messages" >1</span>' in html
    config = _config(html)
    assert config["page"] == "rooms" and config["me"] == str(alice.id)


def test_room_list_search_filters_rooms(user_factory: Any) -> None:
    alice, bob = user_factory(), user_factory()
    kept = _group(alice, bob, name="Holidays")
    dropped = _group(alice, bob, name="Work")

    html = _client(alice).get("/", {"search": "holi"}).content.decode()

    assert str(kept) in html and str(dropped) not in html


def test_room_page_renders_the_first_history_page_as_text(user_factory: Any) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = _group(alice, bob)
    sent = _send(bob, room_id, "<script>alert(1)</script>")

    response = _client(alice).get(f"/rooms/{room_id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-message-id="{sent["id"]}"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    config = _config(html)
    assert config["room"]["id"] == str(room_id)
    assert config["room"]["can_send"] is True and config["room"]["can_remove"] is True


def test_room_page_is_404_for_non_members(user_factory: Any) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room_id = _group(alice, bob)

    assert _client(eve).get(f"/rooms/{room_id}/").status_code == 404
    assert _client(eve).get(f"/rooms/{uuid.uuid4()}/").status_code == 404


def test_member_permissions_shape_the_room_page(user_factory: Any) -> None:
    alice, bob = user_factory(), user_factory()
    result = room_services.room_create(
        user_id=alice.id, room_type="group", participant_ids=[bob.id], name="Announcements", send_message=False
    )

    html = _client(bob).get(f"/rooms/{result.room['id']}/").content.decode()

    config = _config(html)
    assert config["room"]["can_send"] is False
    assert config["room"]["can_add"] is False and config["room"]["can_remove"] is False
    assert 'id="add-member-form"' not in html


def test_create_page_lists_other_users_and_searches(user_factory: Any) -> None:
    alice = user_factory(username="alice")
    user_factory(username="bob", profile={"display_name": "Bob <Builder>"})
    user_factory(username="carol")

    html = _client(alice).get("/rooms/new/", {"q": "build"}).content.decode()

    assert "Bob &lt;Builder&gt;" in html
    assert "carol" not in html and "@alice" not in html


def test_user_search_answers_json(user_factory: Any) -> None:
    alice = user_factory(username="alice")
    bob = user_factory(username="bob")

    response = _client(alice).get("/web/users/", {"q": "bo"})

    assert response.json() == {"items": [{"id": str(bob.id), "name": "Name bob", "username": "bob"}]}


def test_static_files_are_found_in_the_repository_static_folder() -> None:
    from django.contrib.staticfiles import finders

    for name in ("chat/chat.js", "chat/chat.css"):
        assert finders.find(name), name
