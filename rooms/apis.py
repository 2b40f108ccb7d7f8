"""The room operations of SPEC.md §1 at their original paths: one thin view per operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.api import SUCCESS, error_responses, validated
from kernel.pagination import page_from, page_meta
from kernel.request import user_id_of
from kernel.serializers import SuccessSerializer
from rooms import selectors, services
from rooms.serializers import (
    PageQuerySerializer,
    ParticipantAddSerializer,
    ParticipantUpdateSerializer,
    RoomCreateSerializer,
    RoomIdSerializer,
    RoomLeaveSerializer,
    RoomListQuerySerializer,
    RoomListSerializer,
    RoomParticipantListSerializer,
    RoomResponseSerializer,
    RoomUpdateSerializer,
    SyncResponseSerializer,
    SyncSerializer,
)

TAG = "rooms"
ERRORS = error_responses(not_found="no such room, or the caller is not a member")
ERRORS_403 = error_responses(
    not_found="no such room, or the caller is not a member",
    forbidden="the caller's role lacks it",
)


class RoomListApi(APIView):
    @extend_schema(
        operation_id="GetRooms",
        tags=[TAG],
        parameters=[RoomListQuerySerializer],
        responses={200: RoomListSerializer, **ERRORS},
        description="The caller's rooms: pinned first, then by last message (newest first), then newest rooms. "
        "`search` matches the room name or the p2p partner's name (case and accent insensitive); "
        "`since` keeps rooms changed at or after that time.",
    )
    def get(self, request: Request) -> Response:
        query = validated(RoomListQuerySerializer, request.query_params)
        page = page_from(request.query_params)
        items, total = selectors.room_list(
            user_id=user_id_of(request),
            page=page,
            search=query["search"],
            room_type=query["type"],
            since=query["since"],
        )
        return Response({"items": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class RoomCreateApi(APIView):
    throttle_scope = "room_create"

    @extend_schema(
        operation_id="CreateRoom",
        tags=[TAG],
        request=RoomCreateSerializer,
        responses={200: RoomResponseSerializer, **ERRORS},
        description="p2p: exactly one participant; answers the existing p2p room of the two users if there is "
        "one. group: needs a name; a participant who is unknown, or who has blocked the caller in their p2p "
        "room, is refused with 400 `invalid_request_data` (alike). The caller becomes OWNER, the others MEMBERs.",
    )
    def post(self, request: Request) -> Response:
        data = validated(RoomCreateSerializer, request.data)
        result = services.room_create(
            user_id=user_id_of(request),
            room_type=data["type"],
            participant_ids=data["participants"],
            name=data["name"],
            description=data["description"],
            photo_url=data["photo_url"],
            send_message=data["send_message"],
            add_member=data["add_member"],
            edit_group=data["edit_group"],
        )
        return Response({**SUCCESS, "room": result.room})


class RoomDetailApi(APIView):
    @extend_schema(operation_id="GetRoom", tags=[TAG], responses={200: RoomResponseSerializer, **ERRORS})
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002 - the original path parameter
        return Response({**SUCCESS, "room": selectors.room_for_user(room_id=id, user_id=user_id_of(request))})


class RoomUpdateApi(APIView):
    @extend_schema(
        operation_id="UpdateRoom",
        tags=[TAG],
        request=RoomUpdateSerializer,
        responses={200: SuccessSerializer, **ERRORS_403},
        description="Groups only. A MEMBER needs `edit_group`; member permissions are changed by OWNER/ADMIN only.",
    )
    def put(self, request: Request) -> Response:
        data = validated(RoomUpdateSerializer, request.data)
        room_id = data.pop("id")
        services.room_update(user_id=user_id_of(request), room_id=room_id, changes=data)
        return Response(SUCCESS)


class RoomParticipantsApi(APIView):
    @extend_schema(
        operation_id="GetRoomParticipants",
        tags=[TAG],
        parameters=[PageQuerySerializer],
        responses={200: RoomParticipantListSerializer, **ERRORS},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002
        query = validated(PageQuerySerializer, request.query_params)
        page = page_from(request.query_params)
        items, total = selectors.room_participants(
            room_id=id, user_id=user_id_of(request), page=page, search=query["search"]
        )
        return Response({"participants": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class ParticipantAddApi(APIView):
    throttle_scope = "member_add"

    @extend_schema(
        operation_id="AddParticipantToRoom",
        tags=[TAG],
        request=ParticipantAddSerializer,
        responses={200: SuccessSerializer, **ERRORS_403},
        description="Groups only. A MEMBER needs `add_member`. Removed members are re-activated. A user who is "
        "unknown, or who has blocked the caller in their p2p room, is refused with 400 `invalid_request_data` "
        "(alike), and nobody is added.",
    )
    def post(self, request: Request) -> Response:
        data = validated(ParticipantAddSerializer, request.data)
        services.room_participants_add(
            user_id=user_id_of(request), room_id=data["id"], participant_ids=data["participants"]
        )
        return Response(SUCCESS)


class ParticipantUpdateApi(APIView):
    @extend_schema(
        operation_id="UpdateParticipantRoom",
        tags=[TAG],
        request=ParticipantUpdateSerializer,
        responses={200: SuccessSerializer, **ERRORS_403},
        description="OWNER or ADMIN only. Only the OWNER hands over the ownership (and becomes ADMIN).",
    )
    def put(self, request: Request) -> Response:
        data = validated(ParticipantUpdateSerializer, request.data)
        services.room_participant_role_set(
            user_id=user_id_of(request), room_id=data["id"], participant_id=data["participant"], role=data["role"]
        )
        return Response(SUCCESS)


class RoomLeaveApi(APIView):
    @extend_schema(
        operation_id="LeaveRoom",
        tags=[TAG],
        request=RoomLeaveSerializer,
        responses={200: SuccessSerializer, **ERRORS_403},
        description="No participants: the caller leaves. p2p: the room is deleted for both. A MEMBER may remove "
        "only itself; `leave_all` (OWNER) empties and deletes a group.",
    )
    def post(self, request: Request) -> Response:
        data = validated(RoomLeaveSerializer, request.data)
        services.room_leave(
            user_id=user_id_of(request),
            room_id=data["id"],
            participant_ids=data["participants"],
            leave_all=data["leave_all"],
        )
        return Response(SUCCESS)


class _ToggleApi(APIView):
    toggle = staticmethod(services.room_pin_toggle)

    def post(self, request: Request) -> Response:
        data = validated(RoomIdSerializer, request.data)
        type(self).toggle(user_id=user_id_of(request), room_id=data["id"])
        return Response(SUCCESS)


F = TypeVar("F", bound=Callable[..., Any])


def _toggle_schema(operation_id: str, description: str) -> Callable[[F], F]:
    return extend_schema(
        operation_id=operation_id,
        tags=[TAG],
        request=RoomIdSerializer,
        responses={200: SuccessSerializer, **ERRORS},
        description=description,
    )


class RoomPinApi(_ToggleApi):
    toggle = staticmethod(services.room_pin_toggle)

    @_toggle_schema("PinRoom", "Toggles the caller's pin of the room.")
    def post(self, request: Request) -> Response:
        return super().post(request)


class RoomMuteApi(_ToggleApi):
    toggle = staticmethod(services.room_mute_toggle)

    @_toggle_schema("MuteRoom", "Toggles the caller's mute of the room (no push while muted).")
    def post(self, request: Request) -> Response:
        return super().post(request)


class RoomBlockApi(_ToggleApi):
    toggle = staticmethod(services.room_block_toggle)

    @_toggle_schema("BlockUser", "p2p only: toggles the caller's block of the partner (no sending while set).")
    def post(self, request: Request) -> Response:
        return super().post(request)


class InitialSyncApi(APIView):
    @extend_schema(
        operation_id="InitialSync",
        tags=["messages"],
        request=SyncSerializer,
        responses={200: SyncResponseSerializer, **ERRORS},
        description="What changed since `last_sync_timestamp`: rooms, removed/deleted room ids, and per room up "
        "to `messages_per_room` messages created or changed since. Pass `sync_timestamp` next time.",
    )
    def post(self, request: Request) -> Response:
        data = validated(SyncSerializer, request.data)
        return Response(
            selectors.initial_sync(
                user_id=user_id_of(request),
                last_sync_timestamp=data["last_sync_timestamp"],
                messages_per_room=data["messages_per_room"],
            )
        )
