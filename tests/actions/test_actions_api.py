"""Supervisors' actions through the API (issue 13): the staff view of a case, acknowledging
notifications, reassigning, nudging, deciding an escalated case, revoking a pass. Each action is
scope-checked (a supervisor of another city gets 404) and evented in the case timeline."""
from __future__ import annotations

import csv
import io
import threading

from sqlmodel import select

from cases.models import Application, CaseEvent, Notification, Pass, User
from tests.actions.conftest import CLOSE_CONTACT, ISSUER, ISSUER2, OTHER_CITY, SUPERVISOR, breach, new_case, task_of
from tests.conftest import login

REJECT = {"action": "reject", "reason_code": "false_declaration", "explanation": "Roaming records show a week in Wuhan that the declaration omits."}


def _events(store, case_id: str) -> list[CaseEvent]:
    with store.session() as s:
        return list(s.exec(select(CaseEvent).where(CaseEvent.application_id == case_id).order_by(CaseEvent.seq)))


def _user_id(store, username: str) -> str:
    with store.session() as s:
        return s.exec(select(User.id).where(User.username == username)).one()


def test_r13_staff_case_view_is_masked_scoped_and_never_the_applicants(api, world, clock):
    case = new_case(world, clock)
    raw = None
    with world.session() as s:
        from cases.services.applications import latest_declaration

        raw = latest_declaration(s, case.id).content
    breach(world, clock)
    sup, other, issuer = login(api, SUPERVISOR), login(api, OTHER_CITY), login(api, ISSUER)
    r = api.get(f"/api/v1/staff/cases/{case.id}", headers=sup)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["reference"] == case.reference and view["escalated"] is True
    # Masked as the README promises: no full ID number, phone, name or street address.
    assert raw["id_number"] not in r.text and raw["phone"] not in r.text and raw["name"] not in r.text and raw["address"] not in r.text
    assert view["declaration"]["id_number"][:4] == raw["id_number"][:4] and "*" in view["declaration"]["id_number"]
    assert view["task"]["holder"] == {"kind": "community", "code": "370202001001", "name": view["task"]["holder"]["name"]}
    assert view["sla"]["state"] == "breached" and view["sla"]["time_left_seconds"] < 0
    assert view["responsibility"]["code"] == "370202001001" and ISSUER in view["responsibility"]["issuers"]
    assert [e["action"] for e in view["timeline"]][:1] == ["submitted"] and "sla_breach" in [e["action"] for e in view["timeline"]]
    assert view["allowed"]["decide"] and view["allowed"]["nudge"] and view["allowed"]["reassign"] and ISSUER2 in view["allowed"]["issuers"]
    # Another city's supervisor: 404 (existence not revealed); an issuer: not a staff reader.
    assert api.get(f"/api/v1/staff/cases/{case.id}", headers=other).status_code == 404
    assert api.get(f"/api/v1/staff/cases/{case.id}", headers=issuer).status_code == 403
    assert api.get("/api/v1/staff/cases/nope", headers=sup).status_code == 404


def test_r13_acknowledging_a_notification_is_evented_listed_and_exported(api, world, clock):
    case = new_case(world, clock)
    breach(world, clock)
    sup, other = login(api, SUPERVISOR), login(api, OTHER_CITY)
    listed = api.get("/api/v1/staff/notifications", params={"acknowledged": "false"}, headers=sup).json()
    mine = [n for n in listed["items"] if n["application_id"] == case.id]
    assert mine and listed["total"] == len(listed["items"])
    breach_note = next(n for n in mine if n["kind"] == "sla_breach")
    assert breach_note["case_url"] == f"/staff/cases/{case.id}" and breach_note["reference"] == case.reference
    # Out of area: not listed, and not acknowledged (404).
    assert case.id not in {n["application_id"] for n in api.get("/api/v1/staff/notifications", headers=other).json()["items"]}
    assert api.post(f"/api/v1/staff/notifications/{breach_note['id']}/acknowledge", headers=other).status_code == 404

    r = api.post(f"/api/v1/staff/notifications/{breach_note['id']}/acknowledge", headers=sup)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged"] and r.json()["acknowledged_by"] == SUPERVISOR
    ack = [e for e in _events(world, case.id) if e.action == "notification_acknowledged"]
    assert len(ack) == 1 and ack[0].actor == _user_id(world, SUPERVISOR) and ack[0].data["notification_id"] == breach_note["id"]
    # Once only: acknowledging again changes nothing.
    assert api.post(f"/api/v1/staff/notifications/{breach_note['id']}/acknowledge", headers=sup).status_code == 200
    assert len([e for e in _events(world, case.id) if e.action == "notification_acknowledged"]) == 1
    with world.session() as s:
        stored = s.get(Notification, breach_note["id"])
        assert stored.acknowledged_by == _user_id(world, SUPERVISOR) and stored.acknowledged_at is not None

    done = api.get("/api/v1/staff/notifications", params={"acknowledged": "true"}, headers=sup).json()
    assert [n["id"] for n in done["items"]] == [breach_note["id"]]
    still_open = api.get("/api/v1/staff/notifications", params={"acknowledged": "false", "kind": "sla_breach"}, headers=sup).json()
    assert breach_note["id"] not in [n["id"] for n in still_open["items"]]

    # Paged: one a page gives every row once; the CSV has the same rows as the list.
    everything = api.get("/api/v1/staff/notifications", params={"per_page": 500}, headers=sup).json()
    paged = [api.get("/api/v1/staff/notifications", params={"per_page": 1, "page": n}, headers=sup).json()["items"][0]["id"] for n in range(1, everything["total"] + 1)]
    assert paged == [n["id"] for n in everything["items"]] and everything["pages"] == 1
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/staff/notifications.csv", headers=sup).text)))
    assert [int(r["id"]) for r in rows] == paged
    assert {r["acknowledged"] for r in rows if int(r["id"]) == breach_note["id"]} == {"yes"}
    assert api.get("/api/v1/staff/notifications", params={"page": 0}, headers=sup).status_code == 422


