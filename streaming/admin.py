"""Staff views of the outbox and of push notifications; actions go through the relay and push."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from storage.models import OutboxEvent
from streaming.models import PushNotification, PushStatus
from streaming.push import deliver
from streaming.relay import outbox_retry_now


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written by the event pipeline only: staff look, and act through the actions."""

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_type", "subject", "actor_user_id", "created_at", "published_at", "attempts")
    list_filter = ("event_type", ("published_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("=event_id", "subject", "=room_id", "=actor_user_id", "last_error")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    @admin.action(description="Publish the selected unpublished events at the relay's next pass")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        count = outbox_retry_now(list(queryset.values_list("event_id", flat=True)))
        self.message_user(request, f"{count} event(s) scheduled for the relay.", messages.SUCCESS)


@admin.register(PushNotification)
class PushNotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "room_name", "sender_name", "short_text", "status", "attempts", "created_at")
    list_filter = ("status", "room_type", "backend", "created_at")
    search_fields = ("=event_id", "=message_id", "=room_id", "user__username", "sender_name", "text")
    readonly_fields = [f.name for f in PushNotification._meta.fields]
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.display(description="text")
    def short_text(self, obj: PushNotification) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:57] + "..."

    @admin.action(description="Send the selected failed notifications again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[PushNotification]) -> None:
        failed = list(queryset.filter(status=PushStatus.FAILED))
        PushNotification.objects.filter(pk__in=[n.pk for n in failed]).update(status=PushStatus.PENDING)
        for notification in failed:
            notification.status = PushStatus.PENDING
        sent = deliver(failed)
        self.message_user(request, f"{len(sent)} of {len(failed)} notification(s) sent.", messages.SUCCESS)
