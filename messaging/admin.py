"""Staff views of messages, reactions and read state; moderation goes through the services so events fire.

These admins read the Django models, the `postgres` back end's tables; with CHAT_STORAGE=scylla the
Messages entry is messaging/admin_scylla.py instead (a room's messages through the repository, with
their reactions and mentions on the message's page).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse

from kernel.request import user_id_of
from messaging.admin_common import LABEL_MEMBERS, Selected, confirm_action, is_confirmed, room_label
from messaging.admin_scylla import MODERATE_DELETE, RepositoryMessageAdmin, short_text
from messaging.services import messages_moderate_delete
from storage.models import Mention, Message, MessageMeta, Participant, Reaction
from storage.users import user_record


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Chat data is written by the services only (events, meta rows, last messages stay consistent)."""

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class MentionInline(admin.TabularInline[Mention, Message]):
    model = Mention
    extra = 0
    can_delete = False
    readonly_fields = ("user", "tag")

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class ReactionInline(admin.TabularInline[Reaction, Message]):
    model = Reaction
    extra = 0
    can_delete = False
    readonly_fields = ("user", "reaction", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "room_label", "sender", "type", "event", "short_text", "edited", "is_deleted", "created_at")
    list_filter = ("type", "is_deleted", "edited", ("room", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("text", "sender_message_id", "sender__username", "room__name")
    list_select_related = ("room", "sender")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [f.name for f in Message._meta.fields]
    inlines = (MentionInline, ReactionInline)
    actions = ("soft_delete_messages",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        active = Participant.objects.filter(removed_at__isnull=True).select_related("user__chat_profile")
        members = Prefetch("room__participants", queryset=active.order_by("joined_at", "id"), to_attr="members")
        return super().get_queryset(request).prefetch_related(members)

    @admin.display(description="room", ordering="room__name")
    def room_label(self, obj: Message) -> str:
        names = [user_record(p.user).name for p in getattr(obj.room, "members", [])]
        return room_label(obj.room.name, names[:LABEL_MEMBERS], more=len(names) > LABEL_MEMBERS)

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return short_text(obj.text)

    @admin.action(description=MODERATE_DELETE, permissions=["moderate"])
    def soft_delete_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> HttpResponse | None:
        live = queryset.filter(is_deleted=False).select_related("sender")
        if not is_confirmed(request):
            selected = [Selected(str(m.pk), f"{m.sender or 'system'}: {short_text(m.text)}") for m in live]
            return confirm_action(
                request, self, action="soft_delete_messages", description=MODERATE_DELETE, selected=selected
            )
        result = messages_moderate_delete(
            moderator_id=user_id_of(request), message_ids=list(live.values_list("id", flat=True))
        )
        self.message_user(request, f"{len(result.deleted_ids)} message(s) deleted for everyone.", messages.SUCCESS)
        return None

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm(f"{self.opts.app_label}.delete_message")
        )


class ReactionAdmin(ReadOnlyAdmin):
    list_display = ("message", "user", "reaction", "created_at", "updated_at")
    list_filter = ("reaction", "created_at")
    search_fields = ("reaction", "user__username")
    list_select_related = ("message", "user")
    readonly_fields = ("message", "user", "reaction", "created_at", "updated_at")


class MessageMetaAdmin(ReadOnlyAdmin):
    list_display = ("message", "room", "user", "read_at", "is_deleted", "is_sender_blocked")
    list_filter = ("is_deleted", "is_sender_blocked", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username",)
    list_select_related = ("message", "room", "user")
    readonly_fields = ("message", "room", "user", "read_at", "is_deleted", "is_sender_blocked")


class MentionAdmin(ReadOnlyAdmin):
    list_display = ("message", "user", "tag")
    search_fields = ("tag", "user__username")
    list_select_related = ("message", "user")
    readonly_fields = ("message", "user", "tag")


# The Messages entry of the configured back end (reactions, read state, mentions: postgres pages only).
if settings.CHAT_STORAGE == "scylla":
    admin.site.register(Message, RepositoryMessageAdmin)
else:
    admin.site.register(Message, MessageAdmin)
    admin.site.register(Reaction, ReactionAdmin)
    admin.site.register(MessageMeta, MessageMetaAdmin)
    admin.site.register(Mention, MentionAdmin)
