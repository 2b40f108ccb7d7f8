"""The API docs work offline: Swagger UI's files come from the app (no CDN), every error answer of the
schema is the one error body, and the WebSocket stream's document (docs/stream.md) is served at
/api/docs/stream/, linked from the Swagger page, and names every close code the code can send."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from chatproject import daphne_frames, daphne_shutdown
from streaming import consumers, frame_limits

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
STREAM_DOC = ROOT / "docs" / "stream.md"
PACKAGES = ("kernel", "storage", "events", "domain", "messaging", "rooms", "streaming", "web", "chatproject")
# What a page loads: <script src>, <link href>, <img src>, CSS url(...), JS import ... from.
LOADS = re.compile(r"""(?:src|href)=["']([^"']+)["']|url\(\s*["']?([^"')]+)|import\s[^;]*?from\s*["']([^"']+)""")


def _loads(text: str) -> list[str]:
    return [next(group for group in match.groups() if group) for match in LOADS.finditer(text)]


def test_the_swagger_page_loads_only_files_the_app_serves() -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    urls = [url for url in _loads(page.content.decode()) if not url.startswith("data:")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    assert any(url.endswith("swagger-ui.css") for url in urls)
    for url in urls:
        assert url.startswith("/"), f"the docs page loads {url} from elsewhere"
        if url.startswith("/static/"):
            # Django's test client does not serve static files: the finders find what collectstatic
            # copies and WhiteNoise serves (tests/chatproject/test_production.py fetches them over HTTP).
            assert finders.find(url.removeprefix("/static/")), url
        else:
            assert client.get(url).status_code == 200, url


def test_no_template_or_static_file_loads_anything_from_another_site() -> None:
    files = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "static").rglob("*.*")]
    assert files
    for file in files:
        remote = [url for url in _loads(file.read_text(errors="replace")) if re.match(r"(https?:)?//", url)]
        assert not remote, f"{file.relative_to(ROOT)} loads {remote}"


def _schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return dict(response.json())


def test_every_documented_error_answer_is_the_error_body() -> None:
    schema = _schema()
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message", "details"]
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 23
    for path, method, operation in operations:
        errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
        assert errors, f"{method} {path} documents no error"
        for status, response in errors.items():
            body = response.get("content", {}).get("application/json", {}).get("schema")
            assert body == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}: {body}"


def test_the_stream_document_is_served_and_linked_from_the_swagger_page() -> None:
    assert "](/api/docs/stream/)" in _schema()["info"]["description"]
    response = Client().get("/api/docs/stream/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "/ws/chat/v1/stream" in text and "resync_required" in text
    # The file itself, escaped once (a <tag> in the markdown is shown, never run).
    assert "&lt;" in text or "<" not in STREAM_DOC.read_text()


def _close_codes() -> dict[str, int]:
    modules = (consumers, frame_limits, daphne_frames, daphne_shutdown)
    return {
        f"{module.__name__}.{name}": value
        for module in modules
        for name, value in vars(module).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }


def test_the_stream_document_names_every_close_code_of_the_code() -> None:
    codes = _close_codes()
    assert {4000, 4001, 4003, 4008, 4009, 4013, 4029, 1001} <= set(codes.values())
    # Any CLOSE_ constant anywhere in the product is one of the modules above (or this test misses it).
    declared = {
        match.group(1)
        for package in PACKAGES
        for file in (ROOT / package).rglob("*.py")
        for match in re.finditer(r"^(CLOSE_[A-Z_]+)\s*=\s*\d+", file.read_text(), re.MULTILINE)
    }
    assert declared == {name.rsplit(".", 1)[1] for name in codes}
    document = STREAM_DOC.read_text()
    for name, code in codes.items():
        assert re.search(rf"\|\s*`?{code}`?\s*\|", document), f"docs/stream.md has no row for {code} ({name})"
