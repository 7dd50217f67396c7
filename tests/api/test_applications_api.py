"""Submitting and deciding over HTTP: clear 422s, nothing half-written, forbidden reasons (R5, R6, R16, R19)."""
from __future__ import annotations

import pytest
from sqlmodel import func, select

from cases.models import Application, ProvincialAuditItem
from tests.conftest import login
from tests.helpers import example, to_audit


def _count(store) -> int:
    with store.session() as s:
        return s.exec(select(func.count()).select_from(Application)).one()


def test_openapi_examples_succeed_as_posted(api, seeded):
    spec = api.get("/openapi.json").json()
    examples = spec["paths"]["/api/v1/applications"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"arrival", "standard"}
    for name in ("arrival", "standard"):
        r = api.post("/api/v1/applications", json=examples[name]["value"])
        assert r.status_code == 201, (name, r.text)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"id_number": "370202198511200114"}, "id_number", "check character"),
        ({"phone": "12345"}, "phone", ""),
        ({"health": {"symptoms": [], "temperature": 45.0}}, "temperature", ""),
        ({"community_code": "370202999999"}, "community_code", ""),
        ({"physical_examination_report": "attached"}, "physical_examination_report", ""),
    ],
)
def test_r6_bad_input_is_422_naming_the_field_and_nothing_is_stored(api, seeded, clock, change, field, words):
    body = {**example("standard", clock.now().date()), **change}
    r = api.post("/api/v1/applications", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(field in [str(x) for x in d["loc"]] for d in detail), detail
    assert words in r.text
    assert _count(seeded) == 0


def test_r6_arrival_without_pledge_is_refused(api, seeded, clock):
    body = {**example("arrival", clock.now().date()), "pledge_self_isolation": False}
    r = api.post("/api/v1/applications", json=body)
    assert r.status_code == 422 and "pledge" in r.text


def test_idempotency_key_header_returns_the_same_case(api, seeded, clock):
    body = example("standard", clock.now().date())
    first = api.post("/api/v1/applications", json=body, headers={"Idempotency-Key": "abc-1"})
    second = api.post("/api/v1/applications", json=body, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"] and _count(seeded) == 1


@pytest.fixture
def task_id(api, seeded, clock):
    created = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    return to_audit(seeded, clock, created["id"])


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"action": "reject", "reason_code": "physical_examination", "explanation": "Needs a physical examination first."}, "R16"),
        ({"action": "reject", "reason_code": "local_health_certificate", "explanation": "Our county requires its own certificate."}, "R5"),
        ({"action": "reject", "reason_code": "applicant_unknown", "explanation": "Nobody in the community knows this person."}, "R19"),
        ({"action": "reject", "reason_code": "false_declaration", "explanation": "Please bring a 体检 report before we decide."}, "R16"),
    ],
)
def test_r16_r19_forbidden_rejection_reasons_are_refused(api, task_id, body, rule):
    issuer = login(api, "qingdao-issuer")
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=body, headers=issuer)
    assert r.status_code == 422 and rule in r.text, r.text


def test_r21_rejection_needs_a_sentence_and_reaches_the_provincial_queue(api, seeded, task_id):
    issuer = login(api, "qingdao-issuer")
    thin = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "reject", "reason_code": "false_declaration", "explanation": "no"}, headers=issuer)
    assert thin.status_code == 422 and "sentence" in thin.text
    ok = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "reject", "reason_code": "false_declaration", "explanation": "Roaming records show a week in Wuhan that the declaration omits."}, headers=issuer)
    assert ok.status_code == 200, ok.text
    with seeded.session() as s:
        items = s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "rejection")).all()
        assert len(items) == 1 and "Wuhan" in items[0].summary


def test_r19_identity_rejection_needs_recorded_contact_attempts(api, task_id):
    issuer = login(api, "qingdao-issuer")
    body = {"action": "reject", "reason_code": "identity_not_established", "explanation": "The phone number is unreachable and the address does not exist."}
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=body, headers=issuer).status_code == 422
    contact = {"action": "verify_contact", "contact_method": "phone", "explanation": "Called twice, no answer."}
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=contact, headers=issuer).status_code == 200
    queue = api.get("/api/v1/audit-tasks", headers=issuer).json()
    assert queue[0]["contact_attempts"] == 1 and queue[0]["sla_colour"] in ("green", "amber")
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=body, headers=issuer).status_code == 200


def test_issuer_of_another_community_cannot_decide(api, task_id):
    other = login(api, "heping-issuer")
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=other)
    assert r.status_code == 403
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}).status_code == 401


