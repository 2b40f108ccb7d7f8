"""The permission matrix of the room writes: who gets what, and refusals write nothing."""

from __future__ import annotations

import pytest

from domain.permissions import check_member_permission, has_member_permission
from kernel.errors import PermissionDenied
from storage import get_repository
from tests import storage_probe as probe

# operation → (method, path, payload builder, the member permission that unlocks it for MEMBERs or None)
OPERATIONS = {
    "UpdateRoom": (
        "put",
        "/api/chat/v1/room/update",
        lambda room, target: {"id": room, "name": "Renamed"},
        "edit_group",
    ),
    "AddParticipantToRoom": (
        "post",
        "/api/chat/v1/room/participant/add",
        lambda room, target: {"id": room, "participants": [target]},
        "add_member",
    ),
    "UpdateParticipantRoom": (
        "put",
        "/api/chat/v1/room/participant/update",
        lambda room, target: {"id": room, "participant": target, "role": "ADMIN"},
        None,
    ),
    "LeaveRoom (others)": (
        "post",
        "/api/chat/v1/room/leave",
        lambda room, target: {"id": room, "participants": [target]},
        None,
    ),
}

# who → expected status per operation kind (with a member permission / without one)
MATRIX = {
    "anonymous": (401, "invalid_token"),
    "non_member": (404, "not_found"),
    "member_without_permission": (403, "permission_denied"),
    "member_with_permissions": None,  # 200 where a permission unlocks the operation, else 403
    "owner": (200, None),
}


def _state() -> tuple:
    return (
        sorted((r.id.int, r.name, r.deleted_at) for r in probe.rooms()),
        sorted((p.room_id.int, p.user_id, p.role, p.removed_at) for p in probe.participants()),
        len(probe.messages()),
        len(probe.outbox()),
    )


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("who", list(MATRIX))
@pytest.mark.django_db
def test_permission_matrix(api, user_factory, make_group, operation, who) -> None:
    owner, member, other, stranger, newcomer = (user_factory() for _ in range(5))
    method, url, payload, permission = OPERATIONS[operation]
    with_permissions = who == "member_with_permissions"
    room_id = make_group(owner, member, other, edit_group=with_permissions, add_member=with_permissions)
    target = newcomer.id if operation == "AddParticipantToRoom" else other.id
    actor = {"anonymous": None, "non_member": stranger, "owner": owner}.get(who, member)
    expected = MATRIX[who] or ((200, None) if permission else (403, "permission_denied"))
    before = _state()

    client = api(actor) if actor else api()
    response = getattr(client, method)(url, payload(str(room_id), target), format="json")

    assert response.status_code == expected[0], response.content
    if expected[1]:
        assert response.json()["code"] == expected[1]
        assert _state() == before  # a refusal writes nothing
    else:
        assert response.json() == {"success": True}
        assert _state() != before


@pytest.mark.django_db
def test_check_member_permission_passes_owner_and_admin_and_ignores_p2p(user_factory, make_group, make_p2p):
    owner, member = user_factory(), user_factory()
    repo = get_repository()
    room = repo.room_get(make_group(owner, member, send_message=False))
    p2p = repo.room_get(make_p2p(owner, member))
    assert room is not None and p2p is not None
    owner_p = repo.participant_get(room.id, owner.id)
    member_p = repo.participant_get(room.id, member.id)
    assert owner_p is not None and member_p is not None

    for perm in ("send_message", "add_member", "edit_group"):
        check_member_permission(room, owner_p, perm)  # OWNER always passes
        with pytest.raises(PermissionDenied):
            check_member_permission(room, member_p, perm)
    assert has_member_permission(p2p, member_p, "send_message")
    with pytest.raises(ValueError):
        has_member_permission(room, owner_p, "fly")  # type: ignore[arg-type]
