"""The environment of a production start for the benchmarks: DEBUG off, secrets of their own
(fresh for each run, the same for every process of it: they inherit os.environ), plain HTTP on
127.0.0.1 (no HTTPS redirect)."""

from __future__ import annotations

import os
import secrets


def ensure() -> None:
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("CHAT_MASTER_KEY", secrets.token_hex(32))
    os.environ.setdefault("CHAT_MASTER_IV", secrets.token_hex(16))
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
