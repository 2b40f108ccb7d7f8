"""page_from: page and limit given once, as positive integers; absent means the default."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from kernel.errors import InvalidRequestData
from kernel.pagination import DEFAULT_LIMIT, page_from


def test_absent_page_and_limit_are_the_defaults() -> None:
    page = page_from(QueryDict(""))
    assert (page.page, page.limit) == (1, DEFAULT_LIMIT)
    assert (page_from(QueryDict("page=3&limit=5")).page, page_from(QueryDict("page=3&limit=5")).limit) == (3, 5)


@pytest.mark.parametrize("query", ["limit=", "page=", "page=true", "page=1&page=2", "limit=0", "page=-1"])
def test_empty_repeated_or_non_positive_values_are_refused(query: str) -> None:
    with pytest.raises(InvalidRequestData):
        page_from(QueryDict(query))
