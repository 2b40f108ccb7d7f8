"""Repository interface, part 2: messages, meta (read state), reactions, mentions."""

from __future__ import annotations

import abc


class MessageStore(abc.ABC):
    pass
