"""Privacy and input guards: masking, the unmasked-read log, retention, rate limits, body size."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from ops.cli import app as cli
from cases.models import Application, CaseEvent, Declaration, ResponsibilityRecord
from cases.services import workflow
from tests.conftest import login
from tests.helpers import example

ID = "370202198511200113"
PHONE = "13905320002"


@pytest.fixture
def case(api, seeded, clock):
    return api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()


def test_case_view_masks_id_and_phone_for_everyone(api, case):
    issuer = login(api, "qingdao-issuer")
    for view in (
        api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}),
        api.get(f"/api/v1/applications/{case['id']}", headers=issuer),
    ):
        assert view.status_code == 200
        assert ID not in view.text and PHONE not in view.text
        assert view.json()["applicant"]["id"].startswith("3702") and "*" in view.json()["applicant"]["phone"]


def test_unmasked_read_is_logged_with_who_and_why(api, seeded, case):
    issuer = login(api, "qingdao-issuer")
    assert api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "x"}, headers=issuer).status_code == 422
    r = api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "phone the applicant to verify the address (R19)"}, headers=issuer)
    assert r.status_code == 200 and r.json()["id_number"] == ID
    with seeded.session() as s:
        reads = s.exec(select(CaseEvent).where(CaseEvent.action == "personal_data_read")).all()
        assert len(reads) == 1 and "verify the address" in reads[0].reason
    supervisor = login(api, "jinan-supervisor")  # Jinan does not cover a Qingdao case
    assert api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "curious about this one"}, headers=supervisor).status_code == 404
    checkpoint = login(api, "checkpoint")
    assert api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "curious about this one"}, headers=checkpoint).status_code == 404


def test_retention_purges_closed_cases_keeps_statistics_and_responsibility(api, seeded, clock, case):
    with seeded.session() as s:
        app = s.get(Application, case["id"])
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        workflow.assign_audit(session=s, application=app, at=clock.now(), settings=seeded.settings)
        app.status, app.decision, app.decided_at = "approved", "approve", clock.now()
        workflow.finish(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.add(ResponsibilityRecord(application_id=app.id, responsible_kind="community", responsible_code=app.community_code, due_at=clock.now(), breach_at=clock.now(), created_at=clock.now()))
        s.commit()
    runner = CliRunner()
    assert "from 0 closed" in runner.invoke(cli, ["retention", "run", "--days", "30"]).output
    clock.advance(timedelta(days=31))
    assert "from 1 closed" in runner.invoke(cli, ["retention", "run", "--days", "30"]).output
    assert "from 0 closed" in runner.invoke(cli, ["retention", "run", "--days", "30"]).output  # idempotent
    with seeded.session() as s:
        content = s.exec(select(Declaration)).one().content
        assert content["purged"] and ID not in str(content) and content["community_code"] == "370202001001"
        assert s.exec(select(ResponsibilityRecord)).one()
    issuer = login(api, "qingdao-issuer")
    assert api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "phone the applicant again"}, headers=issuer).status_code == 422


def test_declarations_are_rate_limited_per_client_with_retry_after(api, seeded, clock, monkeypatch):
    monkeypatch.setattr(seeded.settings, "rate_limit_declarations", 3)
    body = {"nothing": "valid"}
    codes = [api.post("/api/v1/applications", json=body).status_code for _ in range(5)]
    assert codes[:3] == [422, 422, 422] and codes[3:] == [429, 429]
    limited = api.post("/api/v1/applications", json=body)
    assert 0 < int(limited.headers["Retry-After"]) <= 60 and "too many" in limited.text


def test_oversized_body_is_refused_with_413(api):
    r = api.post("/api/v1/applications", content=b"x" * 1_000_001, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.text


def test_session_cookie_cannot_change_state_through_the_api(api):
    """CSRF: the UI cookie reads the API but a cookie-only POST is treated as anonymous."""
    token = api.post("/api/v1/auth/token", data={"username": "heping-issuer", "password": "demo-pass-2026"}).json()["access_token"]
    api.cookies.set("hp_session", token)
    assert api.get("/api/v1/audit-tasks").status_code == 200
    assert api.post("/api/v1/issuers/sign-in").status_code == 401
    assert api.post("/api/v1/issuers/sign-in", headers={"Authorization": f"Bearer {token}"}).status_code == 200
