"""The user directory and the caller's own record (beyond the original service, same conventions):
how an API client finds the ids that CreateRoom takes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.api import validated
from kernel.pagination import page_from, page_meta
from kernel.request import user_id_of
from rooms import selectors
from rooms.serializers import MeSerializer, UserListQuerySerializer, UserListSerializer

TAG = "users"
UNAUTHENTICATED = {401: OpenApiResponse(description="invalid_token")}


class UserListApi(APIView):
    @extend_schema(
        operation_id="GetUsers",
        tags=[TAG],
        parameters=[UserListQuerySerializer],
        responses={
            200: UserListSerializer,
            400: OpenApiResponse(description="invalid_request_data: `{code, message, details}`"),
            **UNAUTHENTICATED,
        },
        description="The active users other than the caller, by name (case and accents ignored) then id. "
        "`search` matches part of the name or username, ignoring case and accents (`jose` finds `José`). "
        "`phone` and `email` are given only for users who share a room with the caller, and only when set.",
    )
    def get(self, request: Request) -> Response:
        query = validated(UserListQuerySerializer, request.query_params)
        page = page_from(request.query_params)
        items, total = selectors.user_directory(user_id=user_id_of(request), page=page, search=query["search"])
        return Response({"items": items, "meta": page_meta(total=total, item_count=len(items), page=page)})


class MeApi(APIView):
    @extend_schema(
        operation_id="GetMe",
        tags=[TAG],
        responses={200: MeSerializer, **UNAUTHENTICATED},
        description="The caller's own record: its id (what others pass to CreateRoom), username, the name "
        "and avatar others see, and its contact fields.",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.user_me(user_id=user_id_of(request)))
