"""`postgres` back end, part 1: rooms and participants."""

from __future__ import annotations

import dataclasses
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from storage.base_rooms import PARTICIPANT_FLAGS, ROOM_UPDATABLE_FIELDS
from storage.enums import Role, RoomType
from storage.errors import P2PRoomExistsError
from storage.models import Membership, Participant, Room
from storage.postgres import membership
from storage.records import (
    ParticipantRecord,
    RoomDraft,
    RoomPageQuery,
    RoomRecord,
    StaffRoomQuery,
    UserRecord,
    p2p_key_of,
)
from storage.users import user_record, users_get

R = TypeVar("R")


def record_from(record_class: type[R], row: Any) -> R:
    """The record of an ORM row whose attributes carry the record's field names."""
    names = [f.name for f in dataclasses.fields(record_class)]  # type: ignore[arg-type]
    return record_class(**{name: getattr(row, name) for name in names})


def room_record(room: Room) -> RoomRecord:
    return record_from(RoomRecord, room)


def participant_record(p: Participant) -> ParticipantRecord:
    return ParticipantRecord(
        room_id=p.room_id,
        user=user_record(p.user),
        role=p.role,
        is_muted=p.is_muted,
        is_pinned=p.is_pinned,
        is_partner_blocked=p.is_partner_blocked,
        joined_at=p.joined_at,
        removed_at=p.removed_at,
    )


