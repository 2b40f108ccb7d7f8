"""The API's one request parser: JSON bodies (the original speaks connect's JSON; forms get 415).

DRF's JSONParser reads the stream as it comes and lets a few inputs escape as 500s; this one answers
each with a 4xx before the view runs:
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE (by its Content-Length, or as read): 413 `payload_too_large`;
- JSON nested deeper than MAX_JSON_DEPTH (no request of the API nests more than a few levels; the
  decoder would otherwise recurse until RecursionError): 400 `invalid_request_data`;
- bytes that are not UTF-8 JSON: 400 `invalid_request_data` (DRF's ParseError).
"""

from __future__ import annotations

import json
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from kernel.errors import PayloadTooLarge

MAX_JSON_DEPTH = 32


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (a linear scan, no recursion; skipped
    when the text holds too few brackets to nest that deep, as nearly every request does)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = _content_length(request)
        if limit and declared is not None and declared > limit:
            raise PayloadTooLarge(f"The body is over {limit} bytes.")
        raw = stream.read(limit + 1 if limit else -1) if stream is not None else b""
        if limit and len(raw) > limit:
            raise PayloadTooLarge(f"The body is over {limit} bytes.")
        try:
            text = raw.decode((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
        except UnicodeDecodeError as exc:
            raise ParseError("The body is not UTF-8 JSON.") from exc
        if json_depth_exceeds(text):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:  # the scan counts brackets; this is the decoder's own backstop
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _content_length(request: Any) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except (AttributeError, TypeError, ValueError):
        return None
