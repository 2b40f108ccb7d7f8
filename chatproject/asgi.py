"""ASGI entry point: HTTP to Django, WebSocket to the stream consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from chatproject.daphne_frames import bound_websockets
from chatproject.daphne_shutdown import drain_on_sigterm

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
django_asgi_app = get_asgi_application()
bound_websockets()  # daphne: close 1009 for a message over 1 MiB, 4008 for a client that stops reading
drain_on_sigterm()  # daphne: SIGTERM answers the requests in flight and closes sockets with 1001

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatproject.access_log import ConnectionLogMiddleware  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.ws_auth import BrowserOriginValidator, SessionOrTokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Outermost: the connection id is set for the handshake's auth as for the consumer.
        "websocket": ConnectionLogMiddleware(
            BrowserOriginValidator(SessionOrTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
