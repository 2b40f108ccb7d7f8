"""`manage.py chat_user`: an ordinary (non-staff) chat user with a profile, its id, and a token on demand."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from storage.models import Profile


def _run(*args: str) -> dict[str, str]:
    out = StringIO()
    call_command("chat_user", *args, stdout=out)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines())


@pytest.mark.django_db
def test_makes_an_ordinary_user_with_a_profile_and_prints_its_id() -> None:
    printed = _run("maria", "--name", "María Pérez", "--password", "a-long-pass-4321", "--email", "m@example.com")

    user = get_user_model().objects.get(username="maria")
    assert printed == {"id": str(user.pk)}
    assert not user.is_staff and not user.is_superuser and user.is_active
    assert user.check_password("a-long-pass-4321")
    assert user.email == "m@example.com"
    profile = Profile.objects.get(user=user)
    assert profile.display_name == "María Pérez"
    assert profile.sort_name == "maria perez"
    assert not Token.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_token_opens_the_api_as_that_user(api) -> None:
    printed = _run("tokenuser", "--no-password", "--token")

    user = get_user_model().objects.get(username="tokenuser")
    assert not user.has_usable_password()
    assert Token.objects.get(user=user).key == printed["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {printed['token']}")
    me = client.get("/api/chat/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == printed["id"] and me.json()["name"] == "tokenuser"  # no --name: the username


@pytest.mark.django_db
def test_refuses_an_existing_username(user_factory) -> None:
    user_factory(username="taken")
    with pytest.raises(CommandError, match="'taken' exists already"):
        _run("taken", "--no-password")
    assert get_user_model().objects.filter(username="taken").count() == 1


@pytest.mark.django_db
def test_asks_for_the_password_and_refuses_weak_or_mismatched_ones(monkeypatch) -> None:
    answers = iter(["a-long-pass-4321", "a-long-pass-4321"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    _run("prompted")
    assert get_user_model().objects.get(username="prompted").check_password("a-long-pass-4321")

    answers = iter(["a-long-pass-4321", "another-pass-4321"])
    with pytest.raises(CommandError, match="do not match"):
        _run("mismatch")
    with pytest.raises(CommandError, match="Password refused"):
        _run("weak", "--password", "123")
    assert not get_user_model().objects.filter(username__in=["mismatch", "weak"]).exists()


@pytest.mark.django_db
def test_password_and_no_password_exclude_each_other() -> None:
    with pytest.raises(CommandError):
        _run("both", "--password", "a-long-pass-4321", "--no-password")


@pytest.mark.django_db
@pytest.mark.parametrize("display_name", ["Olga Admin-Made", ""])
def test_the_admin_add_page_makes_an_ordinary_user_with_one_profile(
    user_factory, django_capture_on_commit_callbacks, display_name: str
) -> None:
    staff = Client()
    staff.force_login(user_factory(is_staff=True, is_superuser=True))
    data = {
        "username": "olga",
        "usable_password": "true",
        "password1": "a-long-pass-4321",
        "password2": "a-long-pass-4321",
        "chat_profile-TOTAL_FORMS": "1",
        "chat_profile-INITIAL_FORMS": "0",
        "chat_profile-MIN_NUM_FORMS": "0",
        "chat_profile-MAX_NUM_FORMS": "1",
        "chat_profile-0-display_name": display_name,
        "chat_profile-0-phone": "",
        "chat_profile-0-avatar_url": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/auth/user/add/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    user = get_user_model().objects.get(username="olga")
    assert not user.is_staff
    # The inline's profile, or (left blank) the one every new user gets: one either way.
    assert [p.display_name for p in Profile.objects.filter(user=user)] == [display_name]
    assert Profile.objects.get(user=user).sort_name == (display_name.casefold() or "olga")
