"""The `postgres` back end: the Django ORM (PostgreSQL; SQLite for the embedded default)."""

from storage.postgres.repository import PostgresRepository

__all__ = ["PostgresRepository"]
