"""ASGI entry point: HTTP to Django, WebSocket to the stream consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from chatproject.daphne_frames import close_oversized_messages

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
django_asgi_app = get_asgi_application()
close_oversized_messages()  # daphne: a message over 1 MiB gets close 1009, not a reset

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.ws_auth import BrowserOriginValidator, SessionOrTokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
