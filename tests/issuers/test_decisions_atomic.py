"""Decisions are atomic (issue 14): two decisions sent at the same instant, through the API on
threads of a real store (SQLite and PostgreSQL), give exactly one 200 and one 409 naming the
decision that won; one decision event; the pass and the provincial audit items follow the winner.
The automatic green pass (R12) racing an issuer's decision is decided once, too."""
from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.declaration_schema import ApplicationCreate
from cases.models import (
    Application,
    AuditTask,
    CaseEvent,
    Pass,
    ProvincialAuditItem,
    SlaTimer,
)
from cases.services import sla_service, workflow
from cases.services.applications import submit_application
from cases.validation import resident_id_check_char
from tests.conftest import login
from tests.helpers import example, to_audit

ONE, TWO = "qingdao-issuer", "issuer-370202001001"  # two issuers of the example's community
APPROVE = {"action": "approve"}
REJECT = {"action": "reject", "reason_code": "false_declaration", "explanation": "Roaming records show a week in Wuhan that the declaration omits."}
_PEOPLE = itertools.count(100)
ROUNDS = 3  # a race per round: each pair must come out right every time, whichever thread wins


def _cases(store, clock, n: int) -> list[tuple[str, str]]:
    """n standard cases of n people in the example's community, each awaiting audit."""
    out = []
    for _ in range(n):
        body = example("standard", clock.now().astimezone(SHANGHAI).date())
        body["id_number"] = _another_id(body["id_number"])
        with store.session() as s:
            created = submit_application(session=s, payload=ApplicationCreate.model_validate(body), content=body, settings=store.settings, at=clock.now())
            s.commit()
            app_id = created.application.id
        out.append((app_id, to_audit(store, clock, app_id)))
    return out


def _another_id(number: str) -> str:
    body = number[:14] + f"{next(_PEOPLE):03d}"
    return body + resident_id_check_char(body)


