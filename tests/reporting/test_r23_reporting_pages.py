"""R23 pages: the provincial office sees the notice's obligation per city and creates one; a
city supervisor submits their city's report through the form."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.reporting.models import CityReport, ReportingObligation
from tests.ui.test_pages import csrf, sign_in, text_of


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r23_province_page_shows_states_and_creates_an_obligation(api, seeded, clock):
    sign_in(api, "province")
    page = api.get("/province/reporting")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Implementation of the notice" in words and "2020-03-06" in words
    assert "Liaocheng" in words and "Missing" in words and "Late" in words  # the seeded history
    assert "/api/v1/reporting/obligations/1.csv" in page.text
    token = csrf(api, "/province/reporting")
    bad = api.post("/province/reporting/obligations", data={"csrf_token": token, "title": "Weekly", "due": "soon"}, follow_redirects=False)
    assert bad.status_code == 422 and "due:" in text_of(bad.text) and 'value="Weekly"' in bad.text
    ok = api.post("/province/reporting/obligations", data={"csrf_token": token, "title": "Weekly", "due": "2026-03-10", "cities": ["370100", "370200"]}, follow_redirects=False)
    assert ok.status_code == 303
    with seeded.session() as s:
        ob = s.exec(select(ReportingObligation).where(ReportingObligation.title == "Weekly")).one()
    assert ob.due_at.astimezone(SHANGHAI) == datetime(2026, 3, 10, 23, 59, 59, tzinfo=SHANGHAI)
    assert api.post("/province/reporting/obligations", data={"title": "no token", "due": "2026-03-10"}).status_code == 403
    # A city supervisor is not the provincial office.
    sign_in(api, "jinan-supervisor")
    assert api.get("/province/reporting").status_code == 403


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r23_city_supervisor_submits_through_the_form(api, seeded, clock):
    from cases.reporting.service import create_obligation

    with seeded.session() as s:
        ob_id = create_obligation(session=s, user=None, actor="test", title="March report", due="2026-03-05", cities=["370100"], at=clock.now()).id
        s.commit()
    sign_in(api, "jinan-supervisor")
    page = api.get(f"/city/reporting?obligation={ob_id}")
    assert page.status_code == 200 and "March report" in page.text and 'name="county_370102"' in page.text
    token = csrf(api, f"/city/reporting?obligation={ob_id}")
    bad = api.post(f"/city/reporting/{ob_id}", data={"csrf_token": token, "status": "implemented", "implementation": "done", "city_numbers": "call us"}, follow_redirects=False)
    assert bad.status_code == 422 and "not a telephone number" in text_of(bad.text)
    ok = api.post(f"/city/reporting/{ob_id}", data={"csrf_token": token, "status": "implemented", "implementation": "Forwarded to every county.",
                                                   "city_numbers": "0531-12345", "county_370102": "0531-12345, 0531-67890"}, follow_redirects=False)
    assert ok.status_code == 303
    with seeded.session() as s:
        report = s.exec(select(CityReport).where(CityReport.obligation_id == ob_id)).one()
    assert report.city_code == "370100" and report.county_numbers == {"370102": ["0531-12345", "0531-67890"]}
    assert "On time" in text_of(api.get(f"/city/reporting?obligation={ob_id}").text)
    # A county supervisor has no city report to submit.
    sign_in(api, "lixia-supervisor")
    assert api.get("/city/reporting").status_code == 403
