"""The trends routes under schemathesis, signed in (the suite-wide run is anonymous and only
sees 401s here): no 5xx, every answer matches the declared schema."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import login


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_trends_routes_no_server_error_signed_in(api, seeded):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from web.main import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures, calls = [], []

    def run(operation, headers: dict, username: str) -> None:
        @settings(max_examples=40, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=headers)
            calls.append(response.status_code)
            try:
                case.validate_response(response, checks=(not_a_server_error, response_schema_conformance))
            except Exception as exc:
                failures.append(f"{username} {case.operation.label} {case.query}: {str(exc)[:300]}")
                raise

        try:
            check()
        except Exception:
            pass

    for username in ("jinan-supervisor", "lixia-supervisor", "province"):
        headers = login(api, username)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path.startswith("/api/v1/supervision/trends"):
                run(operation, headers, username)
    assert len(calls) >= 60 and 200 in calls
    assert not failures, "\n".join(dict.fromkeys(failures))
