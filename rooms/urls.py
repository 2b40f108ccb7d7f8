"""The room operations at their original paths under /api/chat/v1/ (SPEC.md §1)."""

from django.urls import path

from rooms import apis, apis_users

urlpatterns = [
    path("room/list", apis.RoomListApi.as_view(), name="room-list"),
    path("room/create", apis.RoomCreateApi.as_view(), name="room-create"),
    path("room/update", apis.RoomUpdateApi.as_view(), name="room-update"),
    path("room/participant/add", apis.ParticipantAddApi.as_view(), name="room-participant-add"),
    path("room/participant/update", apis.ParticipantUpdateApi.as_view(), name="room-participant-update"),
    path("room/leave", apis.RoomLeaveApi.as_view(), name="room-leave"),
    path("room/pin", apis.RoomPinApi.as_view(), name="room-pin"),
    path("room/mute", apis.RoomMuteApi.as_view(), name="room-mute"),
    path("room/block", apis.RoomBlockApi.as_view(), name="room-block"),
    path("room/<uuid:id>", apis.RoomDetailApi.as_view(), name="room-detail"),
    path("room/<uuid:id>/participants", apis.RoomParticipantsApi.as_view(), name="room-participants"),
    path("sync", apis.InitialSyncApi.as_view(), name="initial-sync"),
    # Beyond the original: the user directory and the caller's own record.
    path("users", apis_users.UserListApi.as_view(), name="user-list"),
    path("me", apis_users.MeApi.as_view(), name="user-me"),
]
