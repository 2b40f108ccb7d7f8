"""Size limits of what clients send (DESIGN.md "Interfaces", Limits), each a setting with a safe default.

They are chosen so that no accepted write makes an event over NATS's payload limit (1 MiB unless the
server sets another): a message event holds the text and its ciphertext, and the replied-to message's
too. `EVENT_MAX_BYTES` is the backstop: every event is measured when it is built (events.builders), and
one over it refuses the request (413) before anything is stored.
"""

from __future__ import annotations

import math

from django.conf import settings


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# Characters of a message's text (SendMessage `text`, EditMessage `new_text`, and a decrypted `content`).
MESSAGE_TEXT_MAX_CHARS = _setting("CHAT_MAX_MESSAGE_TEXT", 16_384)
# Characters of a message's `content`: the base64 AES-256-CBC ciphertext of the longest text allowed
# (4 bytes per character at most in UTF-8, then a padding block).
MESSAGE_CONTENT_MAX_CHARS = _setting("CHAT_MAX_MESSAGE_CONTENT", 4 * math.ceil((4 * MESSAGE_TEXT_MAX_CHARS + 16) / 3))
MENTIONS_MAX = _setting("CHAT_MAX_MENTIONS", 100)
ROOM_NAME_MAX_CHARS = _setting("CHAT_MAX_ROOM_NAME", 255)
ROOM_DESCRIPTION_MAX_CHARS = _setting("CHAT_MAX_ROOM_DESCRIPTION", 2_000)
PARTICIPANTS_PER_REQUEST_MAX = _setting("CHAT_MAX_PARTICIPANTS_PER_REQUEST", 1_000)
ROOM_MEMBERS_MAX = _setting("CHAT_MAX_ROOM_MEMBERS", 5_000)
# An event's envelope as published to JetStream, in bytes (below NATS's default max_payload, 1 MiB).
EVENT_MAX_BYTES = _setting("CHAT_EVENT_MAX_BYTES", 1_000_000)

# Values the storage and the wire can hold (beyond them: 400, not a database error).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
