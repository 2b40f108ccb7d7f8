"""ASGI entry point: HTTP to Django (its sync handler on a thread pool, chatproject/http_app.py),
WebSocket to the stream consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from chatproject.daphne_frames import bound_websockets
from chatproject.daphne_shutdown import drain_on_sigterm

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
get_asgi_application()  # django.setup() and what Django's ASGI entry point checks
bound_websockets()  # daphne: close 1009 for a message over 1 MiB, 4008 for a client that stops reading
drain_on_sigterm()  # daphne: SIGTERM answers the requests in flight and closes sockets with 1001

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from chatproject.access_log import ConnectionLogMiddleware  # noqa: E402
from chatproject.http_app import ThreadedDjangoHttp  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.ws_auth import BrowserOriginValidator, SessionOrTokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ThreadedDjangoHttp(threads=settings.CHAT_HTTP_THREADS),
        # Outermost: the connection id is set for the handshake's auth as for the consumer.
        "websocket": ConnectionLogMiddleware(
            BrowserOriginValidator(SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
