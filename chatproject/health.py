"""Liveness and readiness, for load balancers and orchestrators (README "Production").

- `GET /healthz`: the process answers. 200 `{"status": "ok"}`; no dependency is touched.
- `GET /readyz`: the services the chat needs answer, each within READY_TIMEOUT_SECONDS, checked side
  by side: the database (PostgreSQL: users, sessions and, on `postgres`, the chat), Cassandra on the
  `scylla` back end, the Redis of the cache and channel layer when REDIS_URL is set, NATS JetStream
  when NATS_URL is set. 200 `{"status": "ok", "checks": {name: "ok"}}`, or 503
  `{"status": "unavailable", "checks": {...}}` with each failing check's error in place of "ok".

Both are plain Django views (no authentication, session or throttle): cheap enough to poll every second.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from storage import get_repository
from streaming.readiness import jetstream_ready

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 2.0

# The checks' threads: a check that hangs holds one until its own client times out, never the view.
_checks = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # back to the pool: a check thread holds no connection


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=READY_TIMEOUT_SECONDS, socket_timeout=READY_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _nats() -> None:
    jetstream_ready(READY_TIMEOUT_SECONDS)


def checks() -> dict[str, Callable[[], None]]:
    """The readiness checks of this configuration, by name."""
    found: dict[str, Callable[[], None]] = {"database": _database}
    repository = get_repository()
    if repository.name == "scylla":
        found["cassandra"] = repository.ping
    if getattr(settings, "REDIS_URL", ""):
        found["redis"] = _redis
    if getattr(settings, "NATS_URL", ""):
        found["nats"] = _nats
    return found


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__


def readiness() -> dict[str, str]:
    """Runs every check at once; "ok" or the error, per check, within READY_TIMEOUT_SECONDS (+ slack)."""
    futures = {name: _checks.submit(check) for name, check in checks().items()}
    concurrent.futures.wait(futures.values(), timeout=READY_TIMEOUT_SECONDS + 0.5)
    results: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            results[name] = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
        elif (exc := future.exception()) is not None:
            results[name] = _error(exc)
        else:
            results[name] = "ok"
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# The failing checks of the last answer: a change is logged once, not every poll of an outage.
_last_failing: frozenset[str] = frozenset()


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    global _last_failing
    results = readiness()
    failing = {name: error for name, error in results.items() if error != "ok"}
    if frozenset(failing) != _last_failing:
        if failing:
            logger.warning("readyz: not ready: %s", failing)
        else:
            logger.info("readyz: ready again")
        _last_failing = frozenset(failing)
    if not failing:
        return JsonResponse({"status": "ok", "checks": results})
    response = JsonResponse({"status": "unavailable", "checks": results}, status=503)
    response._has_been_logged = True  # type: ignore[attr-defined]  # an expected state, logged above
    return response
