"""Sync database work from async code, typed: channels' database_sync_to_async (channels ships no types).

It runs the function in the thread Django's sync code uses and closes stale connections around it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from channels.db import database_sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def db_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` as a coroutine function that runs it in Django's sync thread."""
    return cast(Callable[P, Coroutine[Any, Any, R]], database_sync_to_async(func))
