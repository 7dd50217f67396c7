"""The supervisor's actions on the pages: the staff case view (/staff/cases/{id}) and the
notifications page, driven as a browser does (forms with the CSRF token, redirects)."""
from __future__ import annotations

import csv
import io

from sqlmodel import select

from cases.models import CaseEvent, Notification, Pass
from tests.actions.conftest import ISSUER, ISSUER2, OTHER_CITY, SUPERVISOR, breach, new_case, task_of
from tests.conftest import login
from tests.ui.test_pages import hidden, sign_in, text_of


def _actions(store, case_id: str) -> list[str]:
    with store.session() as s:
        return [e.action for e in s.exec(select(CaseEvent).where(CaseEvent.application_id == case_id).order_by(CaseEvent.seq))]


def _page(api, case_id: str):
    r = api.get(f"/staff/cases/{case_id}")
    assert r.status_code == 200, r.text
    return r, hidden(r.text, "csrf_token")


def test_r13_staff_case_page_scoped_masked_with_each_action(api, world, clock):
    case = new_case(world, clock)
    assert api.post(f"/api/v1/audit-tasks/{case.task_id}/claim", headers=login(api, ISSUER)).status_code == 200
    sign_in(api, SUPERVISOR)
    r, token = _page(api, case.id)
    words = text_of(r.text)
    assert case.reference in words and "Declaration (masked)" in words and "370202001001" in words and ISSUER in words
    assert "/cases/" + case.id not in r.text.replace("/staff/cases/", "")  # never a link to the applicant's page
    # Without the CSRF token: refused.
    assert api.post(f"/staff/cases/{case.id}/nudge", data={"note": "x"}).status_code == 403

    r = api.post(f"/staff/cases/{case.id}/nudge", data={"csrf_token": token, "note": "Please decide today."}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=nudged")
    assert "The issuer was reminded" in text_of(api.get(r.headers["location"]).text)
    r = api.post(f"/staff/cases/{case.id}/reassign", data={"csrf_token": token, "to_username": "heping-issuer"})
    assert r.status_code == 422 and "same community" in text_of(r.text)  # shown next to the form
    r = api.post(f"/staff/cases/{case.id}/reassign", data={"csrf_token": token, "to_username": ISSUER2}, follow_redirects=False)
    assert r.status_code == 303
    assert "nudged" in _actions(world, case.id) and "reassigned" in _actions(world, case.id)
    sign_in(api, ISSUER)
    assert "Please decide today." in text_of(api.get("/issuer").text)  # the reminder reaches the issuer
    sign_in(api, SUPERVISOR)
    token = hidden(api.get(f"/staff/cases/{case.id}").text, "csrf_token")

    # Not escalated yet: no decision form, and a forged POST is refused with the reason.
    assert 'action="/staff/cases/' + case.id + '/decision"' not in api.get(f"/staff/cases/{case.id}").text
    r = api.post(f"/staff/cases/{case.id}/decision", data={"csrf_token": token, "action": "approve"})
    assert r.status_code == 409 and "escalated" in text_of(r.text)

    breach(world, clock)
    sign_in(api, SUPERVISOR)
    r, token = _page(api, case.id)
    assert "Escalated" in text_of(r.text) and f'action="/staff/cases/{case.id}/decision"' in r.text
    r = api.post(f"/staff/cases/{case.id}/decision", data={"csrf_token": token, "action": "reject", "reason_code": "filing_required", "explanation": "The applicant has to file with the community first."})
    assert r.status_code == 422 and "R16" in text_of(r.text) and "The applicant has to file" in r.text  # the value is kept
    r = api.post(f"/staff/cases/{case.id}/decision", data={"csrf_token": token, "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=approve")
    assert task_of(world, case).decision == "approve" and "decision_approve" in _actions(world, case.id)
    r = api.post(f"/staff/cases/{case.id}/decision", data={"csrf_token": token, "action": "reject", "reason_code": "false_declaration", "explanation": "Roaming records show a week in Wuhan that the declaration omits."})
    assert r.status_code == 409 and "already decided" in text_of(r.text)

    # Another city's supervisor: the page and every action answer 404.
    sign_in(api, OTHER_CITY)
    assert api.get(f"/staff/cases/{case.id}").status_code == 404
    other_token = hidden(api.get("/supervisor/notifications").text, "csrf_token")
    assert api.post(f"/staff/cases/{case.id}/nudge", data={"csrf_token": other_token}).status_code == 404


def test_revoke_a_pass_on_the_staff_page(api, world, clock):
    case = new_case(world, clock, kind="arrival")
    sign_in(api, SUPERVISOR)
    _, token = _page(api, case.id)
    r = api.post(f"/staff/cases/{case.id}/revoke-pass", data={"csrf_token": token, "reason": "no"})
    assert r.status_code == 422 and "at least 5 characters" in text_of(r.text)
    r = api.post(f"/staff/cases/{case.id}/revoke-pass", data={"csrf_token": token, "reason": "re-decided after a complaint"}, follow_redirects=False)
    assert r.status_code == 303
    assert "The pass was revoked" in text_of(api.get(r.headers["location"]).text)
    with world.session() as s:
        assert all(p.revoked_at is not None for p in s.exec(select(Pass).where(Pass.application_id == case.id)))


def test_r13_notifications_page_acknowledges_links_to_the_staff_view_and_exports(api, world, clock):
    case = new_case(world, clock)
    breach(world, clock)
    sign_in(api, SUPERVISOR)
    page = api.get("/supervisor/notifications", params={"state": "open"})
    assert page.status_code == 200 and f'href="/staff/cases/{case.id}"' in page.text and "Acknowledge" in text_of(page.text)
    with world.session() as s:
        note = s.exec(select(Notification).where(Notification.application_id == case.id, Notification.kind == "sla_breach")).one()
    token = hidden(page.text, "csrf_token")
    assert api.post(f"/supervisor/notifications/{note.id}/acknowledge", data={}).status_code == 403
    r = api.post(f"/supervisor/notifications/{note.id}/acknowledge", data={"csrf_token": token, "back": "state=open"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/supervisor/notifications?state=open&done=acknowledged"
    done = api.get("/supervisor/notifications", params={"state": "acknowledged"})
    assert SUPERVISOR in text_of(done.text) and f'href="/staff/cases/{case.id}"' in done.text
    assert "notification_acknowledged" in _actions(world, case.id)
    rows = list(csv.DictReader(io.StringIO(api.get("/supervisor/notifications.csv", params={"state": "acknowledged"}).text)))
    assert [int(r["id"]) for r in rows] == [note.id] and rows[0]["acknowledged_by"] == SUPERVISOR
    assert api.get("/supervisor/notifications", params={"kind": "sla_breach"}).status_code == 200

    sign_in(api, OTHER_CITY)
    assert case.reference not in text_of(api.get("/supervisor/notifications").text)
    token = hidden(api.get("/supervisor/notifications").text, "csrf_token")
    assert api.post(f"/supervisor/notifications/{note.id}/acknowledge", data={"csrf_token": token}).status_code == 404
