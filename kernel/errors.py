"""The application error hierarchy: every business refusal is one of these, with a stable code.

Beside it, `DependencyUnavailable`: not a refusal but a service the chat needs that does not answer.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal the client can act on. Rendered as `{"code", "message", "details"}`."""

    status_code = 400
    default_code = "invalid_request_data"
    default_message = "Invalid request data."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: Any = None) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = details if details is not None else {}
        super().__init__(self.message)


class InvalidRequestData(ApplicationError):
    status_code = 400
    default_code = "invalid_request_data"
    default_message = "Invalid request data."


class InvalidCiphertext(InvalidRequestData):
    default_code = "invalid_ciphertext"
    default_message = "The content cannot be decrypted with the room key."


class Unauthenticated(ApplicationError):
    status_code = 401
    default_code = "invalid_token"
    default_message = "Authentication credentials were not provided or are invalid."


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"
    default_message = "The request is too large."


class DependencyUnavailable(Exception):
    """A service the chat needs (`component`: "cassandra", ...) does not answer, or not in time.

    Raised, with the driver's error as `__cause__`, by the layer that talks to the service, so that
    the layers above need not know its driver: the API answers 503 `service_unavailable` with
    Retry-After (kernel.exceptions), a stream closes with a code its client reconnects on.
    """

    def __init__(self, component: str, detail: str = "") -> None:
        self.component = component
        self.detail = detail
        super().__init__(f"{component} unavailable: {detail}" if detail else f"{component} unavailable")
