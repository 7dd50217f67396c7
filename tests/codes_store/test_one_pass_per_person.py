"""R2: a person holds one valid pass. Issuing any pass supersedes every earlier unexpired pass
of that person (revoked with reason ``superseded``, in both cases' timelines); a rejection on a
red-list hit, a revocation or a new yellow/red declaration reaches every pass of the person, by
QR and by paper card number alike (R3)."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from cases.events import timeline
from cases.models import Application, Pass
from cases.services import workflow
from tests.conftest import login
from tests.helpers import example, to_audit

STANDARD_ID = "370202198511200113"  # Wang Qiang, the standard example's person


def verify(api, **body) -> dict:
    r = api.post("/api/v1/checkpoint/verify", json={"temperature": 36.5, **body})
    assert r.status_code == 200, r.text
    return r.json()


def both_ways(api, p: Pass) -> list[dict]:
    """The QR and the paper card number of one pass (R3: the same decision)."""
    return [verify(api, qr=p.token), verify(api, card_number=p.card_number)]


def submit(api, clock, kind: str, **changes) -> dict:
    body = {**example(kind, clock.now().date()), **changes}
    r = api.post("/api/v1/applications", json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def finish(store, clock, case_id: str) -> None:
    with store.session() as s:
        workflow.finish(session=s, application=s.get(Application, case_id), at=clock.now(), settings=store.settings)
        s.commit()


def green_case(api, store, clock, issuer: str = "qingdao-issuer") -> tuple[dict, Pass]:
    created = submit(api, clock, "standard")
    task_id = to_audit(store, clock, created["id"])
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=login(api, issuer))
    assert r.status_code == 200, r.text
    finish(store, clock, created["id"])
    return created, live_passes(store, created["id"])[0]


def live_passes(store, case_id: str) -> list[Pass]:
    with store.session() as s:
        return list(s.exec(select(Pass).where(Pass.application_id == case_id, Pass.revoked_at == None)).all())


def events(store, case_id: str) -> list:
    with store.session() as s:
        return list(timeline(s, case_id))


def arrival_as_wang(api, clock) -> dict:
    """An arrival declared with the ID (and name) of the standard example's person."""
    return submit(api, clock, "arrival", id_number=STANDARD_ID, name="王强")


def test_r2_arrival_with_the_id_of_a_green_holder_supersedes_the_green_pass(api, seeded, clock):
    first, green = green_case(api, seeded, clock)
    assert [d["result"] for d in both_ways(api, green)] == ["PASS", "PASS"]

    clock.advance(timedelta(hours=1))
    arrival = arrival_as_wang(api, clock)
    assert arrival["id"] != first["id"]
    (yellow,) = live_passes(seeded, arrival["id"])
    assert yellow.colour == "yellow"  # R7 still holds

    for d in both_ways(api, green):
        assert d["result"] == "DENY" and d["reasons"] == ["superseded"], d
    for d in both_ways(api, yellow):
        assert d["result"] == "DENY" and d["reasons"] == ["yellow"], d

    with seeded.session() as s:
        old = s.get(Pass, green.id)
        assert old.revoked_at is not None and old.revoke_reason == "superseded"
    # Both timelines say it: the old case by which pass of which case, the new case which pass.
    old_events = [e for e in events(seeded, first["id"]) if e.action == "pass_revoked"]
    assert [(e.reason, e.data["pass_id"], e.data["superseded_by"], e.data["by_case"]) for e in old_events] == [
        ("superseded", green.id, yellow.id, arrival["reference"])
    ]
    new_events = [e for e in events(seeded, arrival["id"]) if e.action == "pass_superseded"]
    assert [(e.data["pass_id"], e.data["case"]) for e in new_events] == [(green.id, first["reference"])]
