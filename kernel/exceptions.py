"""One DRF exception handler: every error leaves the API as `{"code", "message", "details"}`."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from kernel.errors import ApplicationError, DependencyUnavailable

logger = logging.getLogger(__name__)

# A dependency that does not answer (the database down or its pool exhausted, Redis unreachable,
# Cassandra without a replica that answers: DependencyUnavailable from the scylla back end): 503 with
# Retry-After, not a 500. Nothing was stored (or, a Cassandra write that timed out, it may still be
# applied): the client may retry as it is.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, DependencyUnavailable)
RETRY_AFTER_UNAVAILABLE_SECONDS = 5


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details if details is not None else {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Renders application errors, DRF errors and unexpected errors in one shape."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "The request is too large."), status=413)
    if isinstance(exc, SuspiciousOperation):  # e.g. too many fields or files: Django's own 400
        return Response(error_body("invalid_request_data", str(exc) or "Invalid request."), status=400)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.APIException):
        set_rollback()
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        if isinstance(exc, drf.ValidationError):
            return Response(
                error_body("invalid_request_data", "Invalid request data.", exc.detail),
                status=exc.status_code,
                headers=headers,
            )
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            code = "invalid_token"
        elif isinstance(exc, drf.PermissionDenied):
            code = "permission_denied"
        elif isinstance(exc, drf.NotFound):
            code = "not_found"
        elif isinstance(exc, drf.ParseError):
            code = "invalid_request_data"
        else:
            code = str(exc.default_code)
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)

    view = context.get("view")
    if isinstance(exc, UNAVAILABLE):
        logger.warning("service unavailable in %s: %r", type(view).__name__ if view else "api", exc)
        set_rollback()
        return _logged(
            Response(
                error_body("service_unavailable", "A service the chat needs does not answer: retry shortly."),
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)},
            )
        )
    logger.exception("unexpected error in %s", type(view).__name__ if view else "api", exc_info=exc)
    set_rollback()
    return _logged(Response(error_body("internal_server_error", "Internal server error."), status=500))


def _logged(response: Response) -> Response:
    """Logged above, once: Django's request logger must not log the 5xx again."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# Outside the API views: answers under /api/ are JSON too (chatproject/urls.py mounts these).
API_PREFIX = "/api/"


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under /api/ that names no operation: 404 `not_found`, whatever the method."""
    return JsonResponse(error_body("not_found", f"No API operation at {request.path}."), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, Django's page elsewhere (the error is logged by Django)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("internal_server_error", "Internal server error."), status=500)
    return defaults.server_error(request)
