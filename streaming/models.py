"""Push notifications: the claim that makes each happen once, and its delivery record.

The outbox of events is storage's (storage.models.OutboxEvent).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
