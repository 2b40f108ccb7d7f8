"""A bad setting stops start-up with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAT_MASTER_KEY", "zz"),
        ("CHAT_MASTER_KEY", "00" * 16),
        ("CHAT_MASTER_IV", "00" * 8),
        ("CHAT_STORAGE", "mysql"),
    ],
)
def test_bad_value_fails_with_the_variable_name(name: str, value: str) -> None:
    result = _check(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_defaults_pass_the_checks() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "DATABASE_URL", "REDIS_URL", "NATS_URL"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --- production: DEBUG off by default, no development secrets, check --deploy clean --------------

PRODUCTION_SECRETS = ("DJANGO_SECRET_KEY", "CHAT_MASTER_KEY", "CHAT_MASTER_IV")


def _production_env(**env: str) -> dict[str, str]:
    """The test environment without DEBUG or secrets (as an operator's shell may be), plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", *PRODUCTION_SECRETS)}
    return {**base, **env}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _secrets() -> dict[str, str]:
    import secrets

    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CHAT_MASTER_KEY": secrets.token_hex(32),
        "CHAT_MASTER_IV": secrets.token_hex(16),
    }


def test_without_debug_start_up_refuses_the_development_secrets_naming_each() -> None:
    result = _manage("check", env=_production_env())
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY, CHAT_MASTER_KEY, CHAT_MASTER_IV not set" in result.stderr

    # One secret left at its development value (the one in the repository) is refused by name.
    from chatproject.settings import DEV_MASTER_KEY

    result = _manage("check", env=_production_env(**{**_secrets(), "CHAT_MASTER_KEY": DEV_MASTER_KEY.upper()}))
    assert result.returncode != 0
    assert "ImproperlyConfigured: CHAT_MASTER_KEY not set (or set to the development value)" in result.stderr


def test_debug_is_off_unless_asked_for() -> None:
    show = ("shell", "-c", "from django.conf import settings; print('DEBUG', settings.DEBUG)")
    assert "DEBUG False" in _manage(*show, env=_production_env(**_secrets())).stdout
    assert "DEBUG True" in _manage(*show, env=_production_env(DJANGO_DEBUG="1")).stdout


def test_check_deploy_is_clean_with_the_documented_production_settings() -> None:
    env = _production_env(**_secrets(), DJANGO_ALLOWED_HOSTS="chat.example.com")
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
