"""Helpers shared by the thin API views of every app."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

SUCCESS = {"success": True}


def validated(serializer_class: type, data: Any) -> dict[str, Any]:
    """The validated data of `data`; invalid input raises a 400 `invalid_request_data` with field errors."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def error_responses(*, not_found: str, forbidden: str | None = None) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation (all are `{code, message, details}`)."""
    responses = {
        400: OpenApiResponse(description="invalid_request_data: `{code, message, details}`"),
        401: OpenApiResponse(description="invalid_token"),
        404: OpenApiResponse(description=f"not_found: {not_found}"),
    }
    if forbidden:
        responses[403] = OpenApiResponse(description=f"permission_denied: {forbidden}")
    return responses

