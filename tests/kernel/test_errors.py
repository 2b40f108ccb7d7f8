"""The one error shape of the API: {"code", "message", "details"}."""

from __future__ import annotations

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated

from kernel.errors import NotFound, PermissionDenied
from kernel.exceptions import exception_handler


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (NotFound(), 404, "not_found"),
        (PermissionDenied(), 403, "permission_denied"),
        (NotAuthenticated(), 401, "invalid_token"),
        (serializers.ValidationError({"name": ["required"]}), 400, "invalid_request_data"),
        (RequestDataTooBig("too big"), 413, "payload_too_large"),  # Django's own checks of request.POST
        (TooManyFieldsSent("too many fields"), 400, "invalid_request_data"),
    ],
)
def test_errors_render_code_message_details(exc: Exception, status: int, code: str) -> None:
    response = exception_handler(exc, {})
    assert response is not None
    assert response.status_code == status
    assert response.data["code"] == code
    assert response.data["message"]
    assert "details" in response.data


def test_field_errors_are_in_details() -> None:
    response = exception_handler(serializers.ValidationError({"name": ["This field is required."]}), {})
    assert response is not None
    assert response.data["details"] == {"name": ["This field is required."]}


def test_unexpected_errors_are_logged_and_500(caplog: pytest.LogCaptureFixture) -> None:
    response = exception_handler(RuntimeError("boom"), {})
    assert response is not None
    assert response.status_code == 500
    assert response.data["code"] == "internal_server_error"
    assert "boom" not in response.data["message"]
    assert any("unexpected error" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("connection refused"),
        InterfaceError("connection already closed"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    ],
)
def test_a_dependency_that_does_not_answer_is_a_503_with_retry_after(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    response = exception_handler(exc, {})
    assert response is not None
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    assert [r.levelname for r in caplog.records if "service unavailable" in r.message] == ["WARNING"]
