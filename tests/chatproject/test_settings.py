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
