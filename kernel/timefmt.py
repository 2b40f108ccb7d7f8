"""Timestamps leave the service as ISO 8601 strings (SPEC.md §2)."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
