"""The application error hierarchy: every business refusal is one of these, with a stable code."""

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
