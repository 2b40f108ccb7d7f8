"""Admin: pages with search and filters; room changes go through the services (messages, events)."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test import Client

from rooms import services
from storage.models import Message, Participant, Room
from tests.factories import UserFactory
from tests.rooms.conftest import outbox_types


@pytest.fixture
def staff(db: None) -> Client:
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    client.user = admin_user  # type: ignore[attr-defined]
    return client


def _post_data(response: Any) -> dict[str, Any]:
    """The data a browser would post back for the admin change form in `response`, unchanged."""
    data: dict[str, Any] = {}
    all_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        all_forms += list(inline.formset.forms)
    for form in all_forms:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None or value is False or getattr(field, "disabled", False):
                continue
            if isinstance(field.widget, forms.MultiWidget):
                for i, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{i}"] = "" if part is None else str(part)
            elif value is True:
                data[key] = "on"
            else:
                data[key] = value
    return data


@pytest.mark.django_db
def test_admin_lists_search_and_filters(staff, user_factory, make_group, make_p2p) -> None:
    owner, member = user_factory(), user_factory(profile={"display_name": "Findable Person"})
    room_id = make_group(owner, member, name="Searchable room")
    make_p2p(owner, member)

    pages = [
        "/admin/chat/room/",
        "/admin/chat/room/?q=Searchable",
        f"/admin/chat/room/?q={str(room_id)[:8]}",
        "/admin/chat/room/?type__exact=group&deleted=no",
        f"/admin/chat/room/{room_id}/change/",
        "/admin/chat/participant/",
        "/admin/chat/participant/?q=Findable&role__exact=MEMBER&is_muted__exact=0&is_pinned__exact=0&removed=no",
        f"/admin/auth/user/{member.id}/change/",
        "/admin/auth/user/?q=Findable",
    ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
    assert b"Searchable room" in staff.get("/admin/chat/room/?q=Searchable").content
    assert staff.get("/admin/chat/room/?q=nothing-like-it").context["cl"].result_count == 0
    assert staff.get("/admin/chat/participant/?q=Findable").context["cl"].result_count == 2
    assert b"Findable Person" in staff.get(f"/admin/auth/user/{member.id}/change/").content


@pytest.mark.django_db
def test_room_change_form_goes_through_the_services(staff, user_factory, make_group) -> None:
    owner, member, leaving, newcomer = (user_factory() for _ in range(4))
    room_id = make_group(owner, member, leaving, name="Before")
    url = f"/admin/chat/room/{room_id}/change/"
    data = _post_data(staff.get(url))
    data.update(
        {
            "name": "After",
            "edit_group": "on",
            "add_participants": f"{newcomer.id}",
            "remove_participants": [str(leaving.id)],
        }
    )

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    room = Room.objects.get(id=room_id)
    assert (room.name, room.edit_group) == ("After", True)
    events = [m.event for m in Message.objects.filter(room_id=room_id).order_by("created_at")]
    assert events == ["new_name", "new_member", "remove_member"]
    assert outbox_types(room_id)[-7:] == [
        *("message", "is_room_updated"),  # rename
        *("message", "room_join", "room_join"),  # add
        *("message", "room_leave"),  # remove
    ]
    active = set(Participant.objects.filter(room_id=room_id, removed_at__isnull=True).values_list("user_id", flat=True))
    assert active == {owner.id, member.id, newcomer.id}


@pytest.mark.django_db
def test_room_form_reports_service_refusals(staff, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    url = f"/admin/chat/room/{room_id}/change/"
    data = {**_post_data(staff.get(url)), "name": "p2p rooms have no name"}

    response = staff.post(url, data, follow=True)

    assert "for group rooms only" in response.content.decode()
    assert Room.objects.get(id=room_id).name == ""


@pytest.mark.django_db
def test_participant_actions_and_room_delete_action(staff, user_factory, make_group) -> None:
    owner, member, other = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member, other)
    member_row = Participant.objects.get(room_id=room_id, user=member)
    other_row = Participant.objects.get(room_id=room_id, user=other)

    staff.post(
        "/admin/chat/participant/",
        {"action": "make_admin", "_selected_action": [member_row.pk]},
    )
    assert Participant.objects.get(pk=member_row.pk).role == "ADMIN"
    assert "is_room_updated" in outbox_types(room_id)

    staff.post(
        "/admin/chat/participant/",
        {"action": "remove_from_room", "_selected_action": [other_row.pk]},
    )
    assert Participant.objects.get(pk=other_row.pk).removed_at is not None
    assert Message.objects.filter(room_id=room_id, event="remove_member").count() == 1

    staff.post("/admin/chat/room/", {"action": "delete_rooms", "_selected_action": [str(room_id)]})
    assert Room.objects.get(id=room_id).deleted_at is not None
    assert outbox_types(room_id)[-1] == "room_leave"


@pytest.mark.django_db
def test_profile_change_in_the_admin_refreshes_cached_rooms(staff, api, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory(profile={"display_name": "Bob"})
    room_id = make_p2p(alice, bob)
    assert api(alice).get(f"/api/chat/v1/room/{room_id}").json()["room"]["name"] == "Bob"  # cached now
    url = f"/admin/auth/user/{bob.id}/change/"
    data = _post_data(staff.get(url))
    data["chat_profile-0-display_name"] = "Robert"

    response = staff.post(url, data)

    assert response.status_code == 302
    assert api(alice).get(f"/api/chat/v1/room/{room_id}").json()["room"]["name"] == "Robert"


@pytest.mark.django_db
def test_services_as_staff_need_no_membership(user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    moderator = user_factory(is_staff=True)
    room_id = make_group(owner, member)

    services.room_update(user_id=moderator.id, room_id=room_id, changes={"name": "Moderated"}, as_staff=True)
    services.room_participant_role_set(
        user_id=moderator.id, room_id=room_id, participant_id=member.id, role="OWNER", as_staff=True
    )

    assert Room.objects.get(id=room_id).name == "Moderated"
    roles = dict(Participant.objects.filter(room_id=room_id).values_list("user_id", "role"))
    assert roles == {owner.id: "ADMIN", member.id: "OWNER"}
