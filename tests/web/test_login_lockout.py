"""Sign-in lock-out (django-axes): after the failure limit for a username, or from an address, sign-ins
are refused with 429 and Retry-After, before any password is checked; a success resets the count."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pass-1234"


def _login(username: str, password: str, address: str = "10.0.0.1") -> object:
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def test_repeated_wrong_passwords_lock_the_username_out_without_hashing(user_factory) -> None:
    alice = user_factory()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(alice.username, "wrong", address=f"10.0.1.{n}").status_code == 200  # the form again
    assert _login(alice.username, "wrong", address="10.0.1.99").status_code == 429  # the limit reached
    with mock.patch.object(ModelBackend, "authenticate", autospec=True) as checked:
        locked = _login(alice.username, PASSWORD, address="10.0.2.1")  # the right password, elsewhere
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert b"Too many failed sign-ins" in locked.content
    checked.assert_not_called()  # a locked attempt costs no password hash
    assert _login(user_factory().username, PASSWORD, address="10.0.2.1").status_code == 302  # others sign in


def test_repeated_failures_from_one_address_lock_that_address_out(user_factory) -> None:
    users = [user_factory() for _ in range(settings.AXES_FAILURE_LIMIT + 1)]
    for user in users[:-1]:
        _login(user.username, "wrong", address="10.0.3.1")
    assert _login(users[-1].username, PASSWORD, address="10.0.3.1").status_code == 429
    assert _login(users[-1].username, PASSWORD, address="10.0.3.2").status_code == 302


def test_a_successful_sign_in_resets_the_count(user_factory) -> None:
    alice = user_factory()
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _login(alice.username, "wrong").status_code == 200
        assert _login(alice.username, PASSWORD).status_code == 302
