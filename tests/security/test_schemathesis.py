"""Property-based run of the live OpenAPI schema (schemathesis): no 5xx, answers that match the
schema, every status published. Bounded and derandomised, so it is the same run every time.

Every built-in check runs except `positive_data_acceptance` ("a request the schema allows is
accepted"): a JSON Schema cannot say that an ID number's last character is its check character,
that a stay lies in the 14-day window or that a community exists, so the API rightly refuses
data the schema allows. Anonymous and as an issuer (with a bearer token)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import login

pytestmark = pytest.mark.slow


def _excluded():
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    return [positive_data_acceptance]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("who", ["anonymous", "heping-issuer"])
def test_no_server_error_and_responses_match_the_schema(api, seeded, monkeypatch, who):
    import schemathesis

    from web.main import create_app

    monkeypatch.setattr(seeded.settings, "rate_limit_declarations", 0)
    monkeypatch.setattr(seeded.settings, "rate_limit_verify", 0)
    monkeypatch.setattr(seeded.settings, "rate_limit_complaints", 0)
    headers = {} if who == "anonymous" else login(api, who)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=6, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=headers)
            calls.append(response.status_code)
            try:
                case.validate_response(response, excluded_checks=_excluded(), headers=headers)
            except Exception as exc:  # collect, then report every operation that failed
                failures.append(f"{case.operation.label}: {str(exc)[:300]}")
                raise

        try:
            check()
        except Exception:
            pass
    assert len(calls) > 50  # the run really exercised the API
    assert not failures, "\n".join(dict.fromkeys(failures))


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("who", ["anonymous", "heping-issuer"])
def test_stateful_sequences_through_the_links(api, seeded, monkeypatch, who):
    """Schemathesis' stateful run follows the OpenAPI links (a new case -> read, observe, report,
    amend): no 5xx and schema-conforming answers along whole sequences."""
    import schemathesis
    from hypothesis.stateful import run_state_machine_as_test

    from web.main import create_app

    monkeypatch.setattr(seeded.settings, "rate_limit_declarations", 0)
    headers = {} if who == "anonymous" else login(api, who)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    calls: list[str] = []

    keep = {"region", "unit", "user", "registryrecord", "sourcestatus", "calendaroverride", "issuersignin"}

    class Workflow(schema.as_state_machine()):
        def setup(self):
            # Every sequence starts from the same store, so replays draw the same data.
            from sqlalchemy import text
            from sqlmodel import SQLModel

            with seeded.engine.begin() as conn:
                conn.execute(text("DROP TRIGGER IF EXISTS caseevent_no_delete"))
                for table in reversed(SQLModel.metadata.sorted_tables):
                    if table.name not in keep:
                        conn.execute(table.delete())
                conn.execute(text("CREATE TRIGGER caseevent_no_delete BEFORE DELETE ON caseevent BEGIN SELECT RAISE(ABORT, 'caseevent is append-only (DELETE refused)'); END"))

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            calls.append(f"{case.method} {case.path}")
            case.validate_response(response, excluded_checks=_excluded(), headers=headers)

    run_state_machine_as_test(Workflow, settings=settings(max_examples=15, stateful_step_count=4, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)))
    assert any("{case_id}" in c for c in calls)  # sequences really followed the links
