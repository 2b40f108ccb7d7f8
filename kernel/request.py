"""Request helpers shared by the API views."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from kernel.errors import InvalidRequestData, Unauthenticated

CLIENT_ID_HEADER = "X-Client-Id"


def client_id_from(request: Request, *, required: bool = True) -> str:
    """The client id of header X-Client-Id; a 400 `client_id_needed` when required and missing."""
    value = (request.headers.get(CLIENT_ID_HEADER) or "").strip()
    if required and not value:
        raise InvalidRequestData(f"Header {CLIENT_ID_HEADER} is required.", code="client_id_needed")
    return value


def user_id_of(request: HttpRequest | Request) -> int:
    """The id of the request's authenticated user; 401 `invalid_token` for an anonymous one (views
    require authentication, so this only fails when a view forgot to)."""
    user_id = request.user.pk if request.user.is_authenticated else None
    if user_id is None:
        raise Unauthenticated()
    return int(user_id)
