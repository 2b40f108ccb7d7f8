"""The Django database's chat tables: the `postgres` back end's rooms, messages and outbox, and the
users' chat profiles (users live in the Django database on every back end).

The tables keep the names they had under the apps that first owned them (`db_table`).
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models.signals import post_save

from storage.enums import MessageStatus, MessageType, Role, RoomType


def fold(text: str) -> str:
    """Lower case without accents (`José` → `jose`): the form the user directory sorts and searches by."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def shown_name(user: Any, display_name: str) -> str:
    """The name the chat shows for a user: the profile's display name, else the full name, else the username."""
    return display_name or user.get_full_name() or user.get_username()


# The user fields the directory keys are made of (a save that touches none of them leaves the keys).
USER_NAME_FIELDS = frozenset({"username", "first_name", "last_name"})


class Profile(models.Model):
    """What the chat shows of a user: display name, phone, avatar.

    `sort_name` and `search_text` are the user directory's keys, folded once when written, so that
    its order and its accent- and case-insensitive search are plain indexed column reads on every
    database (SQLite has no unaccent): `save()` and a save of the user keep them current.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_profile")
    display_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    # fold(the shown name): the directory's order (then the user id).
    sort_name = models.CharField(max_length=150, blank=True, default="", editable=False)
    # fold() of the shown name, username and full name, one per line: what the directory's search matches.
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        db_table = "rooms_profile"
        # On PostgreSQL `search_text` also has a trigram index (migration 0004): `LIKE '%term%'` uses it.
        indexes = [models.Index(fields=["sort_name", "user"], name="profile_sort_name")]

    def __str__(self) -> str:
        return self.display_name or str(self.user)

    def refresh_keys(self) -> None:
        """Sets the directory keys from the display name and the user's names."""
        user = self.user
        name = shown_name(user, self.display_name)
        self.sort_name = fold(name)[:150]
        self.search_text = "\n".join(
            dict.fromkeys(fold(t) for t in (name, user.get_username(), user.get_full_name()) if t)
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.refresh_keys()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "sort_name", "search_text"}
        super().save(*args, **kwargs)


def _profile_ensure(user_id: int) -> None:
    """Gives the user a profile if it still has none (and still exists)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        Profile.objects.get_or_create(user=user)


def _user_saved(sender: Any, instance: Any, created: bool, raw: bool, update_fields: Any, **kwargs: Any) -> None:
    """Every user gets a chat profile, and its directory keys follow the user's names.

    A new user's profile is made after the commit, so that whoever creates the user and its profile
    in one transaction (the admin, `chat_user`) makes the one profile; a user made on its own
    (`createsuperuser`) gets an empty one and is listed in the directory by its username.
    """
    if raw:
        return
    if created:
        transaction.on_commit(lambda: _profile_ensure(instance.pk))
        return
    if update_fields is not None and not USER_NAME_FIELDS & set(update_fields):
        return  # e.g. a sign-in's last_login
    profile = Profile.objects.filter(user_id=instance.pk).first()
    if profile is not None:
        profile.user = instance
        before = (profile.sort_name, profile.search_text)
        profile.refresh_keys()
        if (profile.sort_name, profile.search_text) != before:
            Profile.objects.filter(pk=profile.pk).update(sort_name=profile.sort_name, search_text=profile.search_text)


post_save.connect(_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat_profile_keys")


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
        db_table = "rooms_room"
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
        db_table = "rooms_participant"
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="participant_unique_room_user")]
        indexes = [models.Index(fields=["user", "removed_at"], name="participant_user_active")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} ({self.role})"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
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
        db_table = "messaging_message"
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


class Membership(models.Model):
    """One period of a user's membership of a room: from joining until leaving or removal (open while
    they are a member). A message was sent to a user when one of their periods holds its created_at:
    read state and the joined-after rule start from these, not from a row per member and message."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_membership"
        indexes = [models.Index(fields=["room", "user", "joined_at"], name="membership_room_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} from {self.joined_at}"


class ReadMark(models.Model):
    """A read watermark: at `read_at` the user had read every message of the room sent to them up to
    `up_to` (a message's created_at). One row per MarkMessagesAsRead that moved the watermark forward,
    so the read time of each message stays known (GetMessageRead): the first mark that covers it."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    up_to = models.DateTimeField()
    read_at = models.DateTimeField()

    class Meta:
        db_table = "chat_readmark"
        indexes = [models.Index(fields=["room", "user", "up_to"], name="readmark_room_user_up_to")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.room_id} up to {self.up_to}"


class MessageMeta(models.Model):
    """An exception to the read watermark: a message hidden from one member (sent by a p2p partner
    they blocked). Rows exist only for such messages; read state lives in Membership and ReadMark."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="meta")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    is_sender_blocked = models.BooleanField(default=False)

    class Meta:
        db_table = "messaging_messagemeta"
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="meta_unique_message_user")]
        indexes = [models.Index(fields=["user", "room", "read_at"], name="meta_user_room_read")]


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reaction = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "messaging_reaction"
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="reaction_unique_message_user")]


class Mention(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tag = models.CharField(max_length=150)

    class Meta:
        db_table = "messaging_mention"


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
        db_table = "streaming_outboxevent"
        ordering = ["id"]
        indexes = [models.Index(fields=["published_at", "id"], name="outbox_unpublished")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subject}"
