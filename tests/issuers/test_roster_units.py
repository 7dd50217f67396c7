"""Roster (R18) and unit submissions and refusals (R17)."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from cases.clock import SHANGHAI
from cases.models import Application, Notification, ProvincialAuditItem
from cases.services import roster
from tests.conftest import login
from tests.helpers import example


def test_r18_community_without_signed_in_issuer_is_reported(api, seeded, clock):
    sup = login(api, "lixia-supervisor")
    before = {g["community"]: g["gap"] for g in api.get("/api/v1/roster/gaps", headers=sup).json()}
    assert before["370102001001"] == "no_issuer_signed_in"
    assert all(code.startswith("370102") for code in before)  # a county supervisor sees their county
    issuer = login(api, "heping-issuer")
    assert api.post("/api/v1/issuers/sign-in", headers=issuer).status_code == 200
    after = {g["community"] for g in api.get("/api/v1/roster/gaps", headers=sup).json()}
    assert "370102001001" not in after
    province = login(api, "province")
    assert len(api.get("/api/v1/roster/gaps", headers=province).json()) > len(after)


def test_r18_gap_becomes_a_notification_once_a_day(seeded, clock):
    clock.set(datetime(2026, 3, 3, 10, 30, tzinfo=SHANGHAI))
    with seeded.session() as s:
        first = roster.notify_gaps(session=s, at=clock.now(), settings=seeded.settings)
        s.commit()
        again = roster.notify_gaps(session=s, at=clock.now(), settings=seeded.settings)
        s.commit()
        assert first > 0 and again == 0
        county = s.exec(select(Notification).where(Notification.kind == "roster_gap", Notification.recipient_code == "370102")).all()
        assert county and "R18" in county[0].message


def test_r17_unit_submits_in_bulk_each_row_its_own_case(api, seeded, clock):
    hr = login(api, "unit-hr")
    good = example("standard", clock.now().date())
    bad = {**good, "id_number": "370202198511200114"}
    r = api.post("/api/v1/units/applications", json=[good, bad], headers=hr)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["status"] == "created" and results[1]["status"] == "invalid"
    assert any("id_number" in e["loc"] for e in results[1]["errors"])
    with seeded.session() as s:
        apps = s.exec(select(Application)).all()
        assert len(apps) == 1 and apps[0].channel == "unit" and apps[0].unit_code == "U370102001"


def test_r17_unit_refusal_needs_a_reason_and_is_audited(api, seeded):
    hr = login(api, "unit-hr")
    assert api.post("/api/v1/units/refusals", json={"employee_name": "张三", "reason": "no"}, headers=hr).status_code == 422
    ok = api.post("/api/v1/units/refusals", json={"employee_name": "张三", "reason": "He left the company on 1 March and no longer works here."}, headers=hr)
    assert ok.status_code == 201
    with seeded.session() as s:
        items = s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "unit_refusal")).all()
        assert len(items) == 1 and "left the company" in items[0].summary
    issuer = login(api, "heping-issuer")
    assert api.post("/api/v1/units/refusals", json={"employee_name": "张三", "reason": "x" * 30}, headers=issuer).status_code == 403
