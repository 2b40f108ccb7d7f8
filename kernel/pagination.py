"""Paging as the original API did it: `page` (from 1) and `limit`, answered with a `meta` block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from kernel.errors import InvalidRequestData
from kernel.limits import INT32_MAX

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _positive_int(params: QueryDict | dict[str, Any], name: str, default: int) -> int:
    if name not in params:
        return default
    values = params.getlist(name) if isinstance(params, QueryDict) else [params[name]]
    if len(values) != 1:
        raise InvalidRequestData(f"{name} must be given once.", details={name: ["Must be given once."]})
    raw = values[0]
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidRequestData(f"{name} must be an integer.", details={name: ["Must be an integer."]}) from None
    if value < 1:
        raise InvalidRequestData(f"{name} must be at least 1.", details={name: ["Must be at least 1."]})
    if value > INT32_MAX:  # an offset beyond it is no page of anything (and overflows the database's)
        raise InvalidRequestData(
            f"{name} must be at most {INT32_MAX}.", details={name: [f"Must be at most {INT32_MAX}."]}
        )
    return value


def page_from(
    params: QueryDict | dict[str, Any], *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> Page:
    """The page asked for in query params; a bad value is a 400 `invalid_request_data`."""
    limit = _positive_int(params, "limit", default_limit)
    if limit > max_limit:
        raise InvalidRequestData(
            f"limit must be at most {max_limit}.", details={"limit": [f"Must be at most {max_limit}."]}
        )
    return Page(page=_positive_int(params, "page", 1), limit=limit)


def page_meta(*, total: int, item_count: int, page: Page) -> dict[str, int]:
    return {
        "total_items": total,
        "item_count": item_count,
        "items_per_page": page.limit,
        "total_pages": (total + page.limit - 1) // page.limit if total else 0,
        "current_page": page.page,
    }