def _at_once(*calls):
    """Run the calls on their own threads, released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n: int, call) -> None:
        barrier.wait()
        try:
            results[n] = call()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertions
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _decision_events(session, app_id: str) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.application_id == app_id, CaseEvent.action.like("decision_%"))))


def _finish(store, clock, app_id: str) -> None:
    """What the flow does when the decision resumes it: issue the pass the decision calls for."""
    with store.session() as s:
        workflow.finish(session=s, application=s.get(Application, app_id), at=clock.now(), settings=store.settings)
        s.commit()


def _assert_outcome_follows(store, app_id: str, action: str, by: str) -> None:
    with store.session() as s:
        events = _decision_events(s, app_id)
        assert [e.action for e in events] == [f"decision_{action}"], [e.action for e in events]
        app, task = s.get(Application, app_id), s.exec(select(AuditTask).where(AuditTask.application_id == app_id)).one()
        assert app.decision == action and task.decision == action
        rejections = s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.application_id == app_id, ProvincialAuditItem.kind == "rejection")).all()
        passes = s.exec(select(Pass).where(Pass.application_id == app_id)).all()
        if action == "reject":
            assert len(rejections) == 1 and not passes
        else:
            assert not rejections and [p.colour for p in passes] == ["green"]


@pytest.mark.parametrize(("first", "second"), [("approve", "reject"), ("reject", "approve"), ("approve", "approve")])
def test_r14_two_decisions_at_once_one_wins_the_other_gets_409_naming_it(api, seeded, clock, first, second):
    bodies = {"approve": APPROVE, "reject": REJECT}
    one, two = login(api, ONE), login(api, TWO)
    for app_id, task_id in _cases(seeded, clock, ROUNDS):
        url = f"/api/v1/audit-tasks/{task_id}/decision"
        answers = _at_once(lambda url=url: api.post(url, json=bodies[first], headers=one), lambda url=url: api.post(url, json=bodies[second], headers=two))
        assert not [a for a in answers if isinstance(a, BaseException)], answers
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [(a.status_code, a.text) for a in answers]
        won = next(n for n, a in enumerate(answers) if a.status_code == 200)
        lost = answers[1 - won].json()
        action, by = (first, ONE) if won == 0 else (second, TWO)
        # The loser is told what won, by whom and when.
        assert lost["decision"]["action"] == action and lost["decision"]["by"] == by and lost["decision"]["at"]
        assert action in lost["detail"] and by in lost["detail"]
        _finish(seeded, clock, app_id)
        _assert_outcome_follows(seeded, app_id, action, by)


def test_r14_the_same_issuer_clicking_twice_at_once_decides_once(api, seeded, clock):
    """A double click (same person, same decision) is not an error, but it is one decision."""
    one = login(api, ONE)
    for app_id, task_id in _cases(seeded, clock, ROUNDS):
        url = f"/api/v1/audit-tasks/{task_id}/decision"
        answers = _at_once(lambda url=url: api.post(url, json=APPROVE, headers=one), lambda url=url: api.post(url, json=APPROVE, headers=one))
        assert [a.status_code for a in answers] == [200, 200], [getattr(a, "text", a) for a in answers]
        _finish(seeded, clock, app_id)
        _assert_outcome_follows(seeded, app_id, "approve", ONE)


def test_r12_auto_issue_racing_an_issuers_decision_decides_once(api, seeded, clock):
    """The sweep fires the automatic green pass at the instant an issuer rejects: either the
    rejection stands (200, the timer does nothing) or the auto-issue does (the issuer gets 409
    naming it); never both."""
    one = login(api, ONE)
    def sweep() -> dict:
        with seeded.session() as s:
            return sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)

    for app_id, task_id in _cases(seeded, clock, ROUNDS + 1):
        with seeded.session() as s:
            s.add(SlaTimer(application_id=app_id, kind="auto_issue", level=None, due_at=clock.now() - timedelta(minutes=1)))
            s.commit()
        answers = _at_once(sweep, lambda task_id=task_id: api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=REJECT, headers=one))
        assert not [a for a in answers if isinstance(a, BaseException)], answers
        decided = answers[1]
        sweep()  # a case the sweep skipped (the issuer held it) is looked at again
        if decided.status_code == 200:
            action = "reject"
        else:
            assert decided.status_code == 409, decided.text
            assert decided.json()["decision"] == {**decided.json()["decision"], "action": "auto_issue", "by": "system"}
            action = "auto_issue"
        with seeded.session() as s:
            assert s.exec(select(SlaTimer).where(SlaTimer.application_id == app_id, SlaTimer.pending == True)).all() == []
        _finish(seeded, clock, app_id)
        with seeded.session() as s:
            events = _decision_events(s, app_id)
            assert [e.action for e in events] == [f"decision_{action}"], [e.action for e in events]
            passes = s.exec(select(Pass).where(Pass.application_id == app_id)).all()
            assert [p.colour for p in passes] == ([] if action == "reject" else ["green"])


def test_r14_issuer_page_shows_who_decided_first_instead_of_an_error(api, seeded, clock):
    from tests.ui.test_pages import csrf, sign_in, text_of

    (app_id, task_id), = _cases(seeded, clock, 1)
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=APPROVE, headers=login(api, ONE)).status_code == 200
    sign_in(api, TWO)
    token = csrf(api, f"/issuer/tasks/{task_id}")
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, **REJECT}, follow_redirects=False)
    assert r.status_code == 303  # redirect-after-POST: the 409 is told on the page it leads to
    words = text_of(api.get(r.headers["location"]).text)
    assert "already decided" in words and "approve" in words and ONE in words, words[:2000]
    with seeded.session() as s:
        assert [e.action for e in _decision_events(s, app_id)] == ["decision_approve"]


def test_r14_a_claim_racing_a_decision_is_one_or_the_other_never_an_error(api, seeded, clock):
    """Issuer one takes the case at the instant issuer two approves it: one of them wins, the
    other gets 409 (on PostgreSQL both lock the case before its task, so no deadlock, no 500)."""
    one, two = login(api, ONE), login(api, TWO)
    for app_id, task_id in _cases(seeded, clock, ROUNDS):
        claimed, decided = _at_once(
            lambda task_id=task_id: api.post(f"/api/v1/audit-tasks/{task_id}/claim", headers=one),
            lambda task_id=task_id: api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=APPROVE, headers=two),
        )
        assert sorted([claimed.status_code, decided.status_code]) == [200, 409], (claimed.text, decided.text)
        with seeded.session() as s:
            events = [e.action for e in _decision_events(s, app_id)]
            assert events == (["decision_approve"] if decided.status_code == 200 else [])
