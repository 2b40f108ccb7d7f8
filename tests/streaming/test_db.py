"""The stream's database work runs on threads of its own, side by side (streaming/db.py): one slow
look-up no longer holds every other socket's handshake."""

from __future__ import annotations

import asyncio
import threading

from django.test import override_settings

from streaming import db


def test_database_calls_of_many_sockets_overlap() -> None:
    # Three calls that can only finish together: serialised on one thread, the barrier breaks.
    barrier = threading.Barrier(3, timeout=5)
    threads: set[int] = set()

    def look_up() -> int:
        threads.add(threading.get_ident())
        return barrier.wait()

    async def three_sockets() -> list[int]:
        return await asyncio.gather(*(db.db_async(look_up)() for _ in range(3)))

    with override_settings(CHAT_STREAM_DB_THREADS=4):
        db._executor = None  # made again with the setting above
        try:
            assert sorted(asyncio.run(three_sockets())) == [0, 1, 2]
        finally:
            db._executor = None
    assert len(threads) == 3 and threading.get_ident() not in threads
