"""`postgres` back end, part 2: messages, meta, reactions, mentions."""

from __future__ import annotations


class PostgresMessagesMixin:
    pass
