"""The message operations at their original paths (included under /api/chat/v1/)."""

from django.urls import path

from messaging import apis

urlpatterns = [
    path("send", apis.SendMessageApi.as_view(), name="message-send"),
    path("edit", apis.EditMessageApi.as_view(), name="message-edit"),
    path("delete", apis.DeleteMessageApi.as_view(), name="message-delete"),
    path("react", apis.ReactToMessageApi.as_view(), name="message-react"),
    path("history/<uuid:id>", apis.MessageHistoryApi.as_view(), name="message-history"),
    path("message/<uuid:id>", apis.MessageApi.as_view(), name="message-detail"),
    path("message/<uuid:id>/read", apis.MessageReadApi.as_view(), name="message-read"),
    path("message/<uuid:id>/reactions", apis.MessageReactionsApi.as_view(), name="message-reactions"),
    path("sender/message/<str:sender_message_id>", apis.SenderMessageApi.as_view(), name="sender-message"),
    path("mark_as_read", apis.MarkMessagesAsReadApi.as_view(), name="messages-mark-read"),
]
