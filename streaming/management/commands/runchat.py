"""`make run`: serves the chat (HTTP + WebSocket) on one machine with daphne."""

from __future__ import annotations

from typing import Any

from daphne.cli import CommandLineInterface
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the chat on the embedded default (HTTP API, pages, WebSocket stream)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        self.stdout.write(
            f"Chat serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)\n"
            "Create a user: .venv/bin/python manage.py createsuperuser\n"
        )
        CommandLineInterface().run(["-b", host, "-p", str(port), "chatproject.asgi:application"])