def test_reassign_through_the_staff_api_is_scoped_and_keeps_the_clock(api, world, clock):
    case = new_case(world, clock)
    one = login(api, ISSUER)
    assert api.post(f"/api/v1/audit-tasks/{case.task_id}/claim", headers=one).status_code == 200
    sup, other = login(api, SUPERVISOR), login(api, OTHER_CITY)
    with world.session() as s:
        due = s.get(Application, case.id).sla_due_at
    assert api.post(f"/api/v1/staff/cases/{case.id}/reassign", json={"to_username": ISSUER2}, headers=other).status_code == 404
    bad = api.post(f"/api/v1/staff/cases/{case.id}/reassign", json={"to_username": "heping-issuer"}, headers=sup)
    assert bad.status_code == 422 and "same community" in bad.text  # an issuer of another community
    r = api.post(f"/api/v1/staff/cases/{case.id}/reassign", json={"to_username": ISSUER2}, headers=sup)
    assert r.status_code == 200 and r.json()["claimed_by"] == ISSUER2
    assert task_of(world, case).claimed_by == _user_id(world, ISSUER2)
    event = [e for e in _events(world, case.id) if e.action == "reassigned"][-1]
    assert event.actor == _user_id(world, SUPERVISOR) and event.after == _user_id(world, ISSUER2)
    with world.session() as s:
        assert s.get(Application, case.id).sla_due_at == due


def test_nudge_notifies_the_issuer_holding_the_task(api, world, clock):
    case = new_case(world, clock)
    assert api.post(f"/api/v1/audit-tasks/{case.task_id}/claim", headers=login(api, ISSUER)).status_code == 200
    sup, other = login(api, SUPERVISOR), login(api, OTHER_CITY)
    assert api.post(f"/api/v1/staff/cases/{case.id}/nudge", json={}, headers=other).status_code == 404
    r = api.post(f"/api/v1/staff/cases/{case.id}/nudge", json={"note": "Please decide before noon."}, headers=sup)
    assert r.status_code == 200, r.text
    assert r.json()["to"] == ISSUER and case.reference in r.json()["message"]
    with world.session() as s:
        note = s.get(Notification, r.json()["notification_id"])
        assert note.kind == "nudge" and note.recipient_user_id == _user_id(world, ISSUER) and "before noon" in note.message
    event = [e for e in _events(world, case.id) if e.action == "nudged"][-1]
    assert event.actor == _user_id(world, SUPERVISOR) and event.data["to"] == ISSUER
    # The issuer holding the task reads it; another issuer of the community does not (it names one).
    inbox = api.get("/api/v1/staff/nudges", headers=login(api, ISSUER)).json()
    assert [n["id"] for n in inbox] == [r.json()["notification_id"]] and inbox[0]["reference"] == case.reference
    assert api.get("/api/v1/staff/nudges", headers=login(api, ISSUER2)).json() == []


