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
from cases.services.legacy import import_legacy_cards
from tests.conftest import login
from tests.helpers import example, to_audit

STANDARD_ID = "370202198511200113"  # Wang Qiang, the standard example's person


def verify(api, **body) -> dict:
    # A typed card number needs the checkpoint operator's sign-in; a QR does not.
    headers = login(api, "checkpoint") if "card_number" in body else {}
    r = api.post("/api/v1/checkpoint/verify", json={"temperature": 36.5, **body}, headers=headers)
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


def test_r2_a_second_green_pass_supersedes_the_first_in_both_timelines(api, seeded, clock):
    first, old = green_case(api, seeded, clock)
    clock.advance(timedelta(days=3))
    second, new = green_case(api, seeded, clock)
    assert second["id"] != first["id"] and new.id != old.id
    for d in both_ways(api, old):
        assert (d["result"], d["reasons"]) == ("DENY", ["superseded"])
    for d in both_ways(api, new):
        assert (d["result"], d["reasons"]) == ("PASS", [])
    # The revocation list carries the superseded pass like any revoked one (offline checkpoints).
    assert old.id in api.get("/api/v1/passes/revocations").json()["revoked"]
    new_case_events = [(e.action, e.data.get("pass_id")) for e in events(seeded, second["id"]) if e.action.startswith("pass_")]
    assert new_case_events == [("pass_superseded", old.id), ("pass_issued", new.id)]


def test_r2_rejection_on_a_red_list_hit_reaches_every_pass_of_the_person(api, seeded, clock):
    first, green = green_case(api, seeded, clock)
    clock.advance(timedelta(days=2))
    created = submit(api, clock, "standard")
    task_id = to_audit(seeded, clock, created["id"])
    with seeded.session() as s:  # the comparison found the person on a red list (R15)
        app = s.get(Application, created["id"])
        app.red_list, app.comparison_outcome = True, "close_contact"
        s.add(app)
        s.commit()
    body = {"action": "reject", "reason_code": "comparison_close_contact", "explanation": "The comparison lists the applicant as a close contact, so the pass cannot be green."}
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json=body, headers=login(api, "qingdao-issuer"))
    assert r.status_code == 200, r.text
    finish(seeded, clock, created["id"])
    (red,) = live_passes(seeded, created["id"])
    assert red.colour == "red"
    for d in both_ways(api, green):
        assert (d["result"], d["reasons"]) == ("DENY", ["superseded"])
    assert live_passes(seeded, first["id"]) == []


def test_r2_revoking_one_pass_revokes_every_live_pass_of_the_person(api, seeded, clock):
    first, green = green_case(api, seeded, clock)
    clock.advance(timedelta(hours=1))
    arrival = arrival_as_wang(api, clock)
    (yellow,) = live_passes(seeded, arrival["id"])
    with seeded.session() as s:  # two live passes, as data from before one-pass-per-person left them
        old = s.get(Pass, green.id)
        old.revoked_at = old.revoke_reason = None
        s.add(old)
        s.commit()
    assert [d["result"] for d in both_ways(api, green)] == ["PASS", "PASS"]
    r = api.post(f"/api/v1/passes/{yellow.id}/revoke", json={"reason": "declaration found false"}, headers=login(api, "admin"))
    assert r.status_code == 200, r.text
    for p in (green, yellow):
        for d in both_ways(api, p):
            assert d["result"] == "DENY" and d["reasons"][0] == "revoked", d
    with seeded.session() as s:
        assert s.get(Pass, green.id).revoke_reason == "declaration found false"
    revoked_in_first = [e for e in events(seeded, first["id"]) if e.action == "pass_revoked" and e.reason == "declaration found false"]
    assert [(e.data["pass_id"], e.data["with_pass"]) for e in revoked_in_first] == [(green.id, yellow.id)]


def legacy_card(seeded, clock, id_number: str, issued_at: str, colour: str = "green"):
    text = f"card_name,name,id_type,id_number,colour,issued_at,region\nHealth Pass Card for Returned Overseas Students,王强,resident_id,{id_number},{colour},{issued_at},370202\n"
    with seeded.session() as s:
        report = import_legacy_cards(session=s, text=text, at=clock.now(), settings=seeded.settings)
        s.commit()
    assert report.imported == 1, report.rejected
    with seeded.session() as s:
        return s.get(Pass, report.cards[0].pass_id)


def test_r2_a_new_pass_supersedes_the_persons_imported_legacy_card(api, seeded, clock):
    card = legacy_card(seeded, clock, STANDARD_ID, "2026-03-02T10:00:00+08:00")
    assert [d["result"] for d in both_ways(api, card)] == ["PASS", "PASS"]
    other = legacy_card(seeded, clock, "370102199003070024", "2026-03-02T10:00:00+08:00")  # another person
    created, _ = green_case(api, seeded, clock)
    for d in both_ways(api, card):
        assert (d["result"], d["reasons"]) == ("DENY", ["superseded"])
    assert [d["result"] for d in both_ways(api, other)] == ["PASS", "PASS"]
    superseded = [e for e in events(seeded, created["id"]) if e.action == "pass_superseded"]
    assert [(e.data["pass_id"], e.data["case"]) for e in superseded] == [(card.id, None)]


def test_r2_an_old_card_imported_after_a_newer_pass_is_imported_superseded(api, seeded, clock):
    _, green = green_case(api, seeded, clock)
    card = legacy_card(seeded, clock, STANDARD_ID, "2026-02-28T10:00:00+08:00")
    for d in both_ways(api, card):
        assert (d["result"], d["reasons"]) == ("DENY", ["superseded"])
    assert [d["result"] for d in both_ways(api, green)] == ["PASS", "PASS"]


def race_issue_and_import(api, seeded, clock, issued_at: str) -> str:
    """Approve a new case of the person, then issue its pass and import a card of the same
    person in two threads that start together; returns the case id."""
    import threading

    created = submit(api, clock, "standard")
    task_id = to_audit(seeded, clock, created["id"])
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=login(api, "qingdao-issuer"))
    assert r.status_code == 200, r.text
    text = f"card_name,name,id_type,id_number,colour,issued_at,region\nHealth Pass Card for Returned Overseas Students,王强,resident_id,{STANDARD_ID},green,{issued_at},370202\n"
    barrier, errors = threading.Barrier(2), []

    def issue(s):
        workflow.finish(session=s, application=s.get(Application, created["id"]), at=clock.now(), settings=seeded.settings)

    def import_card(s):
        import_legacy_cards(session=s, text=text, at=clock.now(), settings=seeded.settings)

    def run(work):
        try:
            with seeded.session() as s:
                barrier.wait(timeout=10)
                work(s)
                s.commit()
        except Exception as exc:  # noqa: BLE001 - a thread's failure is reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in (issue, import_card)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    return created["id"]


def test_r2_a_pass_issued_while_a_card_of_the_same_person_is_imported_leaves_one_valid(api, seeded, clock):
    """Real concurrency: the flow issues the green pass while an operator imports an older card
    of the same person; in whatever order they commit, exactly one pass stays valid."""
    for round_ in range(3):
        clock.advance(timedelta(days=1))
        case_id = race_issue_and_import(api, seeded, clock, f"2026-03-0{round_ + 1}T08:00:00+08:00")
        with seeded.session() as s:
            live = s.exec(select(Pass).where(Pass.revoked_at == None, Pass.valid_until > clock.now())).all()
        assert [(p.application_id, p.colour) for p in live] == [(case_id, "green")], round_
