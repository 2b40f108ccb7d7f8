from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sender(_message.Message):
    __slots__ = ("id", "name", "avatar", "phone")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    avatar: str
    phone: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., avatar: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Mention(_message.Message):
    __slots__ = ("tag", "user")
    TAG_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    tag: str
    user: str
    def __init__(self, tag: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class Reaction(_message.Message):
    __slots__ = ("message_id", "reaction", "user", "created_at")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REACTION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    reaction: str
    user: Sender
    created_at: str
    def __init__(self, message_id: _Optional[str] = ..., reaction: _Optional[str] = ..., user: _Optional[_Union[Sender, _Mapping]] = ..., created_at: _Optional[str] = ...) -> None: ...

class MessageData(_message.Message):
    __slots__ = ("id", "room_id", "sender", "content", "reply", "forward_id", "forwarded_from", "mentions", "status", "created_at", "updated_at", "type", "edited", "is_deleted", "audio_transcription", "lifetime", "location_name", "location_latitude", "location_longitude", "origin", "contact_id", "contact_name", "contact_phone", "file", "reactions", "event", "sender_message_id", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    FORWARD_ID_FIELD_NUMBER: _ClassVar[int]
    FORWARDED_FROM_FIELD_NUMBER: _ClassVar[int]
    MENTIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    IS_DELETED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_TRANSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_NAME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_PHONE_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SENDER_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    room_id: str
    sender: Sender
    content: str
    reply: MessageData
    forward_id: str
    forwarded_from: Sender
    mentions: _containers.RepeatedCompositeFieldContainer[Mention]
    status: str
    created_at: str
    updated_at: str
    type: str
    edited: bool
    is_deleted: bool
    audio_transcription: str
    lifetime: int
    location_name: str
    location_latitude: float
    location_longitude: float
    origin: str
    contact_id: str
    contact_name: str
    contact_phone: str
    file: str
    reactions: _containers.RepeatedCompositeFieldContainer[Reaction]
    event: str
    sender_message_id: str
    text: str
    def __init__(self, id: _Optional[str] = ..., room_id: _Optional[str] = ..., sender: _Optional[_Union[Sender, _Mapping]] = ..., content: _Optional[str] = ..., reply: _Optional[_Union[MessageData, _Mapping]] = ..., forward_id: _Optional[str] = ..., forwarded_from: _Optional[_Union[Sender, _Mapping]] = ..., mentions: _Optional[_Iterable[_Union[Mention, _Mapping]]] = ..., status: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., type: _Optional[str] = ..., edited: _Optional[bool] = ..., is_deleted: _Optional[bool] = ..., audio_transcription: _Optional[str] = ..., lifetime: _Optional[int] = ..., location_name: _Optional[str] = ..., location_latitude: _Optional[float] = ..., location_longitude: _Optional[float] = ..., origin: _Optional[str] = ..., contact_id: _Optional[str] = ..., contact_name: _Optional[str] = ..., contact_phone: _Optional[str] = ..., file: _Optional[str] = ..., reactions: _Optional[_Iterable[_Union[Reaction, _Mapping]]] = ..., event: _Optional[str] = ..., sender_message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class RoomParticipant(_message.Message):
    __slots__ = ("id", "name", "phone", "avatar", "role", "is_muted", "is_pinned", "is_partner_blocked", "joined_at", "removed_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    IS_MUTED_FIELD_NUMBER: _ClassVar[int]
    IS_PINNED_FIELD_NUMBER: _ClassVar[int]
    IS_PARTNER_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    phone: str
    avatar: str
    role: str
    is_muted: bool
    is_pinned: bool
    is_partner_blocked: bool
    joined_at: str
    removed_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., avatar: _Optional[str] = ..., role: _Optional[str] = ..., is_muted: _Optional[bool] = ..., is_pinned: _Optional[bool] = ..., is_partner_blocked: _Optional[bool] = ..., joined_at: _Optional[str] = ..., removed_at: _Optional[str] = ...) -> None: ...

class Room(_message.Message):
    __slots__ = ("id", "name", "description", "photo_url", "encryption_data", "type", "unread_count", "role", "join_all_user", "last_message_at", "send_message", "add_member", "edit_group", "created_at", "updated_at", "partner", "participants", "is_partner_blocked", "is_muted", "is_pinned", "last_message")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PHOTO_URL_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_DATA_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    JOIN_ALL_USER_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_AT_FIELD_NUMBER: _ClassVar[int]
    SEND_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ADD_MEMBER_FIELD_NUMBER: _ClassVar[int]
    EDIT_GROUP_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    IS_PARTNER_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    IS_MUTED_FIELD_NUMBER: _ClassVar[int]
    IS_PINNED_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    photo_url: str
    encryption_data: str
    type: str
    unread_count: int
    role: str
    join_all_user: bool
    last_message_at: str
    send_message: bool
    add_member: bool
    edit_group: bool
    created_at: str
    updated_at: str
    partner: RoomParticipant
    participants: _containers.RepeatedCompositeFieldContainer[RoomParticipant]
    is_partner_blocked: bool
    is_muted: bool
    is_pinned: bool
    last_message: MessageData
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., photo_url: _Optional[str] = ..., encryption_data: _Optional[str] = ..., type: _Optional[str] = ..., unread_count: _Optional[int] = ..., role: _Optional[str] = ..., join_all_user: _Optional[bool] = ..., last_message_at: _Optional[str] = ..., send_message: _Optional[bool] = ..., add_member: _Optional[bool] = ..., edit_group: _Optional[bool] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., partner: _Optional[_Union[RoomParticipant, _Mapping]] = ..., participants: _Optional[_Iterable[_Union[RoomParticipant, _Mapping]]] = ..., is_partner_blocked: _Optional[bool] = ..., is_muted: _Optional[bool] = ..., is_pinned: _Optional[bool] = ..., last_message: _Optional[_Union[MessageData, _Mapping]] = ...) -> None: ...

class StatusUpdate(_message.Message):
    __slots__ = ("message_id", "status", "updated_at", "user_id", "sender_id")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    status: str
    updated_at: str
    user_id: str
    sender_id: str
    def __init__(self, message_id: _Optional[str] = ..., status: _Optional[str] = ..., updated_at: _Optional[str] = ..., user_id: _Optional[str] = ..., sender_id: _Optional[str] = ...) -> None: ...

class RoomJoin(_message.Message):
    __slots__ = ("user_id", "joined_at", "display_name", "owner_user_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    joined_at: str
    display_name: str
    owner_user_id: str
    def __init__(self, user_id: _Optional[str] = ..., joined_at: _Optional[str] = ..., display_name: _Optional[str] = ..., owner_user_id: _Optional[str] = ...) -> None: ...

class RoomLeave(_message.Message):
    __slots__ = ("users_id", "left_at", "reason")
    USERS_ID_FIELD_NUMBER: _ClassVar[int]
    LEFT_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    users_id: _containers.RepeatedScalarFieldContainer[str]
    left_at: str
    reason: str
    def __init__(self, users_id: _Optional[_Iterable[str]] = ..., left_at: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Typing(_message.Message):
    __slots__ = ("user_id", "is_typing", "updated_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    IS_TYPING_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    is_typing: bool
    updated_at: str
    def __init__(self, user_id: _Optional[str] = ..., is_typing: _Optional[bool] = ..., updated_at: _Optional[str] = ...) -> None: ...

class ErrorEvent(_message.Message):
    __slots__ = ("code", "message", "details")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    details: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[str] = ...) -> None: ...

class MessageEvent(_message.Message):
    __slots__ = ("room", "room_id", "event_id", "message", "status_update", "is_room_updated", "room_join", "room_leave", "typing", "error", "update_message", "delete_message", "connected")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_UPDATE_FIELD_NUMBER: _ClassVar[int]
    IS_ROOM_UPDATED_FIELD_NUMBER: _ClassVar[int]
    ROOM_JOIN_FIELD_NUMBER: _ClassVar[int]
    ROOM_LEAVE_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELETE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    room: Room
    room_id: str
    event_id: str
    message: MessageData
    status_update: StatusUpdate
    is_room_updated: bool
    room_join: RoomJoin
    room_leave: RoomLeave
    typing: Typing
    error: ErrorEvent
    update_message: MessageData
    delete_message: str
    connected: bool
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ..., room_id: _Optional[str] = ..., event_id: _Optional[str] = ..., message: _Optional[_Union[MessageData, _Mapping]] = ..., status_update: _Optional[_Union[StatusUpdate, _Mapping]] = ..., is_room_updated: _Optional[bool] = ..., room_join: _Optional[_Union[RoomJoin, _Mapping]] = ..., room_leave: _Optional[_Union[RoomLeave, _Mapping]] = ..., typing: _Optional[_Union[Typing, _Mapping]] = ..., error: _Optional[_Union[ErrorEvent, _Mapping]] = ..., update_message: _Optional[_Union[MessageData, _Mapping]] = ..., delete_message: _Optional[str] = ..., connected: _Optional[bool] = ...) -> None: ...