def test_r16_r21_supervisor_decides_an_escalated_case_under_the_issuers_rules(api, world, clock):
    case = new_case(world, clock)
    listed = new_case(world, clock, id_number=CLOSE_CONTACT)  # a red-list comparison hit
    sup = login(api, SUPERVISOR)
    early = api.post(f"/api/v1/staff/cases/{case.id}/decision", json={"action": "approve"}, headers=sup)
    assert early.status_code == 409 and "escalated" in early.text  # not breached: the issuers decide
    breach(world, clock)
    sup, other = login(api, SUPERVISOR), login(api, OTHER_CITY)
    assert api.post(f"/api/v1/staff/cases/{case.id}/decision", json={"action": "approve"}, headers=other).status_code == 404
    forbidden = api.post(f"/api/v1/staff/cases/{case.id}/decision", json={"action": "reject", "reason_code": "physical_examination", "explanation": "A physical examination report is needed first."}, headers=sup)
    assert forbidden.status_code == 422 and "R16" in forbidden.text
    worded = api.post(f"/api/v1/staff/cases/{case.id}/decision", json={"action": "reject", "reason_code": "false_declaration", "explanation": "Please bring a health certificate from the hospital."}, headers=sup)
    assert worded.status_code == 422 and "R5" in worded.text
    r = api.post(f"/api/v1/staff/cases/{case.id}/decision", json={"action": "approve"}, headers=sup)
    assert r.status_code == 200, r.text
    decision = [e for e in _events(world, case.id) if e.action.startswith("decision_")]
    assert [(e.action, e.actor, e.data.get("by_role")) for e in decision] == [("decision_approve", _user_id(world, SUPERVISOR), "supervisor")]
    assert task_of(world, case).decided_by == _user_id(world, SUPERVISOR)
    again = api.post(f"/api/v1/staff/cases/{case.id}/decision", json=REJECT, headers=sup)
    assert again.status_code == 409 and again.json()["decision"]["by"] == SUPERVISOR

    # A red-list hit escalates instead of an automatic pass (R12); the staff view shows the hit,
    # and approving it needs reasons the province reviews, for a supervisor as for an issuer.
    view = api.get(f"/api/v1/staff/cases/{listed.id}", headers=sup).json()
    assert view["escalated"] and view["comparison"]["red_list"] and view["comparison"]["hits"]
    assert "auto_issue_withheld" in [e["action"] for e in view["timeline"]]
    bare = api.post(f"/api/v1/staff/cases/{listed.id}/decision", json={"action": "approve"}, headers=sup)
    assert bare.status_code == 422 and "red list" in bare.text
    r = api.post(f"/api/v1/staff/cases/{listed.id}/decision", json={"action": "approve", "explanation": "The registry row is of a namesake; the ID number differs."}, headers=sup)
    assert r.status_code == 200, r.text
    with world.session() as s:
        from cases.models import ProvincialAuditItem

        assert s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.application_id == listed.id, ProvincialAuditItem.kind == "red_list_override")).first() is not None


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n, call):
        barrier.wait()
        try:
            results[n] = call()
        except BaseException as exc:  # noqa: BLE001
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_r14_supervisor_decision_racing_the_issuers_one_wins_the_other_gets_409(api, world, clock):
    cases = [new_case(world, clock) for _ in range(3)]
    breach(world, clock)
    sup, issuer = login(api, SUPERVISOR), login(api, ISSUER)
    winners = set()
    for case in cases:
        answers = _at_once(
            lambda case=case: api.post(f"/api/v1/staff/cases/{case.id}/decision", json=REJECT, headers=sup),
            lambda case=case: api.post(f"/api/v1/audit-tasks/{case.task_id}/decision", json={"action": "approve"}, headers=issuer),
        )
        assert not [a for a in answers if isinstance(a, BaseException)], answers
        assert sorted(a.status_code for a in answers) == [200, 409], [(a.status_code, a.text) for a in answers]
        won = 0 if answers[0].status_code == 200 else 1
        winners.add(won)
        lost = answers[1 - won].json()
        by, action = (SUPERVISOR, "reject") if won == 0 else (ISSUER, "approve")
        assert lost["decision"]["by"] == by and lost["decision"]["action"] == action
        decisions = [e.action for e in _events(world, case.id) if e.action.startswith("decision_")]
        assert decisions == [f"decision_{action}"]
        with world.session() as s:
            assert s.get(Application, case.id).decision == action


def test_revoke_a_pass_from_the_staff_view(api, world, clock):
    case = new_case(world, clock, kind="arrival")  # arrivals hold a yellow pass at once (R7)
    sup, other = login(api, SUPERVISOR), login(api, OTHER_CITY)
    assert api.post(f"/api/v1/staff/cases/{case.id}/revoke-pass", json={"reason": "re-decided after a complaint"}, headers=other).status_code == 404
    assert api.get(f"/api/v1/staff/cases/{case.id}", headers=sup).json()["allowed"]["revoke_pass"]
    short = api.post(f"/api/v1/staff/cases/{case.id}/revoke-pass", json={"reason": "no"}, headers=sup)
    assert short.status_code == 422 and "reason" in short.text
    r = api.post(f"/api/v1/staff/cases/{case.id}/revoke-pass", json={"reason": "re-decided after a complaint"}, headers=sup)
    assert r.status_code == 200, r.text
    with world.session() as s:
        assert all(p.revoked_at is not None for p in s.exec(select(Pass).where(Pass.application_id == case.id)))
    event = [e for e in _events(world, case.id) if e.action == "pass_revoked"][-1]
    assert event.actor == _user_id(world, SUPERVISOR) and event.reason == "re-decided after a complaint"
    assert api.post(f"/api/v1/staff/cases/{case.id}/revoke-pass", json={"reason": "re-decided after a complaint"}, headers=sup).status_code == 409
