"""Rooms, participants and user profiles (the `postgres` storage back end's tables)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class RoomType(models.TextChoices):
    P2P = "p2p", "Person to person"
    GROUP = "group", "Group"
    CHANNEL = "channel", "Channel"


class Role(models.TextChoices):
    OWNER = "OWNER", "Owner"
    ADMIN = "ADMIN", "Admin"
    MEMBER = "MEMBER", "Member"


class Profile(models.Model):
    """What the chat shows of a user: display name, phone, avatar."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_profile")
    display_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.display_name or str(self.user)


class Room(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=16, choices=RoomType.choices, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    photo_url = models.URLField(max_length=500, blank=True)
    encryption_data = models.TextField(editable=False)
    join_all_user = models.BooleanField(default=False)
    # Permissions of MEMBERs (OWNER and ADMIN always have them).
    send_message = models.BooleanField(default=True)
    add_member = models.BooleanField(default=False)
    edit_group = models.BooleanField(default=False)
    # p2p rooms only: "<low user id>:<high user id>", unique, so two concurrent creates make one room.
    p2p_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_message_id = models.UUIDField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or f"{self.type} {self.id}"


class Participant(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_participations")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    is_muted = models.BooleanField(default=False)
    is_pinned = models.BooleanField(default=False)
    is_partner_blocked = models.BooleanField(default=False)
    joined_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="participant_unique_room_user")]
        indexes = [models.Index(fields=["user", "removed_at"], name="participant_user_active")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} ({self.role})"
