"""The chat's main operations on the embedded default of `make run` (SQLite, no Redis, no NATS), in a
process of its own: run by tests/chatproject/test_embedded_default.py. Prints one line per step."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(database_path: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatproject.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{database_path}"
    for name in ("REDIS_URL", "NATS_URL", "CHAT_STORAGE"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    call_command("migrate", verbosity=0)
    users = [get_user_model().objects.create_user(name, password="pass-1234") for name in ("ann", "ben", "cat")]

    def client(user: object) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return api

    ann, ben, cat = (client(u) for u in users)
    ids = [str(u.id) for u in users]

    def step(name: str, response: object) -> dict:  # type: ignore[type-arg]
        status = getattr(response, "status_code", 0)
        print(name, status, flush=True)
        if status != 200:
            raise SystemExit(f"{name}: {status} {getattr(response, 'content', b'')!r}")
        return response.json()  # type: ignore[attr-defined, no-any-return]

    room = step(
        "create",
        ann.post("/api/chat/v1/room/create", {"type": "group", "name": "g", "participants": ids[1:]}, format="json"),
    )["room"]["id"]
    message = step("send", ann.post("/api/chat/v1/send", {"room_id": room, "text": "hello"}, format="json"))["message"][
        "id"
    ]
    assert step("rooms", ben.get("/api/chat/v1/room/list"))["items"][0]["unread_count"] == 1
    step("read", ben.post("/api/chat/v1/mark_as_read", {"room_id": room, "message_ids": [message]}, format="json"))
    assert step("rooms-after", ben.get("/api/chat/v1/room/list"))["items"][0]["unread_count"] == 0
    assert [r["user_id"] for r in step("readers", ann.get(f"/api/chat/v1/message/{message}/read"))["items"]] == [ids[1]]
    assert step("history", ann.get(f"/api/chat/v1/history/{room}"))["items"][0]["status"] == "READ"
    step("sync", ben.post("/api/chat/v1/sync", {}, format="json"))
    step("remove", ann.post("/api/chat/v1/room/leave", {"id": room, "participants": [ids[2]]}, format="json"))
    step("away", ann.post("/api/chat/v1/send", {"room_id": room, "text": "while cat is away"}, format="json"))
    step("rejoin", ann.post("/api/chat/v1/room/participant/add", {"id": room, "participants": [ids[2]]}, format="json"))
    texts = [m["text"] for m in step("cat-history", cat.get(f"/api/chat/v1/history/{room}"))["items"]]
    assert "while cat is away" not in texts and "hello" in texts, texts
    print("ok", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