def test_r19_supplement_pauses_the_clock_and_the_applicant_answers_online(api, seeded, clock, task_id):
    from datetime import timedelta

    issuer = login(api, "qingdao-issuer")
    with seeded.session() as s:
        from cases.models import AuditTask

        case_id = s.get(AuditTask, task_id).application_id
    case = api.get(f"/api/v1/applications/{case_id}", headers=issuer).json()
    due_before = case["sla"]["due_at"]
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "request_supplement", "missing_items": ["arrival ticket"]}, headers=issuer)
    assert r.status_code == 200
    clock.advance(timedelta(hours=1))  # 10:00: one working hour while the applicant owes the item
    from cases.services.applications import access_token_for

    token = access_token_for(case_id, settings=seeded.settings)
    assert api.post(f"/api/v1/applications/{case_id}/supplement", json={"items": {}}, params={"access_token": token}).status_code == 422
    ok = api.post(f"/api/v1/applications/{case_id}/supplement", json={"items": {"arrival ticket": "G1234"}}, params={"access_token": token})
    assert ok.status_code == 200 and ok.json()["status"] == "awaiting_audit"
    assert ok.json()["due_at"] > due_before  # 16:30 moved one working hour to 17:30
    issuer = login(api, "qingdao-issuer")  # an hour passed: the first token expired
    timeline = api.get(f"/api/v1/applications/{case_id}", headers=issuer).json()["timeline"]
    supplied = [e for e in timeline if e["action"] == "supplement_supplied"]
    assert supplied[0]["data"]["answers"] == {"arrival ticket": "G1234"}  # the issuer reads the answer


def test_r21_approving_a_red_list_case_needs_reasons_and_is_audited(api, seeded, task_id):
    with seeded.session() as s:
        from cases.models import AuditTask

        app = s.get(Application, s.get(AuditTask, task_id).application_id)
        app.red_list = True
        s.add(app)
        s.commit()
    issuer = login(api, "qingdao-issuer")
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=issuer).status_code == 422
    ok = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve", "explanation": "The registry entry is for a different person with the same name; confirmed with the county."}, headers=issuer)
    assert ok.status_code == 200
    with seeded.session() as s:
        assert s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "red_list_override")).one()


def test_r11_reassignment_keeps_the_clock(api, seeded, task_id):
    """Reassigning hands the task over; due time and elapsed time are the case's, unchanged."""
    with seeded.session() as s:
        from cases.models import AuditTask
        from cases.seed import create_user
        from cases.models import Role

        create_user(s, username="qingdao-issuer2", password="demo-pass-2026", role=Role.issuer, at=s.get(AuditTask, task_id).created_at, region="370202001001")
        s.commit()
        case_id = s.get(AuditTask, task_id).application_id
    issuer = login(api, "qingdao-issuer")
    due = api.get(f"/api/v1/applications/{case_id}", headers=issuer).json()["sla"]["due_at"]
    assert api.post(f"/api/v1/audit-tasks/{task_id}/claim", headers=issuer).status_code == 200
    other = login(api, "heping-issuer")
    assert api.post(f"/api/v1/audit-tasks/{task_id}/reassign", json={"to_username": "qingdao-issuer2"}, headers=other).status_code == 403
    assert api.post(f"/api/v1/audit-tasks/{task_id}/reassign", json={"to_username": "heping-issuer"}, headers=issuer).status_code == 422
    r = api.post(f"/api/v1/audit-tasks/{task_id}/reassign", json={"to_username": "qingdao-issuer2"}, headers=issuer)
    assert r.status_code == 200 and r.json()["status"] == "claimed"
    view = api.get(f"/api/v1/applications/{case_id}", headers=issuer).json()
    assert view["sla"]["due_at"] == due and "reassigned" in [e["action"] for e in view["timeline"]]
    queue = api.get("/api/v1/audit-tasks", headers=login(api, "qingdao-issuer2")).json()
    assert queue[0]["claimed_by"] is not None and "hits" in queue[0]["comparison"]


def test_r14_references_are_unique_readable_and_found_as_typed(api, clock):
    """The human reference: 40 random bits a day in an unambiguous alphabet, looked up
    whatever the case it is typed in (six hex digits collided within a few thousand a day)."""
    import re

    from tests.helpers import example

    case = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    assert re.fullmatch(rf"HP{clock.now():%Y%m%d}-[0-9A-HJKMNP-TV-Z]{{4}}-[0-9A-HJKMNP-TV-Z]{{4}}", case["reference"]), case["reference"]
    found = api.get(f"/api/v1/applications/{' ' + case['reference'].lower() + ' '}", params={"access_token": case["access_token"]})
    assert found.status_code == 200 and found.json()["id"] == case["id"]


def test_r14_a_drawn_reference_already_taken_is_drawn_again(api, clock, monkeypatch):
    from cases.services import applications
    from tests.helpers import example

    draws = iter([0, 0, 1])
    monkeypatch.setattr(applications.secrets, "randbits", lambda n: next(draws))
    first = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    body = example("standard", clock.now().date()) | {"id_number": "110101199003074514", "name": "王二"}
    second = api.post("/api/v1/applications", json=body)
    assert second.status_code == 201, second.text
    assert first["reference"].endswith("-0000-0000") and second.json()["reference"].endswith("-0000-0001")
