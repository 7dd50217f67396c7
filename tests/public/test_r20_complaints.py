"""R20: complaints from the public (no login, rate-limited) and the hotline: masked contact in
every view, a response deadline on the working calendar, an item in the provincial audit queue
(R21), closed with a response the complainant reads."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.complaints.models import Complaint, ComplaintEvent
from cases.models import CalendarOverride, ProvincialAuditItem, Role
from cases.seed import DEMO_PASSWORD, create_user
from tests.conftest import login
from tests.helpers import example

PHONE, NAME = "13812345678", "张三丰"
BODY = {"category": "extra_conditions", "region_code": "370102001001", "contact_name": NAME, "contact_phone": PHONE,
        "description": "The community asked for a negative test certificate before it would accept my declaration."}


def _cookie(api, username):
    from ui.pages import COOKIE

    api.cookies.clear()
    api.cookies.set(COOKIE, login(api, username)["Authorization"].removeprefix("Bearer "))


@pytest.fixture
def qingdao(seeded, clock):
    with seeded.session() as s:
        create_user(s, username="qingdao-supervisor", password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region="370200")
        s.commit()


def test_r20_anonymous_and_hotline_complaints_are_received(api, seeded, clock):
    case = api.post("/api/v1/applications", json={**example("standard", clock.now().date()), "community_code": "370102001001", "unit_code": None}).json()
    r = api.post("/api/v1/complaints", json={**BODY, "region_code": None, "case_reference": case["reference"]})
    assert r.status_code == 201, r.text
    online = r.json()
    assert online["reference"].startswith("CP") and online["complaint"]["channel"] == "online"
    assert online["complaint"]["region_code"] == "370102001001" and online["complaint"]["case_reference"] == case["reference"]
    # the complainant follows it with the token; without it, nothing
    assert api.get(f"/api/v1/complaints/{online['reference']}", headers={"X-Access-Token": online["access_token"]}).json()["status"] == "open"
    assert api.get(f"/api/v1/complaints/{online['reference']}").status_code == 404
    assert api.get(f"/api/v1/complaints/{online['reference']}", params={"access_token": "x" * 40}).status_code == 404
    # the hotline operator records a caller's complaint
    hotline = login(api, "hotline")
    r = api.post("/api/v1/hotline/complaints", headers=hotline, json={**BODY, "category": "rude", "region_code": "370102"})
    assert r.status_code == 201, r.text
    taken = api.get(f"/api/v1/complaints/{r.json()['reference']}", headers=hotline).json()
    assert (taken["channel"], taken["recorded_by"], taken["category"]) == ("hotline", "hotline", "rude")
    assert api.post("/api/v1/hotline/complaints", json=BODY).status_code == 401
    assert api.post("/api/v1/hotline/complaints", headers=login(api, "heping-issuer"), json=BODY).status_code == 403
    # both through the pages too
    page = api.post("/complaints/new", data={**BODY, "category": "refused"})
    assert page.status_code == 201 and "CP" in page.text
    _cookie(api, "hotline")
    form = api.get("/hotline")
    assert form.status_code == 200
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert api.post("/hotline", data={**BODY, "csrf_token": csrf}).status_code == 201
    assert api.post("/hotline", data=BODY).status_code == 403  # no CSRF token
    with seeded.session() as s:
        rows = s.exec(select(Complaint)).all()
        assert sorted(c.channel for c in rows) == ["hotline", "hotline", "online", "online"]
        assert all(s.exec(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id, ComplaintEvent.action == "received")).first() for c in rows)


def test_r20_case_reference_prefills_the_public_form(api, clock):
    page = api.get("/complaints/new", params={"case": "HP20260303-ABCD-EFGH"})
    assert page.status_code == 200 and 'value="HP20260303-ABCD-EFGH"' in page.text


def test_r20_contact_is_masked_in_every_view(api, seeded, qingdao):
    r = api.post("/api/v1/complaints", json=BODY)
    ref, token = r.json()["reference"], r.json()["access_token"]
    hotline = login(api, "hotline")
    taken = api.post("/api/v1/hotline/complaints", headers=hotline, json=BODY).json()
    lixia, province = login(api, "lixia-supervisor"), login(api, "province")
    views = [
        r.text,
        api.get(f"/api/v1/complaints/{ref}", params={"access_token": token}).text,
        api.get(f"/api/v1/complaints/{ref}", headers=lixia).text,
        api.get(f"/api/v1/complaints/{taken['reference']}", headers=hotline).text,
        api.get("/api/v1/complaints", headers=province).text,
        api.get("/api/v1/complaints.csv", headers=province).text,
        api.get("/api/v1/supervision/provincial-audit", headers=province).text,
        api.post(f"/api/v1/complaints/{ref}/close", headers=lixia, json={"response": "We called the community; no certificate is needed."}).text,
        api.get(f"/complaints/{ref}", params={"access_token": token}).text,
        api.post("/complaints/new", data=BODY).text,
    ]
    for who in ("province", "lixia-supervisor", "hotline"):
        _cookie(api, who)
        views += [api.get("/complaints").text, api.get(f"/complaints/{ref}").text]
    api.cookies.clear()
    for text in views:
        assert PHONE not in text and NAME not in text, text[:300]
    assert all("138****5678" in t for t in views[:6])
    assert api.get(f"/api/v1/complaints/{ref}", headers=lixia).json()["contact_name"] == "张*丰"


# (received at, expected due) with the default of 3 working days (3 × 7 h 30 min of working time,
# 08:30-12:00 and 13:30-17:30), on the State Council schedule (chinesecalendar) and provincial overrides.
DEADLINES = [
    ("2026-03-03 09:00", "2026-03-06 09:00", None),  # Tuesday -> Friday, same time
    ("2026-03-06 10:00", "2026-03-11 10:00", None),  # Friday: the weekend does not count
    ("2026-03-07 11:00", "2026-03-11 17:30", None),  # Saturday: counting starts Monday 08:30
    ("2026-03-03 18:30", "2026-03-06 17:30", None),  # after hours: counting starts Wednesday 08:30
    ("2025-09-30 10:00", "2025-10-11 10:00", None),  # National Day 1-8 Oct off; Sat 11 Oct is a working day
    ("2026-03-03 09:00", "2026-03-09 09:00", "2026-03-05"),  # a provincial day off (Thursday) moves it past the weekend
]


@pytest.mark.parametrize("received, due, day_off", DEADLINES)
def test_r20_complaint_deadline_on_the_working_calendar(sqlite_store, clock, received, due, day_off):
    from cases.complaints import service
    from cases.seed import load_regions

    at = datetime.strptime(received, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    with sqlite_store.session() as s:
        load_regions(s)
        if day_off:
            s.add(CalendarOverride(day=datetime.strptime(day_off, "%Y-%m-%d").date(), is_workday=False, reason="provincial day off", created_at=at))
            s.flush()
        r = service.receive(session=s, settings=sqlite_store.settings, at=at, category="delayed", region_code="370102", description="No answer for a week.")
        assert r.complaint.due_at.astimezone(SHANGHAI) == datetime.strptime(due, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def test_r20_complaint_deadline_is_configurable(api, seeded, clock, monkeypatch):
    monkeypatch.setattr(seeded.settings, "complaint_response_working_days", 1)
    r = api.post("/api/v1/complaints", json=BODY).json()
    assert datetime.fromisoformat(r["due_at"]) == datetime(2026, 3, 4, 9, 0, tzinfo=SHANGHAI)  # Tuesday 09:00 + 1 working day


def test_r20_complaint_is_an_item_of_the_provincial_audit_queue(api, seeded, clock):
    case = api.post("/api/v1/applications", json={**example("standard", clock.now().date()), "community_code": "370102001001", "unit_code": None}).json()
    with_case = api.post("/api/v1/complaints", json={**BODY, "case_reference": case["reference"]}).json()
    without = api.post("/api/v1/complaints", json={**BODY, "region_code": "370203"}).json()
    with seeded.session() as s:
        items = {i.id: i for i in s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "complaint"))}
        by_ref = {c.reference: c for c in s.exec(select(Complaint))}
    a, b = items[by_ref[with_case["reference"]].audit_item_id], items[by_ref[without["reference"]].audit_item_id]
    assert (a.application_id, a.region_code) == (case["id"], "370102001001")
    assert (b.application_id, b.region_code) == (None, "370203")
    assert with_case["reference"] in a.summary and PHONE not in a.summary and NAME not in a.summary
    queue = api.get("/api/v1/supervision/provincial-audit", headers=login(api, "province")).text
    assert with_case["reference"] in queue and without["reference"] in queue


def test_r20_closed_with_a_response_the_complainant_reads(api, seeded, clock, qingdao):
    r = api.post("/api/v1/complaints", json=BODY).json()
    ref, token = r["reference"], r["access_token"]
    answer = "We spoke to the community: no certificate is required; your declaration was accepted on 4 March."
    # outside the area: not even visible
    assert api.post(f"/api/v1/complaints/{ref}/close", headers=login(api, "qingdao-supervisor"), json={"response": answer}).status_code == 404
    assert api.get(f"/api/v1/complaints/{ref}", headers=login(api, "qingdao-supervisor")).status_code == 404
    assert api.post(f"/api/v1/complaints/{ref}/close", headers=login(api, "heping-issuer"), json={"response": answer}).status_code == 403
    assert api.post(f"/api/v1/complaints/{ref}/close", json={"response": answer}).status_code == 401
    clock.advance(timedelta(hours=5))
    lixia = login(api, "lixia-supervisor")
    closed = api.post(f"/api/v1/complaints/{ref}/close", headers=lixia, json={"response": answer})
    assert closed.status_code == 200, closed.text
    assert api.post(f"/api/v1/complaints/{ref}/close", headers=lixia, json={"response": answer}).status_code == 409
    mine = api.get(f"/api/v1/complaints/{ref}", params={"access_token": token}).json()
    assert mine["status"] == "closed" and mine["response"] == answer
    assert datetime.fromisoformat(mine["responded_at"]) == clock.now()
    page = api.get(f"/complaints/{ref}", params={"access_token": token})
    assert page.status_code == 200 and answer in page.text
    with seeded.session() as s:
        c = s.exec(select(Complaint).where(Complaint.reference == ref)).one()
        event = s.exec(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id, ComplaintEvent.action == "closed")).one()
        assert event.actor == "lixia-supervisor" and event.data == {"late": False}
    # the list and its CSV carry the same rows; the Qingdao supervisor sees none of Lixia's
    province = login(api, "province")
    table = api.get("/api/v1/complaints?status=closed", headers=province).json()["items"]
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/complaints.csv?status=closed", headers=province).text)))
    assert [r["reference"] for r in rows] == [t["reference"] for t in table] == [ref]
    assert api.get("/api/v1/complaints", headers=login(api, "qingdao-supervisor")).json()["total"] == 0
    assert api.get("/api/v1/complaints", headers=login(api, "jinan-supervisor")).json()["total"] == 1


def test_r20_a_supervisor_closes_through_the_page(api, seeded, clock):
    import re

    ref = api.post("/api/v1/complaints", json=BODY).json()["reference"]
    _cookie(api, "lixia-supervisor")
    page = api.get(f"/complaints/{ref}")
    assert page.status_code == 200 and "138****5678" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    short = api.post(f"/complaints/{ref}/close", data={"csrf_token": csrf, "response": "ok"})
    assert short.status_code == 422 and "response" in short.text
    done = api.post(f"/complaints/{ref}/close", data={"csrf_token": csrf, "response": "Answered by telephone on 3 March."}, follow_redirects=False)
    assert done.status_code == 303
    assert "Answered by telephone" in api.get(f"/complaints/{ref}").text
    api.cookies.clear()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r20_complaint_intake_is_rate_limited(api, seeded, monkeypatch):
    monkeypatch.setattr(seeded.settings, "rate_limit_complaints", 3)
    codes = [api.post("/api/v1/complaints", json=BODY).status_code for _ in range(3)]
    assert codes == [201, 201, 201]
    r = api.post("/api/v1/complaints", json=BODY)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert api.post("/complaints/new", data=BODY).status_code == 429  # the page shares the budget
    # the hotline's own route is not the public budget
    assert api.post("/api/v1/hotline/complaints", headers=login(api, "hotline"), json=BODY).status_code == 201


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r20_hostile_complaints_are_refused_with_4xx_naming_the_field(api, seeded, monkeypatch):
    monkeypatch.setattr(seeded.settings, "rate_limit_complaints", 0)  # the limit has its own test
    cases = [
        ({**BODY, "category": "bribery"}, "category"),
        ({**BODY, "region_code": "370100"}, "region_code"),  # a city is not a county or community
        ({**BODY, "region_code": "999999"}, "region_code"),
        ({**BODY, "region_code": "37010'; DROP"}, "region_code"),
        ({**BODY, "region_code": None}, "region_code"),
        ({**BODY, "case_reference": "HP20260303-0000-0000"}, "case_reference"),
        ({**BODY, "description": "short"}, "description"),
        ({**BODY, "description": "x" * 5000}, "description"),
        ({**BODY, "description": "null byte \x00 here and more text"}, "description"),
        ({**BODY, "contact_phone": "<script>alert(1)</script>"}, "contact_phone"),
        ({**BODY, "contact_name": "x" * 500}, "contact_name"),
        ({**BODY, "admin": True}, "admin"),
        ({k: v for k, v in BODY.items() if k != "description"}, "description"),
    ]
    for body, field in cases:
        r = api.post("/api/v1/complaints", json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert field in r.text, (field, r.text)
    assert api.post("/api/v1/complaints", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert api.post("/api/v1/complaints", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}).status_code == 413
    assert api.get("/api/v1/complaints/CP1' OR '1'='1").status_code in (404, 422)
    assert api.get("/api/v1/complaints", headers=login(api, "province"), params={"status": "everything"}).status_code == 422
    assert api.get("/api/v1/complaints", headers=login(api, "lixia-supervisor"), params={"region": "370202"}).status_code == 403
    # the page answers the same mistakes with the form and the message, never a 500
    page = api.post("/complaints/new", data={**BODY, "region_code": "370100"})
    assert page.status_code == 422 and "region_code" in page.text
    page = api.post("/complaints/new", data={**BODY, "description": "<script>alert(1)</script> long enough"})
    assert page.status_code == 201 and "<script>alert(1)</script>" not in page.text
    assert api.get("/complaints/CP-nothing").status_code == 404
    with seeded.session() as s:
        assert len(s.exec(select(Complaint)).all()) == 1