def fold_accents(text: str) -> str:
    """`José` → `Jose`: the search term without combining marks (the column side uses UNACCENT)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _text_match(field: str, term: str) -> Q:
    """Case-insensitive containment, accent-insensitive on PostgreSQL (extension `unaccent`)."""
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__unaccent__icontains": fold_accents(term)})
    return Q(**{f"{field}__icontains": term})


def _user_name_match(prefix: str, term: str) -> Q:
    return (
        _text_match(f"{prefix}chat_profile__display_name", term)
        | _text_match(f"{prefix}username", term)
        | _text_match(f"{prefix}first_name", term)
        | _text_match(f"{prefix}last_name", term)
    )


def _participants() -> QuerySet[Participant]:
    return Participant.objects.select_related("user__chat_profile")


class PostgresRoomsMixin:
    # --- users ----------------------------------------------------------------------------------

    def users_get(self, user_ids: list[int] | set[int]) -> dict[int, UserRecord]:
        return users_get(user_ids)

    # --- rooms ----------------------------------------------------------------------------------

    def room_get(self, room_id: uuid.UUID) -> RoomRecord | None:
        room = Room.objects.filter(id=room_id, deleted_at__isnull=True).first()
        return room_record(room) if room else None

    def rooms_get(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RoomRecord]:
        rooms = Room.objects.filter(id__in=list(room_ids), deleted_at__isnull=True)
        return {room.id: room_record(room) for room in rooms}

    def room_get_by_p2p_key(self, p2p_key: str) -> RoomRecord | None:
        room = Room.objects.filter(p2p_key=p2p_key, deleted_at__isnull=True).first()
        return room_record(room) if room else None

    def room_insert(self, draft: RoomDraft, *, participants: Sequence[tuple[int, str]], at: datetime) -> RoomRecord:
        try:
            # A savepoint: a p2p_key collision rolls back only this insert, not the caller's work.
            with transaction.atomic():
                room = Room.objects.create(
                    type=draft.type,
                    name=draft.name,
                    description=draft.description,
                    photo_url=draft.photo_url,
                    encryption_data=draft.encryption_data,
                    send_message=draft.send_message,
                    add_member=draft.add_member,
                    edit_group=draft.edit_group,
                    created_by_id=draft.created_by_id,
                    p2p_key=draft.p2p_key,
                )
        except IntegrityError:
            if draft.p2p_key and Room.objects.filter(p2p_key=draft.p2p_key).exists():
                raise P2PRoomExistsError(draft.p2p_key) from None
            raise
        Participant.objects.bulk_create(
            [Participant(room=room, user_id=user_id, role=role, joined_at=at) for user_id, role in participants]
        )
        Membership.objects.bulk_create(
            [Membership(room=room, user_id=user_id, joined_at=at) for user_id, _ in participants]
        )
        return room_record(room)

    def room_update(self, room_id: uuid.UUID, *, changes: dict[str, Any], at: datetime) -> RoomRecord:
        unknown = set(changes) - ROOM_UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"room_update cannot change {sorted(unknown)}")
        Room.objects.filter(id=room_id).update(**changes, updated_at=at)
        return room_record(Room.objects.get(id=room_id))

    def room_touch(self, room_id: uuid.UUID, *, at: datetime) -> None:
        Room.objects.filter(id=room_id).update(updated_at=at)

    def room_soft_delete(self, room_id: uuid.UUID, *, at: datetime) -> None:
        Room.objects.filter(id=room_id).update(deleted_at=at, updated_at=at, p2p_key=None)

    def room_last_message_set(self, room_id: uuid.UUID, *, message_id: uuid.UUID, at: datetime) -> None:
        Room.objects.filter(id=room_id).filter(Q(last_message_at__isnull=True) | Q(last_message_at__lte=at)).update(
            last_message_id=message_id, last_message_at=at
        )

    # --- a user's rooms -------------------------------------------------------------------------

    def membership_get(self, room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord] | None:
        if membership.membership_supported():
            return membership.membership_get(room_id, user_id)
        return self.membership_get_orm(room_id, user_id)

    def membership_get_orm(self, room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord] | None:
        """membership_get through the ORM: what the plain statement must answer alike (its test)."""
        p = (
            _participants()
            .select_related("room")
            .filter(room_id=room_id, user_id=user_id, removed_at__isnull=True, room__deleted_at__isnull=True)
            .first()
        )
        return (room_record(p.room), participant_record(p)) if p else None

    def room_ids_for_user(self, user_id: int) -> list[uuid.UUID]:
        return list(
            Participant.objects.filter(
                user_id=user_id, removed_at__isnull=True, room__deleted_at__isnull=True
            ).values_list("room_id", flat=True)
        )

    def rooms_page_for_user(self, query: RoomPageQuery) -> tuple[list[tuple[RoomRecord, ParticipantRecord]], int]:
        qs = Participant.objects.filter(user_id=query.user_id, removed_at__isnull=True, room__deleted_at__isnull=True)
        if query.type:
            qs = qs.filter(room__type=query.type)
        if query.since is not None:
            qs = qs.filter(
                Q(room__updated_at__gte=query.since)
                | Q(updated_at__gte=query.since)
                | Q(room__last_message_at__gte=query.since)
            )
        if query.search:
            partner_matches = (
                Participant.objects.filter(room_id=OuterRef("room_id"), removed_at__isnull=True)
                .exclude(user_id=query.user_id)
                .filter(_user_name_match("user__", query.search))
            )
            qs = qs.alias(is_partner_match=Exists(partner_matches)).filter(
                _text_match("room__name", query.search) | Q(room__type="p2p", is_partner_match=True)
            )
        total = qs.count()
        rows = qs.select_related("room", "user__chat_profile").order_by(
            "-is_pinned",
            F("room__last_message_at").desc(nulls_last=True),
            "-room__created_at",
            "-room_id",
        )[query.offset : query.offset + query.limit]
        return [(room_record(p.room), participant_record(p)) for p in rows], total

    def rooms_for_staff(self, query: StaffRoomQuery) -> tuple[list[RoomRecord], int]:
        qs = Room.objects.all()
        if query.type:
            qs = qs.filter(type=query.type)
        if query.deleted is not None:
            qs = qs.filter(deleted_at__isnull=not query.deleted)
        if query.search:
            members = Participant.objects.filter(room_id=OuterRef("id"), removed_at__isnull=True).filter(
                _user_name_match("user__", query.search)
            )
            qs = qs.alias(is_member_match=Exists(members)).filter(
                _text_match("name", query.search) | Q(is_member_match=True)
            )
        rows = qs.order_by("-created_at", "-id")[query.offset : query.offset + query.limit]
        return [room_record(r) for r in rows], qs.count()

    def users_blocking(self, actor_id: int, user_ids: Sequence[int]) -> set[int]:
        others = {u for u in user_ids if u != actor_id}
        if not others:
            return set()
        # The pair's p2p_key names the room: one join of participants to their rooms, no per-user query.
        rows = Participant.objects.filter(
            user_id__in=others,
            is_partner_blocked=True,
            removed_at__isnull=True,
            room__type=RoomType.P2P,
            room__deleted_at__isnull=True,
            room__p2p_key__in=[p2p_key_of(actor_id, u) for u in others],
        )
        return set(rows.values_list("user_id", flat=True))

    def users_sharing_room(self, user_id: int, user_ids: Sequence[int]) -> set[int]:
        others = {u for u in user_ids if u != user_id}
        if not others:
            return set()
        mine = Participant.objects.filter(user_id=user_id, removed_at__isnull=True, room__deleted_at__isnull=True)
        rows = Participant.objects.filter(
            user_id__in=others, removed_at__isnull=True, room_id__in=mine.values("room_id")
        )
        return set(rows.values_list("user_id", flat=True).distinct())

    # --- participants ---------------------------------------------------------------------------

    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        p = _participants().filter(room_id=room_id, user_id=user_id).first()
        return participant_record(p) if p else None

    def participants_get(self, room_id: uuid.UUID, user_ids: Sequence[int]) -> dict[int, ParticipantRecord]:
        rows = _participants().filter(room_id=room_id, user_id__in=list(user_ids))
        return {p.user_id: participant_record(p) for p in rows}

    def participants_active(self, room_id: uuid.UUID) -> list[ParticipantRecord]:
        rows = _participants().filter(room_id=room_id, removed_at__isnull=True).order_by("joined_at", "id")
        return [participant_record(p) for p in rows]

    def participants_page(
        self, room_id: uuid.UUID, *, search: str, offset: int, limit: int
    ) -> tuple[list[ParticipantRecord], int]:
        qs = Participant.objects.filter(room_id=room_id, removed_at__isnull=True)
        if search:
            qs = qs.filter(_user_name_match("user__", search) | Q(user__chat_profile__phone__icontains=search))
        total = qs.count()
        rows = qs.select_related("user__chat_profile").order_by("joined_at", "id")[offset : offset + limit]
        return [participant_record(p) for p in rows], total

    def participants_preview(
        self, room_ids: Sequence[uuid.UUID], *, viewer_id: int, limit: int
    ) -> dict[uuid.UUID, list[ParticipantRecord]]:
        if not room_ids:
            return {}
        # One query: per room the viewer's row first (rank 1), then the oldest active others.
        viewer_first = Case(When(user_id=viewer_id, then=Value(0)), default=Value(1))
        rows = (
            _participants()
            .filter(room_id__in=list(room_ids))
            .filter(Q(removed_at__isnull=True) | Q(user_id=viewer_id))
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("room_id")],
                    order_by=[viewer_first.asc(), F("joined_at").asc(), F("id").asc()],
                )
            )
            .filter(rank__lte=limit + 1)
            .order_by("room_id", "rank")
        )
        preview: dict[uuid.UUID, list[ParticipantRecord]] = {room_id: [] for room_id in room_ids}
        for p in rows:
            preview[p.room_id].append(participant_record(p))
        for room_id, members in preview.items():
            others = [m for m in members if m.user_id != viewer_id][:limit]
            preview[room_id] = [m for m in members if m.user_id == viewer_id] + others
        return preview

    def room_owner_get(self, room_id: uuid.UUID) -> ParticipantRecord | None:
        p = _participants().filter(room_id=room_id, removed_at__isnull=True, role=Role.OWNER).first()
        return participant_record(p) if p else None

    def participant_successor(self, room_id: uuid.UUID, *, excluding: Sequence[int]) -> ParticipantRecord | None:
        admins_first = Case(When(role=Role.ADMIN, then=Value(0)), default=Value(1))
        p = (
            _participants()
            .filter(room_id=room_id, removed_at__isnull=True)
            .exclude(user_id__in=list(excluding))
            .order_by(admins_first.asc(), "joined_at", "id")
            .first()
        )
        return participant_record(p) if p else None

    def participants_add(
        self, room_id: uuid.UUID, *, user_ids: Sequence[int], role: str, at: datetime
    ) -> list[ParticipantRecord]:
        user_ids = list(dict.fromkeys(user_ids))
        existing = dict(
            Participant.objects.filter(room_id=room_id, user_id__in=user_ids).values_list("user_id", "removed_at")
        )
        joining = [u for u in user_ids if u not in existing or existing[u] is not None]
        Membership.objects.bulk_create([Membership(room_id=room_id, user_id=u, joined_at=at) for u in joining])
        Participant.objects.filter(room_id=room_id, user_id__in=existing, removed_at__isnull=False).update(
            removed_at=None,
            role=role,
            joined_at=at,
            is_muted=False,
            is_pinned=False,
            is_partner_blocked=False,
            updated_at=at,
        )
        Participant.objects.bulk_create(
            [Participant(room_id=room_id, user_id=u, role=role, joined_at=at) for u in user_ids if u not in existing]
        )
        rows = _participants().filter(room_id=room_id, user_id__in=user_ids)
        by_user = {p.user_id: participant_record(p) for p in rows}
        return [by_user[u] for u in user_ids]

    def participants_remove(self, room_id: uuid.UUID, *, user_ids: Sequence[int], at: datetime) -> None:
        Participant.objects.filter(room_id=room_id, user_id__in=list(user_ids), removed_at__isnull=True).update(
            removed_at=at, updated_at=at
        )
        Membership.objects.filter(room_id=room_id, user_id__in=list(user_ids), left_at__isnull=True).update(left_at=at)

    def participant_role_set(self, room_id: uuid.UUID, user_id: int, *, role: str) -> ParticipantRecord:
        Participant.objects.filter(room_id=room_id, user_id=user_id, removed_at__isnull=True).update(
            role=role, updated_at=timezone.now()
        )
        return participant_record(_participants().get(room_id=room_id, user_id=user_id))

    def participant_flag_toggle(self, room_id: uuid.UUID, user_id: int, *, flag: str) -> bool:
        if flag not in PARTICIPANT_FLAGS:
            raise ValueError(f"unknown participant flag {flag!r}")
        rows = Participant.objects.filter(room_id=room_id, user_id=user_id, removed_at__isnull=True)
        flipped = Case(When(**{flag: True}, then=Value(False)), default=Value(True), output_field=BooleanField())
        rows.update(**{flag: flipped, "updated_at": timezone.now()})
        return bool(rows.values_list(flag, flat=True).get())
