"""`/api/docs/stream/`: the WebSocket stream's documentation (docs/stream.md), served by the app.

The stream is no REST operation, so the OpenAPI schema cannot describe it; Swagger UI links here
(SPECTACULAR_SETTINGS' DESCRIPTION). The markdown is shown as it is written, as preformatted text:
no renderer to install, and the page says exactly what the file in the repository says.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

STREAM_DOC = settings.BASE_DIR / "docs" / "stream.md"


@lru_cache(maxsize=1)
def stream_doc_text() -> str:
    return STREAM_DOC.read_text(encoding="utf-8")


def stream_docs(request: HttpRequest) -> HttpResponse:
    return render(request, "docs/stream.html", {"text": stream_doc_text()})
