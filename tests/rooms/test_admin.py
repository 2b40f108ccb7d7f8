"""Admin: room pages with search, filters and labels, on both back ends (CHAT_STORAGE); room changes go
through the services (messages, events), each action after a confirmation page that says what it does."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.test import Client

from rooms import services
from rooms.admin_common import DELETE_ROOMS, PARTICIPANT_ACTIONS
from tests import storage_probe as probe
from tests.factories import UserFactory
from tests.rooms.conftest import outbox_types

on_postgres_only = pytest.mark.skipif(
    settings.CHAT_STORAGE == "scylla", reason="a page of the postgres admin only (its ORM tables)"
)


@pytest.fixture
def staff(db: None) -> Client:
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    client.user = admin_user  # type: ignore[attr-defined]
    return client


def _post_data(response: Any) -> dict[str, Any]:
    """The data a browser would post back for the admin form in `response`, unchanged (the change form
    with its inlines on postgres, the room form on scylla)."""
    data: dict[str, Any] = {}
    context = response.context
    all_forms = [context["adminform"].form if "adminform" in context else context["form"]]
    for inline in context.get("inline_admin_formsets", []):
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


def _result_count(response: Any) -> int:
    context = response.context
    return int(context["cl"].result_count if "cl" in context else context["result_count"])


def _active(room_id: Any) -> set[int]:
    return {p.user_id for p in probe.participants(room_id=room_id) if p.removed_at is None}


@pytest.mark.django_db
def test_admin_lists_search_and_filters(staff, user_factory, make_group, make_p2p) -> None:
    owner = user_factory(profile={"display_name": "Owner One"})
    member = user_factory(profile={"display_name": "Findable Person"})
    room_id = make_group(owner, member, name="Searchable room")
    p2p_id = make_p2p(owner, member)
    gone_id = make_group(owner, user_factory(), name="Gone room")
    services.room_leave(user_id=owner.id, room_id=gone_id, leave_all=True)

    pages = [
        "/admin/chat/room/",
        "/admin/chat/room/?q=Searchable",
        "/admin/chat/room/?type__exact=group&deleted=no",
        f"/admin/chat/room/{room_id}/change/",
        f"/admin/auth/user/{member.id}/change/",
        "/admin/auth/user/?q=Findable",
    ]
    for page in pages:
        assert staff.get(page).status_code == 200, page
    listing = staff.get("/admin/chat/room/").content.decode()
    assert ">Owner One &amp; Findable Person</a>" in listing  # the p2p room, labelled by its members
    assert ">Searchable room</a>" in listing and f">{p2p_id}<" not in listing
    assert _result_count(staff.get("/admin/chat/room/?q=Searchable")) == 1
    assert _result_count(staff.get("/admin/chat/room/?q=findable")) == 2  # by a member's name
    assert _result_count(staff.get("/admin/chat/room/?q=nothing-like-it")) == 0
    assert _result_count(staff.get("/admin/chat/room/?deleted=yes")) == 1
    assert _result_count(staff.get("/admin/chat/room/?deleted=no&type__exact=group")) == 1
    assert probe.room(gone_id).deleted_at is not None
    assert "Searchable room" in staff.get(f"/admin/chat/room/{room_id}/change/").content.decode()
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
            "add_participants": [str(newcomer.id)],
            "remove_participants": [str(leaving.id)],
        }
    )

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    room = probe.room(room_id)
    assert (room.name, room.edit_group) == ("After", True)
    assert [m.event for m in probe.messages(room_id=room_id)] == ["new_name", "new_member", "remove_member"]
    assert outbox_types(room_id)[-7:] == [
        *("message", "is_room_updated"),  # rename
        *("message", "room_join", "room_join"),  # add
        *("message", "room_leave"),  # remove
    ]
    assert _active(room_id) == {owner.id, member.id, newcomer.id}


@pytest.mark.django_db
def test_people_are_added_by_name_with_an_autocomplete(staff, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    newcomer = user_factory(profile={"display_name": "Zed Newcomer"})
    user_factory(profile={"display_name": "Someone Else"})
    room_id = make_group(owner, member, name="Club")

    page = staff.get(f"/admin/chat/room/{room_id}/change/").content.decode()
    found = staff.get(
        "/admin/autocomplete/",
        {"term": "Newcomer", "app_label": "chat", "model_name": "participant", "field_name": "user"},
    )

    assert 'name="add_participants"' in page and "admin-autocomplete" in page
    assert [r["id"] for r in found.json()["results"]] == [str(newcomer.id)]
    assert _active(room_id) == {owner.id, member.id}


@pytest.mark.django_db
def test_room_form_reports_service_refusals(staff, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    url = f"/admin/chat/room/{room_id}/change/"
    data = {**_post_data(staff.get(url)), "name": "p2p rooms have no name"}

    response = staff.post(url, data, follow=True)

    assert "for group rooms only" in response.content.decode()
    assert probe.room(room_id).name == ""


@pytest.mark.django_db
def test_participant_actions_on_the_room_page_are_confirmed(staff, user_factory, make_group) -> None:
    owner, member, other = user_factory(), user_factory(profile={"display_name": "Mia Member"}), user_factory()
    room_id = make_group(owner, member, other)
    url = f"/admin/chat/room/{room_id}/participants/"
    make_admin = {"action": "make_admin", "_selected_action": [str(member.id)]}

    confirm = staff.post(url, make_admin)

    assert confirm.status_code == 200
    assert PARTICIPANT_ACTIONS["make_admin"] in confirm.content.decode() and "Mia Member" in confirm.content.decode()
    assert probe.participant(room_id, member.id).role == "MEMBER"  # nothing yet
    assert staff.post(url, {**make_admin, "post": "yes"}).status_code == 302
    assert probe.participant(room_id, member.id).role == "ADMIN"
    assert outbox_types(room_id)[-1] == "is_room_updated"

    staff.post(url, {"action": "remove_from_room", "_selected_action": [str(other.id)], "post": "yes"})
    assert probe.participant(room_id, other.id).removed_at is not None
    assert [m.event for m in probe.messages(room_id=room_id)].count("remove_member") == 1


@pytest.mark.django_db
def test_room_delete_action_is_confirmed_and_goes_through_leave_room(staff, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member, name="Doomed")
    delete = {"action": "delete_rooms", "_selected_action": [str(room_id)]}

    confirm = staff.post("/admin/chat/room/", delete)

    assert confirm.status_code == 200
    assert DELETE_ROOMS in confirm.content.decode() and "Doomed" in confirm.content.decode()
    assert probe.room(room_id).deleted_at is None
    assert staff.post("/admin/chat/room/", {**delete, "post": "yes"}).status_code == 302
    assert probe.room(room_id).deleted_at is not None
    assert outbox_types(room_id)[-1] == "room_leave"
    assert _active(room_id) == set()


@on_postgres_only
@pytest.mark.django_db
def test_participant_list_and_its_actions(staff, user_factory, make_group) -> None:
    from storage.models import Participant

    owner, member = user_factory(), user_factory(profile={"display_name": "Findable"})
    room_id = make_group(owner, member, name="Listed")
    row = Participant.objects.get(room_id=room_id, user=member)
    filtered = "/admin/chat/participant/?q=Findable&role__exact=MEMBER&is_muted__exact=0&removed=no"
    assert _result_count(staff.get(filtered)) == 1
    assert "Listed" in staff.get("/admin/chat/participant/").content.decode()

    confirm = staff.post("/admin/chat/participant/", {"action": "make_admin", "_selected_action": [row.pk]})
    assert PARTICIPANT_ACTIONS["make_admin"] in confirm.content.decode()
    assert probe.participant(room_id, member.id).role == "MEMBER"
    staff.post("/admin/chat/participant/", {"action": "make_admin", "_selected_action": [row.pk], "post": "yes"})
    assert probe.participant(room_id, member.id).role == "ADMIN"


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

    assert probe.room(room_id).name == "Moderated"
    assert {p.user_id: p.role for p in probe.participants(room_id=room_id)} == {owner.id: "ADMIN", member.id: "OWNER"}
