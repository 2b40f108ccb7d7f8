"""Staff views of messages, reactions and read state; moderation goes through the services so events fire."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from kernel.request import user_id_of
from messaging.services import messages_moderate_delete
from storage.models import Mention, Message, MessageMeta, Reaction


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


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "room", "sender", "type", "event", "short_text", "edited", "is_deleted", "created_at")
    list_filter = ("type", "is_deleted", "edited", ("room", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("text", "sender_message_id", "sender__username", "room__name")
    list_select_related = ("room", "sender")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [f.name for f in Message._meta.fields]
    inlines = (MentionInline, ReactionInline)
    actions = ("soft_delete_messages",)

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:77] + "..."

    @admin.action(description="Delete the selected messages (soft delete, clients are told)", permissions=["moderate"])
    def soft_delete_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        result = messages_moderate_delete(
            moderator_id=user_id_of(request), message_ids=list(queryset.values_list("id", flat=True))
        )
        self.message_user(request, f"{len(result.deleted_ids)} message(s) deleted.", messages.SUCCESS)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active and request.user.is_staff and request.user.has_perm("messaging.delete_message")
        )


@admin.register(Reaction)
class ReactionAdmin(ReadOnlyAdmin):
    list_display = ("message", "user", "reaction", "created_at", "updated_at")
    list_filter = ("reaction", "created_at")
    search_fields = ("reaction", "user__username")
    list_select_related = ("message", "user")
    readonly_fields = ("message", "user", "reaction", "created_at", "updated_at")


@admin.register(MessageMeta)
class MessageMetaAdmin(ReadOnlyAdmin):
    list_display = ("message", "room", "user", "read_at", "is_deleted", "is_sender_blocked")
    list_filter = ("is_deleted", "is_sender_blocked", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username",)
    list_select_related = ("message", "room", "user")
    readonly_fields = ("message", "room", "user", "read_at", "is_deleted", "is_sender_blocked")


@admin.register(Mention)
class MentionAdmin(ReadOnlyAdmin):
    list_display = ("message", "user", "tag")
    search_fields = ("tag", "user__username")
    list_select_related = ("message", "user")
    readonly_fields = ("message", "user", "tag")
