"""The API against its own schema (schemathesis, in process through the WSGI app, on the test
database): every operation with generated valid and invalid input, then stateful sequences that follow
the schema's links (CreateRoom → the room's operations, SendMessage → the message's). No answer may be
a 5xx, every status must be documented, and every body (errors included) must match its schema.

FUZZ_EXAMPLES sets the examples per operation and mode (the figures of a run: pytest -s prints them).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import UserFactory, token_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,  # applies to the invalid cases only: they must get a 4xx
]
STATEFUL_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]
HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "derandomize": True,  # the same cases on every run: a failure here is a finding, not luck
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate],  # no shrinking: report the case as generated
}

STATUSES: Counter[str] = Counter()
PEOPLE: dict[str, Any] = {}
NO_INVALID_INPUT: list[str] = []


@pytest.fixture(autouse=True, scope="module")
def _print_the_figures() -> Any:
    yield
    print(f"\nschema tests: {sum(STATUSES.values())} calls, by status class {dict(sorted(STATUSES.items()))}")
    print(f"schema tests: no invalid input to generate for {NO_INVALID_INPUT}")


@pytest.fixture
def api_schema(db: None, settings: Any) -> Iterator[Any]:
    settings.CHAT_RATES = {}  # rates off: reach the operations, not the throttle
    caller, *others = UserFactory.create_batch(4)
    PEOPLE.update(
        headers={"Authorization": f"Token {token_for(caller)}", "X-Client-ID": "schema-test"},
        others=[user.id for user in others],
    )
    # As Django's test client does: requests in the test's thread do not close its connections (the
    # test database's, and on `scylla` Cassandra's, which the test may not open on its own).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
        schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES)
        yield schema
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _with_known_people(case: Any) -> None:
    """Participants the generator picks become existing users (it cannot guess ids), so that rooms get
    made and the room operations reached; other input is left as generated."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("participants"), list):
        ids = PEOPLE["others"]
        body["participants"] = [
            ids[value % len(ids)] if isinstance(value, int) and not isinstance(value, bool) else value
            for value in body["participants"]
        ]


def test_no_operation_answers_outside_its_schema(api_schema: Any) -> None:
    """Every operation, valid and invalid input (EXAMPLES of each per operation)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 22
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis_settings(max_examples=EXAMPLES, **HYPOTHESIS)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                _with_known_people(case)
                response = case.call(headers=PEOPLE["headers"])
                STATUSES[f"{response.status_code // 100}xx"] += 1
                case.validate_response(response, checks=CHECKS, headers=PEOPLE["headers"])

            try:
                run()
            except Unsatisfiable:  # nothing invalid to make (e.g. a free-form string as the only input)
                assert mode == GenerationMode.NEGATIVE, operation.label
                NO_INVALID_INPUT.append(operation.label)


def test_stateful_sequences_stay_within_the_schema(api_schema: Any) -> None:
    failures: list[str] = []

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            _with_known_people(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": PEOPLE["headers"]}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            STATUSES[f"{response.status_code // 100}xx"] += 1
            try:  # invalid-input acceptance is the derandomized test's: here, random cases of it would flake
                case.validate_response(response, checks=STATEFUL_CHECKS, headers=PEOPLE["headers"])
            except Exception as exc:
                failures.append(f"{case.operation.label} -> {response.status_code}: {exc}")
                raise

    # Not derandomized: a scenario's steps draw from what earlier answers held (ids made in the database),
    # which Hypothesis' replay of a fixed sequence reads as inconsistent generation.
    stateful = {**HYPOTHESIS, "derandomize": False}
    try:
        Workflow.run(settings=hypothesis_settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=8, **stateful))
    except FlakyStrategyDefinition:
        # Hypothesis could not replay a scenario the same way (its steps drew from live answers); every
        # call it made was checked, and any failed check is in `failures`.
        pass
    assert not failures, "\n".join(failures[:5])
