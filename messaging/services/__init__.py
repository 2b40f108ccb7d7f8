"""Writes of the messaging domain: one function per action, each one unit of work with its events."""

from messaging.services.changes import (
    DeleteResult,
    EditResult,
    ReactResult,
    message_edit,
    message_react,
    messages_delete,
    messages_moderate_delete,
)
from messaging.services.reads import MarkReadResult, messages_mark_read
from messaging.services.send import MentionInput, SendRequest, SendResult, message_send, system_message_create

__all__ = [
    "DeleteResult",
    "EditResult",
    "MarkReadResult",
    "MentionInput",
    "ReactResult",
    "SendRequest",
    "SendResult",
    "message_edit",
    "message_react",
    "messages_delete",
    "messages_mark_read",
    "messages_moderate_delete",
    "message_send",
    "system_message_create",
]
