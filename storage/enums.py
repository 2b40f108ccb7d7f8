"""The vocabulary of stored rooms and messages, shared by both back ends and every layer above.

The members are strings (`Role.OWNER == "OWNER"`), which is what records hold.
"""

from __future__ import annotations

from django.db import models


class RoomType(models.TextChoices):
    P2P = "p2p", "Person to person"
    GROUP = "group", "Group"
    CHANNEL = "channel", "Channel"


class Role(models.TextChoices):
    OWNER = "OWNER", "Owner"
    ADMIN = "ADMIN", "Admin"
    MEMBER = "MEMBER", "Member"


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
