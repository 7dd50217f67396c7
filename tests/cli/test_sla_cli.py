"""`healthpass sla due|explain` and `healthpass calendar set` (R10-R13), through Typer's CliRunner."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from ops.cli import app
from cases.clock import SHANGHAI

runner = CliRunner()


@pytest.fixture
def no_store(tmp_path, monkeypatch):
    """An empty data dir: `sla due` falls back to the official calendar, touches nothing else."""
    from cases import db, settings

    monkeypatch.setenv("HEALTHPASS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HEALTHPASS_DATABASE_URL", raising=False)
    settings.get_settings.cache_clear()
    db.reset_engine()
    yield
    settings.get_settings.cache_clear()
    db.reset_engine()


def due(*args: str):
    return runner.invoke(app, ["sla", "due", *args])


def test_r11_sla_due_on_the_adjusted_working_saturday(no_store):
    """Fri 2026-02-13 15:00: 2.5 h on Friday, 3.5 h on the working Saturday (调休) -> Sat 12:00;
    the latest auto-issue (R12) is 18:00 of the calendar day after, a Spring Festival Sunday."""
    result = due("--submitted", "2026-02-13T15:00+08:00", "--channel", "online", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"due_at": "2026-02-14T12:00:00+08:00", "auto_issue_by": "2026-02-15T18:00:00+08:00"}


def test_r11_sla_due_human_output_and_utc_input(no_store):
    result = due("--submitted", "2026-02-13T07:00:00+00:00", "--channel", "online")
    assert result.exit_code == 0, result.output
    assert "due at:        2026-02-14T12:00:00+08:00" in result.stdout
    assert "auto-issue by: 2026-02-15T18:00:00+08:00" in result.stdout


def test_r10_sla_due_counter_needs_verification_counts_clock_hours(no_store):
    result = due("--submitted", "2026-02-13T15:00+08:00", "--channel", "counter", "--needs-verification", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due_at"] == "2026-02-13T21:00:00+08:00"
    handled_in_visit = due("--submitted", "2026-02-13T15:00+08:00", "--channel", "counter", "--json")
    assert json.loads(handled_in_visit.stdout)["due_at"] == "2026-02-13T15:00:00+08:00"


@pytest.mark.parametrize(
    "submitted, message",
    [
        ("2026-02-13T15:00", "give an offset"),
        ("2026-02-31T15:00+08:00", "not an ISO 8601 date-time"),
        ("yesterday", "not an ISO 8601 date-time"),
    ],
)
def test_sla_due_bad_timestamp_is_a_message_not_a_traceback(no_store, submitted, message):
    result = due("--submitted", submitted, "--channel", "online", "--json")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, TypeError))


def test_sla_due_uncovered_year_is_an_error(no_store):
    # 2099 has a provisional calendar (lunar tables); 2100 has none.
    result = due("--submitted", "2100-06-01T09:00+08:00", "--channel", "online")
    assert result.exit_code == 2
    assert "does not cover" in result.output


def test_sla_due_bad_channel_is_a_usage_error(no_store):
    result = due("--submitted", "2026-02-13T15:00+08:00", "--channel", "fax")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_calendar_set_override_moves_the_due_time(sqlite_store):
    """A provincial change (the working Saturday made a holiday) is read from the store:
    the due time moves past the Spring Festival to Tue 2026-02-24."""
    result = runner.invoke(app, ["calendar", "set", "2026-02-14", "holiday", "--reason", "provincial extension of the Spring Festival"])
    assert result.exit_code == 0, result.output
    moved = due("--submitted", "2026-02-13T15:00+08:00", "--channel", "online", "--json")
    assert json.loads(moved.stdout)["due_at"] == "2026-02-24T12:00:00+08:00"
    bad = runner.invoke(app, ["calendar", "set", "2026-02-30", "holiday", "--reason", "x"])
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_r13_sla_explain_shows_the_timeline(sqlite_store, clock):
    from sqlmodel import select

    from cases.declaration_schema import ApplicationCreate
    from cases.models import Application
    from cases.seed import seed
    from cases.services import sla_service, workflow
    from cases.services.applications import submit_application
    from tests.helpers import example

    store = sqlite_store
    with store.session() as s:
        seed(s, at=clock.now(), hash_key=store.settings.secret("idhash"))
        body = example("standard", clock.now().date())
        submitted = submit_application(session=s, payload=ApplicationCreate.model_validate(body), content=body, settings=store.settings, at=clock.now())
        application = s.get(Application, submitted.application.id)
        workflow.declare(session=s, application=application, at=clock.now())
        workflow.compare(session=s, application=application, at=clock.now(), settings=store.settings, accept_incomplete=True)
        workflow.assign_audit(session=s, application=application, at=clock.now(), settings=store.settings)
        s.commit()
        app_id = s.exec(select(Application.id)).one()
    clock.set(datetime(2026, 3, 3, 16, 30, tzinfo=SHANGHAI))
    with store.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=store.settings)
    result = runner.invoke(app, ["sla", "explain", app_id])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "due at 2026-03-03T16:30:00+08:00" in out
    for action in ("sla_started", "sla_reminder_50", "sla_warn_80", "sla_breach", "auto_issue_scheduled"):
        assert action in out
    assert "timer auto_issue     due 2026-03-04 09:30  pending" in out
    assert "responsibility: community 370202001001, breach 2026-03-03 16:30" in out
    missing = runner.invoke(app, ["sla", "explain", "no-such-case"])
    assert missing.exit_code == 2 and "not found" in missing.output
