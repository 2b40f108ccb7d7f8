"""The wire format of SPEC.md §5, shared by the publisher, the bridge and replay (no NATS here).

A JetStream message is the JSON `{"user_id": <actor>, "payload": <base64 of the MessageEvent>}`,
published with header `Nats-Msg-Id` = the event id so that JetStream drops republishes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from events.builders import encode_event
from events.proto import chat_pb2
from events.subjects import DIRECT_SUBJECT_PREFIX, ROOM_SUBJECT_PREFIX, TYPING_SUBJECT_PREFIX, room_subject

MSG_ID_HEADER = "Nats-Msg-Id"


class EnvelopeError(ValueError):
    """A JetStream message that is not a valid envelope (it is logged and skipped, never retried)."""


@dataclass(frozen=True)
class Envelope:
    actor_user_id: str
    event: dict[str, Any]  # the MessageEvent as a dict with proto field names

    @property
    def event_type(self) -> str:
        return next((k for k in EVENT_KEYS if k in self.event), "")


EVENT_KEYS = tuple(f.name for f in chat_pb2.MessageEvent.DESCRIPTOR.oneofs_by_name["event"].fields)


def encode_envelope(*, actor_user_id: str, data: dict[str, Any], payload: bytes | None = None) -> bytes:
    """The envelope bytes of an event dict (validated by protobuf on the way), or of its protobuf
    bytes when the event's builder made them (`payload`)."""
    if payload is None:
        payload = encode_event(data).SerializeToString()
    return json.dumps(
        {"user_id": actor_user_id, "payload": base64.b64encode(payload).decode("ascii")}, separators=(",", ":")
    ).encode()


