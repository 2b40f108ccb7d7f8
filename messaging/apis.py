"""The message operations of SPEC.md §1 at their original paths: one thin view per operation."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.api import SUCCESS, error_responses, validated
from kernel.pagination import page_from, page_meta
from kernel.request import user_id_of
from kernel.serializers import SuccessSerializer
from messaging import selectors, services
from messaging.serializers import (
    EditMessageSerializer,
    HistoryQuerySerializer,
    MarkReadResponseSerializer,
    MessageDataSerializer,
    MessageListSerializer,
    MessageResponseSerializer,
    PageQuerySerializer,
    ReactionListSerializer,
    ReactSerializer,
    ReaderListSerializer,
    RoomMessagesSerializer,
    SenderMessageStatusSerializer,
    SendMessageSerializer,
)

TAG = "messages"
ERRORS = error_responses(not_found="no such room or message, or the caller is not a member")
ERRORS_403 = error_responses(
    not_found="no such room or message, or the caller is not a member",
    forbidden="the caller may not do this",
)


class SendMessageApi(APIView):
    throttle_scope = "send"

    @extend_schema(
        operation_id="SendMessage",
        tags=[TAG],
        request=SendMessageSerializer,
        responses={200: MessageResponseSerializer, **ERRORS_403},
        description="Sends a message. Give `content` (ciphertext with the room key, SPEC §6; undecryptable: 400 "
        "`invalid_ciphertext`) or `text` (plain; the server encrypts it), not both; neither only with a "
        "location, contact, file or forward. A repeated `sender_message_id` of the caller returns the first "
        "message. 403 `permission_denied` for a group MEMBER without send_message, 403 `partner_blocked` in a "
        "p2p room whose partner the caller blocked.",
    )
    def post(self, request: Request) -> Response:
        data = validated(SendMessageSerializer, request.data)
        mentions = [services.MentionInput(tag=m["tag"], user=m["user"]) for m in data.pop("mentions")]
        send = services.SendRequest(mentions=mentions, **data)
        result = services.message_send(user_id=user_id_of(request), request=send)
        return Response({**SUCCESS, "message": result.message})


class EditMessageApi(APIView):
    throttle_scope = "send"

    @extend_schema(
        operation_id="EditMessage",
        tags=[TAG],
        request=EditMessageSerializer,
        responses={200: MessageResponseSerializer, **ERRORS_403},
        description="The sender replaces the content (`new_content`, ciphertext) or text (`new_text`). "
        "Publishes `update_message`.",
    )
    def post(self, request: Request) -> Response:
        data = validated(EditMessageSerializer, request.data)
        result = services.message_edit(
            user_id=user_id_of(request),
            message_id=data["message_id"],
            new_content=data["new_content"],
            new_text=data["new_text"],
        )
        return Response({**SUCCESS, "message": result.message})


class DeleteMessageApi(APIView):
    @extend_schema(
        operation_id="DeleteMessage",
        tags=[TAG],
        request=RoomMessagesSerializer,
        responses={200: SuccessSerializer, **ERRORS_403},
        description="Soft-deletes messages of the room: all or none. The sender, or a group OWNER/ADMIN, may. "
        "One `delete_message` event per message.",
    )
    def post(self, request: Request) -> Response:
        data = validated(RoomMessagesSerializer, request.data)
        services.messages_delete(user_id=user_id_of(request), room_id=data["room_id"], message_ids=data["message_ids"])
        return Response(SUCCESS)


class ReactToMessageApi(APIView):
    throttle_scope = "send"

    @extend_schema(
        operation_id="ReactToMessage",
        tags=[TAG],
        request=ReactSerializer,
        responses={200: SuccessSerializer, **ERRORS},
        description='One reaction per user and message; "" removes it. Publishes `update_message` with the '
        "message's reactions.",
    )
    def post(self, request: Request) -> Response:
        data = validated(ReactSerializer, request.data)
        services.message_react(user_id=user_id_of(request), message_id=data["message_id"], reaction=data["reaction"])
        return Response(SUCCESS)


class MessageHistoryApi(APIView):
    @extend_schema(
        operation_id="GetMessageHistory",
        tags=[TAG],
        parameters=[HistoryQuerySerializer],
        responses={200: MessageListSerializer, **ERRORS},
        description="The room's messages, newest first: those sent while the caller was a member; deleted "
        "ones and ones from a blocked sender left out. Page back with `before_message_id` (stable while new "
        "messages arrive). With only after-bounds the page holds the oldest messages after the bound.",
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002 - the original path parameter
        query = validated(HistoryQuerySerializer, request.query_params)
        params = request.query_params.copy()
        if "limit" not in params and query.get("messages_per_room"):
            params["limit"] = str(query["messages_per_room"])
        page = page_from(params)
        items, total = selectors.message_history(
            room_id=id,
            user_id=user_id_of(request),
            query=selectors.HistoryQuery(
                page=page,
                before_message_id=query["before_message_id"],
                after_message_id=query["after_message_id"],
                before_date=query["before_date"],
                after_date=query["after_date"],
            ),
        )
        return Response({"items": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class MessageApi(APIView):
    @extend_schema(
        operation_id="GetMessage",
        tags=[TAG],
        responses={200: MessageDataSerializer, **ERRORS},
        description="The MessageData itself (no wrapper); members of its room only.",
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002
        return Response(selectors.message_for_user(message_id=id, user_id=user_id_of(request)))


class SenderMessageApi(APIView):
    @extend_schema(
        operation_id="GetSenderMessage",
        tags=[TAG],
        responses={200: SenderMessageStatusSerializer, **ERRORS},
        description="The status of the caller's own message sent with this `sender_message_id`.",
    )
    def get(self, request: Request, sender_message_id: str) -> Response:
        status = selectors.sender_message_status(user_id=user_id_of(request), sender_message_id=sender_message_id)
        return Response({"status": status})


class MessageReadApi(APIView):
    @extend_schema(
        operation_id="GetMessageRead",
        tags=[TAG],
        parameters=[PageQuerySerializer],
        responses={200: ReaderListSerializer, **ERRORS_403},
        description="Who read the caller's message and when (earliest first). Sender only.",
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002
        page = page_from(request.query_params)
        items, total = selectors.message_readers(message_id=id, user_id=user_id_of(request), page=page)
        return Response({"items": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class MessageReactionsApi(APIView):
    @extend_schema(
        operation_id="GetMessageReactions",
        tags=[TAG],
        parameters=[PageQuerySerializer],
        responses={200: ReactionListSerializer, **ERRORS_403},
        description="The reactions to the caller's message (oldest first). Sender only.",
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:  # noqa: A002
        page = page_from(request.query_params)
        items, total = selectors.message_reactions(message_id=id, user_id=user_id_of(request), page=page)
        return Response({"items": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class MarkMessagesAsReadApi(APIView):
    @extend_schema(
        operation_id="MarkMessagesAsRead",
        tags=[TAG],
        request=RoomMessagesSerializer,
        responses={200: MarkReadResponseSerializer, **ERRORS},
        description="Marks the messages, and every older unread message of the room, read. All ids must be "
        "messages of the room. One `status_update` READ per given message of someone else.",
    )
    def post(self, request: Request) -> Response:
        data = validated(RoomMessagesSerializer, request.data)
        result = services.messages_mark_read(
            user_id=user_id_of(request), room_id=data["room_id"], message_ids=data["message_ids"]
        )
        return Response({**SUCCESS, "marked_count": result.marked_count})
