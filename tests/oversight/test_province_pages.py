"""The provincial office's pages (R21, R22): queue, item with evidence and its forms, league,
thresholds; CSV links with the table's rows; case links to the staff view; auditors and admins only."""
from __future__ import annotations

import csv
import io

from tests.oversight.support import breached_case, decide, items, open_case
from tests.ui.test_pages import csrf, sign_in, text_of


def test_r21_auditor_works_an_item_from_the_pages(api, seeded, clock):
    app_id, _ = breached_case(seeded, clock)
    with seeded.session() as s:
        (item,) = items(s, "breach")
    assert sign_in(api, "province").status_code == 303
    queue = api.get("/province/audit")
    assert queue.status_code == 200
    assert f'href="/staff/cases/{app_id}"' in queue.text and f'href="/cases/{app_id}"' not in queue.text
    assert f'href="/province/audit/{item.id}"' in queue.text
    rows = list(csv.DictReader(io.StringIO(api.get("/province/audit.csv").text)))
    assert [int(r["id"]) for r in rows] == [item.id]
    page = api.get(f"/province/audit/{item.id}")
    assert "sla_breach" in page.text and "370202001001" in page.text
    token = csrf(api, f"/province/audit/{item.id}")
    r = api.post(f"/province/audit/{item.id}/claim", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    r = api.post(f"/province/audit/{item.id}/outcome", data={"csrf_token": token, "outcome": "prevarication", "note": "x"})
    assert r.status_code == 422 and "note" in text_of(r.text)
    r = api.post(f"/province/audit/{item.id}/outcome", data={"csrf_token": token, "outcome": "prevarication", "note": "Idle all afternoon."}, follow_redirects=False)
    assert r.status_code == 303
    assert "prevarication" in text_of(api.get(f"/province/audit/{item.id}").text)
    r = api.post(f"/province/audit/{item.id}/reopen", data={"csrf_token": token, "note": "Sick leave to check."}, follow_redirects=False)
    assert r.status_code == 303
    with seeded.session() as s:
        (item,) = items(s, "breach")
    assert item.reopened_count == 1 and item.outcome is None
    assert api.post(f"/province/audit/{item.id}/claim", data={"csrf_token": "0" * 64}).status_code == 403  # CSRF


def test_r21_r22_league_and_threshold_pages_and_their_csv(api, seeded, clock):
    _, task_id = open_case(seeded, clock)
    decide(seeded, clock, task_id, "reject", reason_code="false_declaration", explanation="Did not declare the trip to Wuhan.")
    sign_in(api, "province")
    league = api.get("/province/league", params={"level": "county", "sort": "rejections", "order": "desc"})
    assert league.status_code == 200
    rows = list(csv.DictReader(io.StringIO(api.get("/province/league.csv", params={"level": "county", "sort": "rejections", "order": "desc"}).text)))
    assert rows[0]["area_code"] == "370202" and rows[0]["rejections"] == "1" and rows[0]["rejection_rate"] == "1.0"
    assert league.text.index("370202") < league.text.index("370102")
    assert api.get("/province/thresholds").status_code == 200
    assert api.get("/province/thresholds.csv").text.startswith("id,rule,")
    assert "thin" in api.get("/province/audit", params={"thin": "yes"}).text


def test_r21_pages_are_for_auditors_and_admins_only(api, seeded, clock):
    assert api.get("/province/audit", follow_redirects=False).status_code == 303  # sign in first
    sign_in(api, "jinan-supervisor")
    for path in ("/province/audit", "/province/league", "/province/thresholds", "/province/audit.csv", "/province/league.csv", "/province/thresholds.csv"):
        assert api.get(path).status_code == 403, path
    sign_in(api, "admin")
    assert api.get("/province/league").status_code == 200


def test_r21_pages_answer_bad_filters_with_4xx_naming_them(api, seeded, clock):
    sign_in(api, "province")
    r = api.get("/province/league", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert r.status_code == 422 and "to must not be before from" in text_of(r.text)
    r = api.get("/province/league", params={"area": "999999"})
    assert r.status_code == 422 and "unknown region 999999" in text_of(r.text)
    assert api.get("/province/audit", params={"status": "lost"}).status_code == 422
    assert api.get("/province/audit/999999").status_code == 404
