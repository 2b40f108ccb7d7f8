"""Users, as every back end reads them: users and their chat profiles live in the Django database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from storage.models import fold, shown_name
from storage.records import UserRecord


@dataclass(frozen=True)
class UserAccount:
    """A user with its contact fields: the directory and /me (UserRecord is what rooms show)."""

    id: int
    username: str
    name: str
    avatar: str
    phone: str
    email: str


def user_record(user: Any) -> UserRecord:
    """The record of a Django user (its `chat_profile` selected with it, or absent)."""
    profile = getattr(user, "chat_profile", None)
    return UserRecord(
        id=user.id,
        name=shown_name(user, profile.display_name if profile else ""),
        phone=profile.phone if profile else "",
        avatar=profile.avatar_url if profile else "",
    )


def user_account(user: Any) -> UserAccount:
    record = user_record(user)
    return UserAccount(
        id=record.id,
        username=user.get_username(),
        name=record.name,
        avatar=record.avatar,
        phone=record.phone,
        email=user.email or "",
    )


def users_get(user_ids: Iterable[int]) -> dict[int, UserRecord]:
    """The users with these ids that exist, by id (one query)."""
    ids = list(user_ids)
    if not ids:
        return {}
    users = get_user_model().objects.filter(id__in=ids).select_related("chat_profile")
    return {u.id: user_record(u) for u in users}


def account_get(user_id: int) -> UserAccount | None:
    """The user with its contact fields, or None if there is no such user (one query)."""
    user = get_user_model().objects.filter(id=user_id).select_related("chat_profile").first()
    return user_account(user) if user is not None else None


def directory_page(*, search: str, excluding: int, offset: int, limit: int) -> tuple[list[UserAccount], int]:
    """One page of the active users (`excluding` left out) whose name or username contains `search`
    (case and accents ignored), by name then id, and the total (two queries).

    Users are read through their chat profile's folded keys (storage.models.Profile): the order and
    the search are indexed column reads, the same on PostgreSQL and SQLite.
    """
    users = (
        get_user_model()
        .objects.filter(is_active=True, chat_profile__isnull=False)
        .exclude(id=excluding)
        .select_related("chat_profile")
    )
    needle = fold(search.strip())
    if needle:
        users = users.filter(chat_profile__search_text__contains=needle)
    rows = users.order_by("chat_profile__sort_name", "id")[offset : offset + limit]
    return [user_account(u) for u in rows], users.count()
