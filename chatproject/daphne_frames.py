"""daphne answers a WebSocket message over its --websocket-max-message-size (1 MiB) with a close frame.

daphne's protocol layer (autobahn) fails such a connection by dropping TCP (its `failByDrop` default),
so a client sees a reset and cannot tell why. With `failByDrop` off it first sends the close frame
1009 "message too big" (RFC 6455) and drops only if the client does not answer it. daphne exposes no
option for this; its Server builds the factory in run(), after importing the application, so the
factory class it uses is given the option here (only when daphne is the server; idempotent).
"""

from __future__ import annotations

from typing import Any


def close_oversized_messages() -> None:
    try:
        from daphne import server
    except ImportError:  # another ASGI server: nothing to tune
        return
    base = server.WebSocketFactory
    if getattr(base, "closes_oversized_messages", False):
        return

    class WebSocketFactory(base):  # type: ignore[misc, valid-type]  # daphne ships no types
        closes_oversized_messages = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setProtocolOptions(failByDrop=False)

    server.WebSocketFactory = WebSocketFactory
