"""Schemathesis against the OpenAPI schema: generated requests never cause a server error."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from watchfloor.settings import Settings, WebOptions
from watchfloor.web.app import create_app
from watchfloor.web.reporting import stop_report_writer


def test_no_server_errors_for_generated_requests(settings: Settings) -> None:
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=10**9))
    try:
        _check_every_operation(app)
    finally:
        # No lifespan here: stop the report writer the first submission started.
        stop_report_writer(app.state)


def _check_every_operation(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    tested = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()
        tested.append(operation.label)
    assert "POST /api/reports" in tested
