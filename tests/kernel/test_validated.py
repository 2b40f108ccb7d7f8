"""kernel.api.validated: one serializer per class and thread, nothing of one validation in the next."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kernel.api import validated


class _Item(serializers.Serializer[Any]):
    tag = serializers.CharField(max_length=3)


class _Body(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(required=False, default=0)
    items = _Item(many=True, required=False, default=list)

    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


def test_each_validation_stands_alone_and_the_fields_are_built_once() -> None:
    _Body.made = 0
    assert validated(_Body, {"name": "a", "count": 2, "items": [{"tag": "x"}]}) == {
        "name": "a",
        "count": 2,
        "items": [{"tag": "x"}],
    }
    with pytest.raises(ValidationError) as refused:
        validated(_Body, {"name": "toolong", "items": [{"tag": "long"}]})
    assert set(refused.value.detail) == {"name", "items"}  # type: ignore[arg-type]
    # Nothing of the refused call or of the first one stays: defaults come back, no errors.
    assert validated(_Body, {"name": "b"}) == {"name": "b", "count": 0, "items": []}
    assert _Body.made == 1

    other_thread: list[Any] = []
    thread = threading.Thread(target=lambda: other_thread.append(validated(_Body, {"name": "c"})))
    thread.start()
    thread.join()
    assert other_thread == [{"name": "c", "count": 0, "items": []}] and _Body.made == 2
