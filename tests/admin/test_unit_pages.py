"""R17: the unit's page — bulk CSV application with a per-row result, refusals with reasons,
the unit's cases by state (paged, CSV) — and the unit API's new read routes."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlmodel import select

from cases.admin.models import AdminEvent
from cases.models import Application, CaseEvent, ProvincialAuditItem
from tests.conftest import login
from tests.helpers import example
from tests.ui.test_pages import csrf, sign_in, text_of

UNIT = "U370102001"


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    header = ["kind", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code", "residence_history", "temperature"]
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return out.getvalue().encode()


def _row(today, **changes) -> dict:
    e = example("standard", today)
    row = {"kind": "standard", "name": e["name"], "id_type": "resident_id", "id_number": e["id_number"], "phone": e["phone"], "nationality": "CHN",
           "address": e["address"], "community_code": e["community_code"], "residence_history": json.dumps(e["residence_history"], default=str), "temperature": "36.5"}
    return row | changes


def _upload(api, body: bytes, token: str | None = None):
    token = token or csrf(api, "/unit")
    return api.post("/unit/upload", data={"csrf_token": token}, files={"file": ("staff.csv", body, "text/csv")})


# Each row in its own savepoint: the same result on both stores.
@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_r17_unit_uploads_employees_one_bad_row_does_not_stop_the_others(api, seeded, clock):
    today = clock.now().date()
    assert api.get("/unit", follow_redirects=False).headers["location"].startswith("/login")
    assert sign_in(api, "unit-hr").headers["location"] == "/unit"  # a unit lands on its own page
    page = api.get("/unit")
    assert page.status_code == 200 and "/unit/template.csv" in page.text and 'name="file"' in page.text
    template = api.get("/unit/template.csv")
    assert template.status_code == 200 and template.text.lstrip("\ufeff").startswith("kind,name,id_type,id_number")

    body = _csv([_row(today, name="王一"), _row(today, name="王二", id_number="370102198001010032", temperature="hot"),
                 _row(today, name="王三", id_number="370102198001010058", phone="13800000003")])
    r = _upload(api, body)
    assert r.status_code == 200, text_of(r.text)[:500]
    words = text_of(r.text)
    assert "Accepted: 2" in words and "Refused: 1" in words, words[words.find("Result of"):][:800]
    assert "王二" in words and "temperature: not a number: 'hot'" in words
    with seeded.session() as s:
        stored = s.exec(select(Application).where(Application.unit_code == UNIT)).all()
    assert len(stored) == 2 and {a.channel.value for a in stored} == {"unit"}
    for a in stored:
        assert a.reference in r.text  # each accepted row names its case

    # A file that is not a CSV of employees: the form again, naming the file, nothing stored.
    bad = _upload(api, b"just words\n")
    assert bad.status_code == 422 and "file: the header lacks the columns" in text_of(bad.text)
    empty = _upload(api, b"")
    assert empty.status_code == 422 and "file: choose a CSV file" in text_of(empty.text)
    too_many = _upload(api, _csv([_row(today, name=f"员工{i}") for i in range(501)]))
    assert too_many.status_code == 422 and "file: at most 500 rows per upload" in text_of(too_many.text)
    too_big = _upload(api, _csv([_row(today, address="路" * 1500) for _ in range(200)]))  # ~950 kB
    assert too_big.status_code == 422 and "file: at most 900 kB per upload" in text_of(too_big.text)
    # No CSRF token: refused.
    assert api.post("/unit/upload", files={"file": ("staff.csv", body, "text/csv")}).status_code == 403
    # Not a unit: refused.
    sign_in(api, "qingdao-issuer")
    assert api.get("/unit").status_code == 403


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r17_unit_refusal_needs_a_reason_is_listed_and_evented(api, seeded, clock):
    sign_in(api, "unit-hr")
    _upload(api, _csv([_row(clock.now().date(), name="李四")]))
    with seeded.session() as s:
        case = s.exec(select(Application).where(Application.unit_code == UNIT)).one()
    token = csrf(api, "/unit")
    short = api.post("/unit/refusals", data={"csrf_token": token, "employee_name": "李四", "reason": "no"}, follow_redirects=False)
    assert short.status_code == 422 and "reason: a justifiable reason" in text_of(short.text) and 'value="李四"' in short.text
    foreign = api.post("/unit/refusals", data={"csrf_token": token, "employee_name": "李四", "case_reference": "NOPE-1", "reason": "She left the company on 1 March."},
                       follow_redirects=False)
    assert foreign.status_code == 422 and "case_reference: NOPE-1 is not a case of your unit" in text_of(foreign.text)
    ok = api.post("/unit/refusals", data={"csrf_token": token, "employee_name": "李四", "case_reference": case.reference,
                                          "reason": "She left the company on 1 March and no longer works here."}, follow_redirects=False)
    assert ok.status_code == 303
    words = text_of(api.get("/unit").text)
    assert "declined to apply for 李四: She left the company on 1 March" in words
    with seeded.session() as s:
        item = s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "unit_refusal")).one()
        assert item.responsible_code == UNIT and item.application_id == case.id
        event = s.exec(select(CaseEvent).where(CaseEvent.application_id == case.id, CaseEvent.action == "unit_refusal")).one()
        assert event.actor == "unit-hr" and "left the company" in event.reason
        assert s.exec(select(AdminEvent).where(AdminEvent.action == "unit_refusal")).one().target == UNIT
    # The API lists the same refusal.
    headers = login(api, "unit-hr")
    assert [r["application_id"] for r in api.get("/api/v1/units/refusals", headers=headers).json()] == [case.id]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r17_unit_sees_its_cases_by_state_paged_and_as_csv(api, seeded, clock):
    today = clock.now().date()
    sign_in(api, "unit-hr")
    up = _upload(api, _csv([_row(today, name="赵一"), _row(today, name="赵二", id_number="370102198001010074", phone="13800000002")]))
    assert "Refused: 0" in text_of(up.text), text_of(up.text)[:3000]
    page = api.get("/unit/cases")
    words = text_of(page.text)
    assert page.status_code == 200 and "赵一" in words and "赵二" in words and "(2)" in words
    assert "赵一" not in text_of(api.get("/unit/cases?status=rejected").text)
    assert "赵一" in text_of(api.get("/unit/cases?status=submitted").text)
    assert api.get("/unit/cases?page=abc&status=nonsense").status_code == 200
    assert "赵一" not in text_of(api.get("/unit/cases?page=2").text)
    rows = list(csv.DictReader(io.StringIO(api.get("/unit/cases.csv").text)))
    assert {r["name"] for r in rows} == {"赵一", "赵二"} and {r["status"] for r in rows} == {"submitted"}
    headers = login(api, "unit-hr")
    listed = api.get("/api/v1/units/cases", params={"per_page": 1}, headers=headers).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    assert api.get("/api/v1/units/cases", params={"status": "bogus"}, headers=headers).status_code == 422
    # Another role's token: refused.
    assert api.get("/api/v1/units/cases", headers=login(api, "qingdao-issuer")).status_code == 403
