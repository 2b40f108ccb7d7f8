"""The transactional outbox: one row per event, written with the rows that caused it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class OutboxEvent(models.Model):
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The JetStream subject: CHAT_EVENTS.<room_id> or CHAT_DIRECT_EVENTS.<user_id>.
    subject = models.CharField(max_length=200)
    # Which member of the MessageEvent `oneof` this is (message, room_join, ...).
    event_type = models.CharField(max_length=32, db_index=True)
    room_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # The user who caused the event (the envelope's user_id).
    actor_user_id = models.CharField(max_length=64, blank=True, default="")
    # The MessageEvent as a dict with proto field names; encoded to protobuf when published.
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["published_at", "id"], name="outbox_unpublished")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subject}"


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class PushNotification(models.Model):
    """One push notification of a message to one user: the claim that makes it happen once, and its
    delivery record. The default back end's notifications are these rows (see the admin)."""

    event_id = models.UUIDField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    room_id = models.CharField(max_length=64, db_index=True)
    room_name = models.CharField(max_length=255, blank=True, default="")
    room_type = models.CharField(max_length=16, blank=True, default="")
    message_id = models.CharField(max_length=64, blank=True, default="")
    sender_id = models.CharField(max_length=64, blank=True, default="")
    sender_name = models.CharField(max_length=255, blank=True, default="")
    # The decrypted text of the message.
    text = models.TextField(blank=True, default="")
    backend = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=8, choices=PushStatus.choices, default=PushStatus.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["event_id", "user"], name="push_unique_event_user")]

    def __str__(self) -> str:
        return f"push {self.message_id} → {self.user_id} ({self.status})"
