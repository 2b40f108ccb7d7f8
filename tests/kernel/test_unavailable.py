"""DependencyUnavailable: a service the chat needs that does not answer, raised by the layer that talks
to it (the scylla back end for Cassandra), answered like a database outage: 503 with Retry-After."""

from __future__ import annotations

import pytest

from kernel.errors import DependencyUnavailable
from kernel.exceptions import exception_handler


def test_it_names_the_component_and_keeps_the_drivers_error_as_its_cause() -> None:
    driver_error = TimeoutError("no answer from 10.0.0.7:9042")
    try:
        try:
            raise driver_error
        except TimeoutError as exc:
            raise DependencyUnavailable("cassandra", str(exc)) from exc
    except DependencyUnavailable as exc:
        assert exc.component == "cassandra"
        assert exc.__cause__ is driver_error
        assert str(exc) == "cassandra unavailable: no answer from 10.0.0.7:9042"


def test_it_is_a_503_with_retry_after_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    response = exception_handler(DependencyUnavailable("cassandra", "NoHostAvailable"), {})

    assert response is not None
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    lines = [r for r in caplog.records if r.name == "kernel.exceptions"]
    assert [r.levelname for r in lines] == ["WARNING"]
    assert "cassandra unavailable" in lines[0].getMessage() and lines[0].exc_info is None
