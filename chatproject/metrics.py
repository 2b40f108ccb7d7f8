"""`GET /metrics`: the Prometheus exposition of every process (README "Metrics").

The counters, gauges and histograms live in kernel.metrics, incremented where they happen. With
PROMETHEUS_MULTIPROC_DIR set (production: several daphnes and bridges), the answer sums the files
every process of the host keeps there (prometheus_client's MultiProcessCollector); without it, the
answering process's own registry (`runchat`: the whole chat in one process). The outbox backlog is
read from storage at scrape time, once per scrape (OutboxBacklogCollector).

Access: from CHAT_METRICS_ALLOWED_IPS (addresses or networks; default the loopback ones), or from
anywhere with `Authorization: Bearer <CHAT_METRICS_TOKEN>` when that is set; anyone else gets 403
JSON. Like /healthz it skips the HTTPS redirect (SECURE_REDIRECT_EXEMPT).

RequestMetricsMiddleware counts the HTTP requests (by view, method and status), their latency, and
the Django database's queries run while answering them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from kernel.exceptions import error_body
from kernel.metrics import (
    DB_QUERIES,
    DB_QUERY_SECONDS,
    HTTP_REQUEST_SECONDS,
    HTTP_REQUESTS,
    MULTIPROC_DIR_VARIABLE,
)
from storage import get_repository

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A label value per method a client may send would let it grow the series without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class OutboxBacklogCollector:
    """The outbox's unpublished events and the age of the oldest, from one storage query."""

    def collect(self) -> Iterator[Metric]:
        try:
            count, oldest = get_repository().outbox_backlog(now=timezone.now())
        except Exception as exc:  # the storage is down: the scrape still answers, without these
            logger.warning("metrics: outbox backlog unknown: %r", exc)
            return
        yield GaugeMetricFamily(
            "chat_outbox_pending", "Outbox events not published to JetStream yet (dead-lettered ones aside).", count
        )
        age = 0.0 if oldest is None else max((timezone.now() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "chat_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox event (0: none).", age
        )


class _ProcessRegistry:
    """This process's default registry, as a collector of the scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> bytes:
    """The text exposition of every process's metrics (or this one's) and the outbox backlog."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client's own
    else:
        registry.register(_ProcessRegistry())
    registry.register(OutboxBacklogCollector())
    return generate_latest(registry)


@cache
def _allowed_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def allowed(request: HttpRequest) -> bool:
    """From an allowed address, or carrying the bearer token (when one is set)."""
    token = str(getattr(settings, "CHAT_METRICS_TOKEN", "") or "")
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = _allowed_networks(tuple(getattr(settings, "CHAT_METRICS_ALLOWED_IPS", ())))
    return any(address in network for network in networks)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return JsonResponse(
            error_body("permission_denied", "Metrics are served only to the allowed addresses or with the token."),
            status=403,
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Counts each request by view, method and status, its latency, and its database queries."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with connections["default"].execute_wrapper(_count_query):
            response = self.get_response(request)
        view = request.resolver_match.view_name if request.resolver_match is not None else "unresolved"
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        HTTP_REQUEST_SECONDS.labels(view=view).observe(time.perf_counter() - started)
        return response


def _count_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        alias = context["connection"].alias
        DB_QUERIES.labels(database=alias).inc()
        DB_QUERY_SECONDS.labels(database=alias).observe(time.perf_counter() - started)
