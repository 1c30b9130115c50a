"""/openapi.json describes every answer: schemathesis generates requests for each documented
operation (an authenticated client, the sandbox behind) and checks each response's status,
content type, headers and body against the document, and that none is a 500."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


EXAMPLES = 10  # per operation: about 250 requests in all


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """Slack commands on, so /chat/slack answers as it does in production."""
    return {"SLACK_SIGNING_SECRET": "contract-test-signing-secret"}


def test_every_answer_matches_the_document(app: Any, auth_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=auth_headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # try every operation, report all
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
