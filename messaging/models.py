"""Messages, per-participant meta (read state), reactions and mentions (`postgres` back end)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class MessageType(models.TextChoices):
    USER = "user_message", "User message"
    SYSTEM = "system_message", "System message"
    CONTACT = "contact", "Contact"


class SystemEvent(models.TextChoices):
    NEW_MEMBER = "new_member", "New member"
    REMOVE_MEMBER = "remove_member", "Member removed"
    NEW_NAME = "new_name", "New name"
    NEW_PHOTO = "new_photo", "New photo"


class MessageStatus(models.TextChoices):
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    ERROR = "ERROR"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="chat_messages"
    )
    sender_message_id = models.CharField(max_length=128, blank=True, default="")
    type = models.CharField(max_length=16, choices=MessageType.choices, default=MessageType.USER)
    event = models.CharField(max_length=32, blank=True, default="")
    # `content` is the ciphertext of SPEC.md §6; `text` the decrypted text (push, search, admin).
    content = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.SENT)
    reply_to = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    forwarded_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lifetime = models.IntegerField(default=0)
    origin = models.CharField(max_length=64, blank=True, default="")
    location_name = models.CharField(max_length=255, blank=True, default="")
    location_latitude = models.FloatField(null=True, blank=True)
    location_longitude = models.FloatField(null=True, blank=True)
    contact_id = models.CharField(max_length=64, blank=True, default="")
    contact_name = models.CharField(max_length=255, blank=True, default="")
    contact_phone = models.CharField(max_length=32, blank=True, default="")
    file = models.CharField(max_length=1000, blank=True, default="")
    audio_transcription = models.TextField(blank=True, default="")
    edited = models.BooleanField(default=False)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "sender_message_id"],
                condition=~models.Q(sender_message_id=""),
                name="message_unique_sender_message_id",
            )
        ]
        indexes = [models.Index(fields=["room", "-created_at"], name="message_room_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class MessageMeta(models.Model):
    """Per-participant state of a message: read time, deleted for this user, sender blocked."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="meta")
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    is_sender_blocked = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="meta_unique_message_user")]
        indexes = [models.Index(fields=["user", "room", "read_at"], name="meta_user_room_read")]


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reaction = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="reaction_unique_message_user")]


class Mention(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tag = models.CharField(max_length=150)
