"""The pages' Content-Security-Policy and what is not mounted."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {d[0]: d[1:] for d in directives}


def test_pages_allow_only_their_own_scripts_and_styles() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_the_api_docs_page_loads_its_bundle_from_the_app_and_nothing_inline_runs() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]  # the bundle is the app's own (no CDN)
    assert "http" not in response.headers["Content-Security-Policy"]
    assert b"<script>" not in response.content  # the UI's own script is a file (the split view)


def test_password_reset_is_not_mounted_without_mail() -> None:
    assert Client().get("/accounts/password_reset/").status_code == 404
