"""R21: every source feeds the provincial audit queue, once. SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlmodel import select

from cases.models import ComparisonRecord, ProvincialAuditItem
from cases.services import roster
from cases.services.oversight import THIN_RULES
from tests.conftest import login
from tests.oversight.support import breached_case, decide, items, local, open_case, sweep


def test_r21_breach_raises_one_audit_item_held_by_the_community(seeded, clock):
    app_id, _ = breached_case(seeded, clock)
    clock.set(local("2026-03-03 16:45"))
    sweep(seeded, clock)  # nothing new fires; the item is not raised twice
    with seeded.session() as s:
        found = items(s, "breach")
    assert len(found) == 1
    item = found[0]
    assert item.application_id == app_id and item.responsible_kind == "community" and item.responsible_code == "370202001001"
    assert item.source_key == f"breach:{app_id}" and item.outcome is None and not item.thin


def test_r21_auto_issue_raises_an_audit_item(seeded, clock):
    app_id, _ = breached_case(seeded, clock)
    clock.set(local("2026-03-04 09:30"))
    assert sweep(seeded, clock) == {"auto_issue": 1}
    clock.set(local("2026-03-05 09:30"))
    sweep(seeded, clock)
    with seeded.session() as s:
        found = items(s, "auto_issue")
        assert [(i.application_id, i.responsible_code) for i in found] == [(app_id, "370202001001")]
        assert {i.kind for i in items(s)} == {"breach", "auto_issue"}


def test_r21_rejection_for_false_declaration_without_comparison_hit_is_flagged_thin(seeded, clock):
    app_id, task_id = open_case(seeded, clock)
    decide(seeded, clock, task_id, "reject", reason_code="false_declaration", explanation="The applicant did not declare the trip to Wuhan.")
    with seeded.session() as s:
        (item,) = items(s, "rejection")
    assert item.application_id == app_id and item.thin is True
    assert "comparison found nothing" in item.thin_reason


def test_r21_rejection_backed_by_a_comparison_hit_is_not_thin(seeded, clock):
    app_id, task_id = open_case(seeded, clock)
    with seeded.session() as s:
        record = s.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app_id)).one()
        record.hits = [{"source": "roaming", "source_version": "1", "record_key": "k1", "kind": "roaming", "outcome": "mismatch", "explanation": "roaming shows Wuhan, not declared"}]
        s.add(record)
        s.commit()
    decide(seeded, clock, task_id, "reject", reason_code="false_declaration", explanation="Roaming records show Wuhan on 20 February, not declared.")
    with seeded.session() as s:
        (item,) = items(s, "rejection")
    assert item.thin is False and item.thin_reason is None


def test_r21_r19_identity_rejection_after_one_contact_attempt_is_thin(seeded, clock):
    _, task_id = open_case(seeded, clock)
    from cases.services import audit
    from tests.oversight.support import user

    with seeded.session() as s:
        issuer = user(s, "qingdao-issuer")
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        audit.decide(session=s, task_id=task_id, user=issuer, action="verify_contact", contact_method="phone", explanation="No answer.", at=clock.now(), settings=seeded.settings)
        audit.decide(session=s, task_id=task_id, user=issuer, action="reject", reason_code="identity_not_established", explanation="Could not reach the applicant.", at=clock.now(), settings=seeded.settings)
        s.commit()
        (item,) = items(s, "rejection")
    assert item.thin is True and "contact attempts" in item.thin_reason


def test_r21_supplement_pause_raises_an_audit_item(seeded, clock):
    app_id, task_id = open_case(seeded, clock)
    decide(seeded, clock, task_id, "request_supplement", missing_items=["arrival ticket"])
    with seeded.session() as s:
        (item,) = items(s, "supplement_pause")
    assert item.application_id == app_id and item.responsible_code == "370202001001" and "arrival ticket" in item.summary


def test_r21_r17_unit_refusal_raises_an_item_against_the_unit(api, seeded, clock):
    headers = login(api, "unit-hr")
    r = api.post("/api/v1/units/refusals", headers=headers, json={"employee_name": "张三", "reason": "He left the company on 1 March and no longer works here."})
    assert r.status_code == 201, r.text
    with seeded.session() as s:
        (item,) = items(s, "unit_refusal")
    assert item.responsible_kind == "unit" and item.responsible_code == "U370102001" and "张三" in item.summary


def test_r21_r18_roster_gap_raises_one_item_per_community_and_day(seeded, clock):
    clock.set(local("2026-03-03 10:30"))
    with seeded.session() as s:
        gaps = roster.gaps(session=s, at=clock.now())
        roster.notify_gaps(session=s, at=clock.now(), settings=seeded.settings)
        s.commit()
        clock.set(local("2026-03-03 11:30"))
        roster.notify_gaps(session=s, at=clock.now(), settings=seeded.settings)
        s.commit()
        found = items(s, "roster_gap")
    assert gaps and sorted(i.responsible_code for i in found) == sorted(g["community"] for g in gaps)
    clock.set(local("2026-03-04 10:30"))
    with seeded.session() as s:
        roster.notify_gaps(session=s, at=clock.now(), settings=seeded.settings)
        s.commit()
        assert len(items(s, "roster_gap")) == 2 * len(found)  # the next day's gaps are new items


def test_r21_complaint_rows_of_the_intake_are_listed_with_their_area(api, seeded, clock):
    with seeded.session() as s:
        s.add(ProvincialAuditItem(kind="complaint", region_code="370202001001", summary="Refused without a reason", created_at=clock.now()))
        s.commit()
    r = api.get("/api/v1/province/audit-items", params={"kind": "complaint", "area": "370200"}, headers=login(api, "province"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["items"][0]["responsible_code"] == "370202001001" and body["items"][0]["status"] == "open"
    r = api.get("/api/v1/province/audit-items", params={"kind": "complaint", "area": "370100"}, headers=login(api, "province"))
    assert r.json()["total"] == 0


BACKING = {
    "false_declaration": {"hits": [{"source": "roaming", "outcome": "mismatch"}], "attempts": 0},
    "comparison_confirmed": {"hits": [{"source": "confirmed_cases", "outcome": "confirmed"}], "attempts": 0},
    "comparison_close_contact": {"hits": [{"source": "close_contacts", "outcome": "close_contact"}], "attempts": 0},
    "identity_not_established": {"hits": [], "attempts": 2},
}


@pytest.mark.parametrize("backed", [False, True], ids=["unbacked", "backed"])
@pytest.mark.parametrize("reason", sorted(THIN_RULES))
def test_r21_each_thin_rule_flags_a_rejection_the_record_does_not_back(seeded, clock, reason, backed):
    """Every row of the THIN_RULES table: thin without its record, not thin with it."""
    from cases.services import audit
    from tests.oversight.support import user

    app_id, task_id = open_case(seeded, clock)
    need = BACKING[reason]
    with seeded.session() as s:
        if backed:
            record = s.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app_id)).one()
            record.hits = [{"record_key": "k", "kind": "x", "explanation": "matched", "source_version": "1", **h} for h in need["hits"]]
            s.add(record)
        issuer = user(s, "qingdao-issuer")
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        for n in range(need["attempts"] if backed else min(need["attempts"], 1)):
            audit.decide(session=s, task_id=task_id, user=issuer, action="verify_contact", contact_method="phone", explanation=f"Call {n + 1}: no answer.", at=clock.now(), settings=seeded.settings)
        audit.decide(session=s, task_id=task_id, user=issuer, action="reject", reason_code=reason, explanation="The record shows this; see the comparison.", at=clock.now(), settings=seeded.settings)
        s.commit()
        (item,) = items(s, "rejection")
    assert item.thin is (not backed)
    assert (item.thin_reason is None) is backed
