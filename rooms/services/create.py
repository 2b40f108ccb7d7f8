"""CreateRoom (SPEC.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from events.emit import emit
from kernel.crypto import encryption_data_generate
from kernel.errors import InvalidRequestData
from rooms.selectors import room_for_user
from rooms.services.common import (
    RoomCreateResult,
    check_room_size,
    check_users_addable,
    formatted_in_memory,
    new_participant,
    p2p_key_for,
    room_join_direct,
    unique_ids,
)
from storage import get_repository
from storage.enums import Role, RoomType
from storage.errors import P2PRoomExistsError
from storage.records import RoomDraft

# --- CreateRoom ---------------------------------------------------------------------------------


def room_create(
    *,
    user_id: int,
    room_type: str,
    participant_ids: Sequence[int],
    name: str = "",
    description: str = "",
    photo_url: str = "",
    send_message: bool = True,
    add_member: bool = False,
    edit_group: bool = False,
) -> RoomCreateResult:
    """Creates a room with the caller as OWNER and the others as MEMBERs (SPEC.md §3).

    p2p: exactly one other participant; if the pair already has a live p2p room (also one created
    concurrently), that room is returned and nothing is written. Other types: refused with 400,
    nothing written, if a participant is unknown or has blocked the caller (check_users_addable).
    """
    others = [p for p in unique_ids(participant_ids) if p != user_id]
    errors: dict[str, list[str]] = {}
    if room_type not in RoomType.values:
        errors["type"] = [f"Must be one of {', '.join(RoomType.values)}."]
    if not others:
        errors["participants"] = ["At least one participant other than you is required."]
    elif room_type == RoomType.P2P and len(others) != 1:
        errors["participants"] = ["A p2p room takes exactly one participant."]
    if room_type != RoomType.P2P and not name.strip():
        errors["name"] = ["A group needs a name."]
    if errors:
        raise InvalidRequestData(details=errors)
    check_room_size(1 + len(others))
    is_p2p = room_type == RoomType.P2P
    # A p2p room is the pair's own: a block there is SendMessage's business, not a refusal here.
    users = check_users_addable(others, actor_id=None if is_p2p else user_id)
    users.update(get_repository().users_get([user_id]))

    repo = get_repository()
    p2p_key = p2p_key_for(user_id, others[0]) if is_p2p else None
    if p2p_key:
        existing = repo.room_get_by_p2p_key(p2p_key)
        if existing is not None:
            return RoomCreateResult(room=room_for_user(room_id=existing.id, user_id=user_id), created=False)

    draft = RoomDraft(
        type=room_type,
        name="" if is_p2p else name.strip(),
        description=description,
        photo_url=photo_url,
        encryption_data=encryption_data_generate(),  # scrypt: outside the transaction on purpose
        send_message=True if is_p2p else send_message,
        add_member=False if is_p2p else add_member,
        edit_group=False if is_p2p else edit_group,
        created_by_id=user_id,
        p2p_key=p2p_key,
    )
    now = timezone.now()
    roles = [(user_id, Role.OWNER)] + [(other, Role.MEMBER) for other in others]
    with repo.atomic():
        try:
            room = repo.room_insert(draft, participants=roles, at=now)
        except P2PRoomExistsError:
            room = None
        if room is not None:
            members = [new_participant(room.id, users[uid], role, now) for uid, role in roles]
            emit(
                [
                    room_join_direct(
                        room=room,
                        member=member,
                        owner_id=user_id,
                        actor_id=user_id,
                        formatted=formatted_in_memory(room, member, members),
                    )
                    for member in members
                ]
            )
    if room is None:
        # A concurrent create of the same pair committed first: answer with its room.
        existing = repo.room_get_by_p2p_key(p2p_key or "")
        if existing is None:
            raise InvalidRequestData("The p2p room could not be created, try again.")
        return RoomCreateResult(room=room_for_user(room_id=existing.id, user_id=user_id), created=False)
    creator = members[0]
    return RoomCreateResult(room=formatted_in_memory(room, creator, members), created=True)
