"""GetUsers (the user directory) and GetMe: search, order and paging, the contact-field privacy rule,
authentication, bad input, the profile keys that keep search current, the schema."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import services
from storage.models import Profile

USERS = "/api/chat/v1/users"
ME = "/api/chat/v1/me"


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]]


@pytest.mark.django_db
def test_search_ignores_accents_and_case_on_name_and_username(api, user_factory) -> None:
    me = user_factory()
    user_factory(profile={"display_name": "José Álvarez"})
    user_factory(profile={"display_name": "JOSEPHINE"})
    user_factory(username="zed_agent", profile={"display_name": "Someone Else"})
    user_factory(profile={"display_name": "Bob"})

    assert _names(api(me).get(USERS, {"search": "jose"})) == ["José Álvarez", "JOSEPHINE"]
    assert _names(api(me).get(USERS, {"search": "ÁLVAREZ"})) == ["José Álvarez"]
    assert _names(api(me).get(USERS, {"search": "josé á"})) == ["José Álvarez"]
    assert _names(api(me).get(USERS, {"search": "ZED_A"})) == ["Someone Else"]
    assert _names(api(me).get(USERS, {"search": "nobody-like-that"})) == []
    # LIKE's wildcards are plain characters in a search.
    assert _names(api(me).get(USERS, {"search": "%"})) == []


@pytest.mark.django_db
def test_users_are_ordered_by_name_then_id_and_paged_with_meta(api, user_factory) -> None:
    me = user_factory(profile={"display_name": "Aaron Caller"})
    twin_1 = user_factory(profile={"display_name": "Twin"})
    twin_2 = user_factory(profile={"display_name": "Twin"})
    for name in ("émile", "Zoe", "bob", "Chloé"):
        user_factory(profile={"display_name": name})
    user_factory(profile={"display_name": "Gone"}, is_active=False)

    everyone = api(me).get(USERS, {"limit": 100}).json()
    # Case and accents ignored in the order; the caller and inactive users are not listed.
    assert [i["name"] for i in everyone["items"]] == ["bob", "Chloé", "émile", "Twin", "Twin", "Zoe"]
    twins = [i["id"] for i in everyone["items"] if i["name"] == "Twin"]
    assert twins == [str(twin_1.id), str(twin_2.id)]

    second = api(me).get(USERS, {"page": 2, "limit": 4}).json()
    assert [i["name"] for i in second["items"]] == ["Twin", "Zoe"]
    assert second["meta"] == {
        "total_items": 6,
        "item_count": 2,
        "items_per_page": 4,
        "total_pages": 2,
        "current_page": 2,
    }
    pages = [api(me).get(USERS, {"page": p, "limit": 2}).json()["items"] for p in (1, 2, 3)]
    assert [i["id"] for page in pages for i in page] == [i["id"] for i in everyone["items"]]
    assert api(me).get(USERS, {"page": 9}).json()["items"] == []
    assert api(me).get(USERS).json()["meta"]["items_per_page"] == 20


@pytest.mark.django_db
def test_contact_fields_only_for_people_who_share_a_room(api, user_factory, make_group) -> None:
    me = user_factory()
    mate = user_factory(email="mate@example.com", profile={"display_name": "Mate", "phone": "+111"})
    stranger = user_factory(email="stranger@example.com", profile={"display_name": "Stranger", "phone": "+222"})
    no_phone = user_factory(email="", profile={"display_name": "Quiet", "phone": ""})
    room = make_group(me, mate, no_phone)
    make_group(stranger, user_factory())  # a room of the stranger's, without the caller

    by_name = {i["name"]: i for i in api(me).get(USERS, {"limit": 100}).json()["items"]}
    assert by_name["Mate"] == {
        "id": str(mate.id),
        "name": "Mate",
        "avatar": "",
        "phone": "+111",
        "email": "mate@example.com",
    }
    assert by_name["Stranger"] == {"id": str(stranger.id), "name": "Stranger", "avatar": ""}
    assert by_name["Quiet"] == {"id": str(no_phone.id), "name": "Quiet", "avatar": ""}  # nothing set, nothing shown
    # Search never reaches a stranger's contact fields either.
    assert api(me).get(USERS, {"search": "222"}).json()["items"] == []
    assert api(me).get(USERS, {"search": "stranger@"}).json()["items"] == []

    # Once they share no live room, the mate is a stranger again.
    services.room_leave(user_id=mate.id, room_id=room, participant_ids=[], leave_all=False)
    mate_now = next(i for i in api(me).get(USERS, {"search": "mate"}).json()["items"])
    assert mate_now == {"id": str(mate.id), "name": "Mate", "avatar": ""}


@pytest.mark.django_db
def test_directory_queries_do_not_grow_with_the_page(api, user_factory, make_group) -> None:
    me = user_factory()
    others = [user_factory() for _ in range(12)]
    make_group(me, *others[:6])
    client = api(me)
    client.get(ME)  # the token look-up warmed like any other request's

    def queries_of(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(USERS, {"limit": limit})
        assert len(response.json()["items"]) == limit
        return len(captured)

    assert queries_of(2) == queries_of(12)
    assert queries_of(12) <= 5  # auth, the page, the count, the shared rooms (one query on postgres)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [USERS, ME])
def test_both_need_authentication(api, url: str) -> None:
    response = api().get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-3"}, "limit"),
        ({"search": "a" * 151}, "search"),
        ({"search": "a\x00b"}, "search"),
    ],
)
def test_bad_parameters_are_a_400_with_a_code(api, user_factory, params: dict[str, str], field: str) -> None:
    response = api(user_factory()).get(USERS, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_request_data"
    assert field in body["details"]
    assert body["message"]


@pytest.mark.django_db
def test_me_is_the_callers_own_record(api, user_factory) -> None:
    me = user_factory(
        username="itsme",
        email="me@example.com",
        profile={"display_name": "Me Myself", "phone": "+333", "avatar_url": "https://example.com/me.png"},
    )
    response = api(me).get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(me.id),
        "username": "itsme",
        "name": "Me Myself",
        "avatar": "https://example.com/me.png",
        "phone": "+333",
        "email": "me@example.com",
    }


@pytest.mark.django_db
def test_renames_are_searchable_at_once(api, user_factory) -> None:
    me, other = user_factory(), user_factory(username="oldhandle", profile={"display_name": ""})
    assert _names(api(me).get(USERS, {"search": "oldhandle"})) == ["oldhandle"]

    other.username = "newhandle"
    other.save()
    assert _names(api(me).get(USERS, {"search": "oldhandle"})) == []
    assert _names(api(me).get(USERS, {"search": "newhandle"})) == ["newhandle"]

    profile = Profile.objects.get(user=other)
    profile.display_name = "Ñandú Renamed"
    profile.save()
    assert _names(api(me).get(USERS, {"search": "nandu"})) == ["Ñandú Renamed"]
    assert _names(api(me).get(USERS, {"search": "newhandle"})) == ["Ñandú Renamed"]  # the username still

    other.first_name, other.last_name = "Élodie", "Ünal"
    other.save(update_fields=["first_name", "last_name"])
    assert _names(api(me).get(USERS, {"search": "elodie un"})) == ["Ñandú Renamed"]


@pytest.mark.django_db
def test_a_user_made_without_a_profile_gets_one_and_is_listed(
    api, user_factory, django_capture_on_commit_callbacks
) -> None:
    me = user_factory()
    with django_capture_on_commit_callbacks(execute=True):
        staff = get_user_model().objects.create_user("plain.staff", first_name="Ana", last_name="Núñez")
    assert Profile.objects.filter(user=staff).exists()
    assert _names(api(me).get(USERS, {"search": "nunez"})) == ["Ana Núñez"]
    assert _names(api(me).get(USERS, {"search": "plain.st"})) == ["Ana Núñez"]


@pytest.mark.django_db
def test_the_migration_fills_the_keys_of_existing_users(user_factory) -> None:
    migration = importlib.import_module("storage.migrations.0004_profile_directory_keys")
    with_profile = user_factory(profile={"display_name": "Ève Old"})
    Profile.objects.filter(user=with_profile).update(sort_name="", search_text="")
    # As a user made before this migration: no profile (bulk_create sends no signal).
    (without,) = get_user_model().objects.bulk_create([get_user_model()(username="pre_existing")])

    migration.fill_keys(apps, None)

    filled = Profile.objects.get(user=with_profile)
    assert (filled.sort_name, filled.search_text.split("\n")[0]) == ("eve old", "eve old")
    made = Profile.objects.get(user=without)
    assert (made.sort_name, made.search_text) == ("pre_existing", "pre_existing")


@pytest.mark.django_db
def test_schema_documents_both_operations(api) -> None:
    document = api().get("/api/schema/", {"format": "json"}).json()
    users = document["paths"][USERS]["get"]
    assert users["operationId"] == "GetUsers"
    assert {p["name"] for p in users["parameters"]} == {"page", "limit", "search"}
    assert {"200", "400", "401"} <= set(users["responses"])
    item = document["components"]["schemas"]["DirectoryUser"]
    assert set(item["properties"]) == {"id", "name", "avatar", "phone", "email"}
    assert set(item["required"]) == {"id", "name", "avatar"}
    me = document["paths"][ME]["get"]
    assert me["operationId"] == "GetMe"
    assert set(document["components"]["schemas"]["Me"]["properties"]) == {
        "id",
        "username",
        "name",
        "avatar",
        "phone",
        "email",
    }
