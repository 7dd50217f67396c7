"""R21: an auditor claims an item, records an outcome with a note (evented on the case and in
the item's history), re-opens it with a note; upheld outcomes count against the responsible
community. Only auditors and admins. SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlmodel import select

from cases.models import CaseEvent, Role
from cases.oversight.models import AuditItemHistory
from cases.seed import DEMO_PASSWORD, create_user
from tests.conftest import login
from tests.oversight.support import breached_case, items

OUTCOMES = ["justified", "prevarication", "refusal_without_reason", "disapproval_without_reason"]


@pytest.fixture
def breach_item(seeded, clock):
    app_id, _ = breached_case(seeded, clock)
    with seeded.session() as s:
        (item,) = items(s, "breach")
        create_user(s, username="province-2", password=DEMO_PASSWORD, role=Role.auditor, at=clock.now(), region="370000")
        s.commit()
    return app_id, item.id


def _actions(seeded, app_id):
    with seeded.session() as s:
        return [e.action for e in s.exec(select(CaseEvent).where(CaseEvent.application_id == app_id).order_by(CaseEvent.seq))]


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_r21_each_outcome_is_recorded_evented_and_counted(api, seeded, clock, breach_item, outcome):
    app_id, item_id = breach_item
    auditor = login(api, "province")
    base = f"/api/v1/province/audit-items/{item_id}"
    r = api.post(f"{base}/outcome", headers=auditor, json={"outcome": outcome, "note": "Checked the roster."})
    assert r.status_code == 409 and "claim" in r.text  # claim first
    r = api.post(f"{base}/claim", headers=auditor)
    assert r.status_code == 200 and r.json()["status"] == "claimed" and r.json()["claimed_by"] == "province"
    assert r.json()["reference"] and r.json()["case_url"] == f"/staff/cases/{app_id}"
    r = api.post(f"{base}/outcome", headers=auditor, json={"outcome": outcome, "note": "Checked the roster and the timeline."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["outcome"] == outcome and r.json()["note"] == "Checked the roster and the timeline."
    assert _actions(seeded, app_id)[-2:] == ["provincial_audit_claimed", "provincial_audit_outcome"]
    detail = api.get(base, headers=auditor).json()
    assert [h["action"] for h in detail["history"]] == ["claimed", "outcome"] and detail["history"][1]["outcome"] == outcome
    assert detail["item"]["case_url"] == f"/staff/cases/{app_id}"
    assert detail["upheld_against_responsible"] == (0 if outcome == "justified" else 1)  # counts against the community
    league = api.get("/api/v1/province/league", headers=auditor, params={"level": "community", "from": "2026-03-01", "to": "2026-03-03", "sort": "area_code", "order": "asc", "limit": 1000}).json()
    row = next(r for r in league["rows"] if r["area_code"] == "370202001001")
    assert row["upheld_findings"] == (0 if outcome == "justified" else 1)  # counts against the community
    r = api.post(f"{base}/outcome", headers=auditor, json={"outcome": "justified", "note": "again, differently"})
    assert r.status_code == 409  # closed: re-open to change it


def test_r21_item_evidence_shows_timeline_decision_contacts_and_holders(api, seeded, clock, breach_item):
    app_id, item_id = breach_item
    from cases.models import AuditTask
    from cases.services import audit
    from tests.oversight.support import user

    with seeded.session() as s:
        task = s.exec(select(AuditTask).where(AuditTask.application_id == app_id)).one()
        issuer = user(s, "qingdao-issuer")
        audit.claim(session=s, task_id=task.id, user=issuer, at=clock.now())
        audit.decide(session=s, task_id=task.id, user=issuer, action="verify_contact", contact_method="phone", explanation="Called twice, no answer.", at=clock.now(), settings=seeded.settings)
        s.commit()
    detail = api.get(f"/api/v1/province/audit-items/{item_id}", headers=login(api, "province")).json()
    assert {"sla_breach", "contact_attempt"} <= {e["action"] for e in detail["timeline"]}
    assert detail["holders"] == [{"kind": "community", "code": "370202001001", "seconds": pytest.approx(6 * 3600)}]
    assert "qingdao-issuer" in detail["responsibility_issuers"]
    assert detail["decision"]["decision"] is None
    assert [(c["method"], c["note"], c["by"]) for c in detail["contact_attempts"]] == [("phone", "Called twice, no answer.", "qingdao-issuer")]


def test_r21_reopen_with_a_note_returns_the_item_to_the_queue(api, seeded, clock, breach_item):
    app_id, item_id = breach_item
    auditor, other = login(api, "province"), login(api, "province-2")
    base = f"/api/v1/province/audit-items/{item_id}"
    assert api.post(f"{base}/reopen", headers=auditor, json={"note": "not closed yet"}).status_code == 409
    api.post(f"{base}/claim", headers=auditor)
    assert api.post(f"{base}/claim", headers=other).status_code == 409  # one auditor at a time
    api.post(f"{base}/outcome", headers=auditor, json={"outcome": "prevarication", "note": "Signed in and idle all afternoon."})
    r = api.post(f"{base}/reopen", headers=other, json={"note": "x"})
    assert r.status_code == 422 and "note" in r.text
    r = api.post(f"{base}/reopen", headers=other, json={"note": "The issuer was on sick leave; see the roster."})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "open" and body["outcome"] is None and body["reopened_count"] == 1 and body["closed_at"] is None
    assert api.post(f"{base}/claim", headers=other).status_code == 200
    r = api.post(f"{base}/outcome", headers=other, json={"outcome": "justified", "note": "Sick leave confirmed."})
    assert r.json()["outcome"] == "justified"
    with seeded.session() as s:
        history = [(h.action, h.outcome) for h in s.exec(select(AuditItemHistory).where(AuditItemHistory.item_id == item_id).order_by(AuditItemHistory.id))]
    assert history == [("claimed", None), ("outcome", "prevarication"), ("reopened", None), ("claimed", None), ("outcome", "justified")]
    assert _actions(seeded, app_id).count("provincial_audit_reopened") == 1
    listed = api.get("/api/v1/province/audit-items", headers=auditor, params={"status": "closed", "outcome": "justified"}).json()
    assert [i["id"] for i in listed["items"]] == [item_id] and listed["items"][0]["reopened_count"] == 1


def test_r21_bad_outcome_and_unknown_item_are_4xx_naming_the_field(api, seeded, clock, breach_item):
    _, item_id = breach_item
    auditor = login(api, "province")
    r = api.post(f"/api/v1/province/audit-items/{item_id}/outcome", headers=auditor, json={"outcome": "guilty", "note": "whatever it is"})
    assert r.status_code == 422 and "outcome" in r.text
    assert api.get("/api/v1/province/audit-items/999999", headers=auditor).status_code == 404
    assert api.get("/api/v1/province/audit-items", headers=auditor, params={"from": "2026-03-05", "to": "2026-03-01"}).status_code == 422


PROVINCE_ROUTES = [
    ("GET", "/api/v1/province/audit-items"), ("GET", "/api/v1/province/audit-items.csv"), ("GET", "/api/v1/province/league"),
    ("GET", "/api/v1/province/league.csv"), ("GET", "/api/v1/province/thresholds"), ("GET", "/api/v1/province/thresholds.csv"),
]


def test_r21_only_auditors_and_admins_reach_the_provincial_office(api, seeded, clock, breach_item):
    _, item_id = breach_item
    for username, allowed in (("province", True), ("admin", True), ("jinan-supervisor", False), ("qingdao-issuer", False), ("unit-hr", False), ("checkpoint", False)):
        headers = login(api, username)
        for method, path in [*PROVINCE_ROUTES, ("GET", f"/api/v1/province/audit-items/{item_id}")]:
            r = api.request(method, path, headers=headers)
            assert (r.status_code == 200) == allowed, (username, path, r.status_code)
            if not allowed:
                assert r.status_code == 403
        r = api.post(f"/api/v1/province/audit-items/{item_id}/claim", headers=headers)
        assert (r.status_code in (200, 409)) == allowed
    assert api.get("/api/v1/province/audit-items").status_code == 401


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r21_r22_province_routes_signed_in_answer_no_5xx_and_match_the_schema(api, seeded, clock, breach_item):
    """Schemathesis on the provincial office's operations as the auditor (the suite-wide run is
    anonymous, so it only reaches their 401)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from web.main import create_app

    headers = login(api, "province")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app()).include(path_regex="^/api/v1/province/")
    failures, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=15, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=headers)
            calls.append(response.status_code)
            try:
                case.validate_response(response, checks=(not_a_server_error, response_schema_conformance))
            except Exception as exc:
                failures.append(f"{case.operation.label}: {str(exc)[:300]}")
                raise

        try:
            check()
        except Exception:
            pass
    assert len(calls) > 40 and 200 in calls
    assert not failures, "\n".join(dict.fromkeys(failures))


def test_r21_two_auditors_claiming_at_once_one_wins(seeded, clock, breach_item):
    """Real threads, separate sessions: the conditional update lets exactly one claim stand."""
    import threading

    from cases.errors import Conflict
    from cases.services import oversight
    from tests.oversight.support import user

    _, item_id = breach_item
    barrier, results = threading.Barrier(2), {}

    def claim(username):
        with seeded.session() as s:
            auditor = user(s, username)
            barrier.wait()
            try:
                oversight.claim_item(session=s, item_id=item_id, user=auditor, at=clock.now())
                results[username] = "won"
            except Conflict:
                results[username] = "lost"

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("province", "province-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == ["lost", "won"]
    with seeded.session() as s:
        (item,) = items(s, "breach")
        winner = next(name for name, r in results.items() if r == "won")
        assert item.claimed_by == user(s, winner).id
        assert len(list(s.exec(select(AuditItemHistory).where(AuditItemHistory.item_id == item_id)))) == 1