def event_dict(message: chat_pb2.MessageEvent) -> dict[str, Any]:
    """A MessageEvent as the socket shows it: proto field names, every field of the payload present."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _parse(raw: bytes) -> tuple[Any, chat_pb2.MessageEvent]:
    try:
        body = json.loads(raw)
        payload = base64.b64decode(body["payload"], validate=True)
        return body, chat_pb2.MessageEvent.FromString(payload)
    except (ValueError, KeyError, TypeError, binascii.Error, DecodeError) as exc:
        raise EnvelopeError(f"malformed envelope: {exc}") from exc


def decode_envelope(raw: bytes) -> Envelope:
    """Parses an envelope; raises EnvelopeError on anything malformed."""
    body, message = _parse(raw)
    return _envelope(body, message)


def decode_envelope_of(raw: bytes, kinds: tuple[str, ...]) -> Envelope | None:
    """decode_envelope(), or None (cheaply: no dict is built) for an event of another type."""
    body, message = _parse(raw)
    return _envelope(body, message) if message.WhichOneof("event") in kinds else None


def _envelope(body: Any, message: chat_pb2.MessageEvent) -> Envelope:
    actor = body.get("user_id", "") if isinstance(body, dict) else ""
    return Envelope(actor_user_id="" if actor is None else str(actor), event=event_dict(message))


def group_for_subject(subject: str) -> str | None:
    """The channel-layer group of a subject: `room.<id>` or `user.<id>`; None for foreign subjects."""
    prefix, _, token = subject.partition(".")
    if not token:
        return None
    if prefix in (ROOM_SUBJECT_PREFIX, TYPING_SUBJECT_PREFIX):
        return f"room.{token}"
    if prefix == DIRECT_SUBJECT_PREFIX:
        return f"user.{token}"
    return None


def item_subject(subject: str) -> str:
    """The subject a socket knows an event by: a room's typing subject stands for the room's own."""
    prefix, _, token = subject.partition(".")
    return room_subject(token) if prefix == TYPING_SUBJECT_PREFIX and token else subject


def route(subject: str, event: dict[str, Any]) -> tuple[str | None, bool]:
    """The group an event goes to, and whether it stays in its subject's chain (see StreamItem).

    A `status_update` SENT concerns only its sender's connections (SPEC.md §5): it goes to the
    sender's user group instead of the whole room, which halves the room's traffic per message.
    """
    group = group_for_subject(subject)
    if subject.startswith(TYPING_SUBJECT_PREFIX + "."):
        return group, False  # ephemeral: outside the room subject's chain
    update = event.get("status_update")
    if group is not None and group.startswith("room.") and update and update.get("status") == "SENT":
        sender = str(update.get("sender_id") or "")
        if sender:
            return user_group(sender), False
    return group, True


def room_group(room_id: object) -> str:
    return f"room.{room_id}"


def user_group(user_id: object) -> str:
    return f"user.{user_id}"


GROUP_MESSAGE_TYPE = "stream.event"

# The fields of an event's payload that the per-connection rules read (streaming.rules); the other
# kinds are told apart by their key alone.
ROUTING_FIELDS: dict[str, tuple[str, ...]] = {
    "status_update": ("status", "sender_id"),
    "room_join": ("user_id",),
    "room_leave": ("users_id",),
}


# update_message: what the visibility rule reads (streaming.rules.update_visibility): the message's
# id, when it was created and by whom, never its text.
UPDATE_MESSAGE_KIND = "update_message"


def routing_view(event: dict[str, Any]) -> dict[str, Any]:
    """What the per-connection rules read of an event, in the event's own shape: its ids, and its
    kind with only the fields of ROUTING_FIELDS (update_message: its id, created_at and sender's id;
    other kinds: True)."""
    view: dict[str, Any] = {"event_id": event.get("event_id", ""), "room_id": event.get("room_id", "")}
    for kind in EVENT_KEYS:
        if kind in event:
            fields = ROUTING_FIELDS.get(kind)
            value = event[kind]
            if kind == UPDATE_MESSAGE_KIND and isinstance(value, dict):
                sender = value.get("sender")
                sender = sender if isinstance(sender, dict) else {}
                view[kind] = {
                    "id": value.get("id", ""),
                    "created_at": value.get("created_at", ""),
                    "sender": {"id": sender.get("id", "")},
                }
            elif fields is None:
                view[kind] = True
            else:
                view[kind] = {f: value[f] for f in fields if f in value} if isinstance(value, dict) else value
    return view


def frame_text(event: dict[str, Any], seq: int) -> str:
    """The socket frame of an event as the client gets it: the MessageEvent fields and the cursor."""
    return json.dumps({**event, "cursor": str(seq)})


def frame_text_with_room(text: str, room: Any) -> str:
    """A frame_text() with the room as the receiving user sees it (`is_room_updated`, `room_join`),
    the room placed as it would have been in the event (before the cursor)."""
    frame = json.loads(text)
    cursor = frame.pop("cursor")
    frame["room"] = room
    frame["cursor"] = cursor
    return json.dumps(frame)


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One stored event as the bridge forwards it and replay reads it.

    `seq` is its JetStream stream sequence (the socket's cursor); `prev` the sequence of the previous
    event the bridge sent on the same subject to the same group, so a socket can tell it missed one
    (None: unknown). `chained` is False for an event routed off its subject's group (a SENT status,
    sent to its sender's user group only): it is not part of the chain `prev` describes.
    `view` is what the per-connection rules read of the event (routing_view), `text` its socket
    frame (frame_text), encoded once per event, not once per socket. `stored_at`: when JetStream
    stored it (epoch seconds; None when not known), for the stored→socket latency metric.
    """

    subject: str
    seq: int
    prev: int | None
    actor_user_id: str
    view: dict[str, Any]
    text: str
    chained: bool = True
    stored_at: float | None = None

    @classmethod
    def of_event(
        cls,
        *,
        subject: str,
        seq: int,
        prev: int | None,
        actor_user_id: str,
        event: dict[str, Any],
        chained: bool = True,
        stored_at: float | None = None,
    ) -> StreamItem:
        return cls(subject, seq, prev, actor_user_id, routing_view(event), frame_text(event, seq), chained, stored_at)

    def group_message(self) -> dict[str, Any]:
        return {
            "type": GROUP_MESSAGE_TYPE,
            "subject": self.subject,
            "seq": self.seq,
            "prev": self.prev,
            "actor": self.actor_user_id,
            "view": self.view,
            "text": self.text,
            "chained": self.chained,
            "stored_at": self.stored_at,
        }

    @classmethod
    def from_group_message(cls, message: dict[str, Any]) -> StreamItem:
        raw_prev = message.get("prev")
        subject, seq, prev = str(message["subject"]), int(message["seq"]), None if raw_prev is None else int(raw_prev)
        actor, chained = str(message.get("actor") or ""), bool(message.get("chained", True))
        stored_at = message.get("stored_at")
        if "text" not in message:  # from a bridge of the previous release: the whole event
            event = message["event"]
            return cls.of_event(subject=subject, seq=seq, prev=prev, actor_user_id=actor, event=event, chained=chained)
        return cls(subject, seq, prev, actor, message["view"], message["text"], chained, stored_at)
