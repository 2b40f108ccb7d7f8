"""Request helpers shared by the API views."""

from __future__ import annotations

from rest_framework.request import Request

from kernel.errors import InvalidRequestData

CLIENT_ID_HEADER = "X-Client-Id"


def client_id_from(request: Request, *, required: bool = True) -> str:
    """The client id of header X-Client-Id; a 400 `client_id_needed` when required and missing."""
    value = (request.headers.get(CLIENT_ID_HEADER) or "").strip()
    if required and not value:
        raise InvalidRequestData(f"Header {CLIENT_ID_HEADER} is required.", code="client_id_needed")
    return value
