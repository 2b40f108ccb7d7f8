"""Writes of the messaging domain: one function per action, each one unit of work with its events."""

from messaging.services.send import MentionInput, SendRequest, SendResult, message_send, system_message_create

__all__ = [
    "MentionInput",
    "SendRequest",
    "SendResult",
    "message_send",
    "system_message_create",
]
