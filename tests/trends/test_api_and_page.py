"""The trends API, its CSV and the page (issue 13): scope from the region tree (a county
supervisor sees its county and its communities, nothing else), CSV equal to the JSON and
to the page's table, 4xx naming the field for bad input, charts without JavaScript."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

from cases.clock import SHANGHAI
from tests.conftest import login
from tests.trends.support import JINAN, LIXIA, LIXIA_A, LIXIA_B, OTHER_COUNTY, PROVINCE, ROWS, TREE, roll, sh
from tests.ui.test_pages import sign_in

RANGE = {"from": "2026-03-02", "to": "2026-03-09"}


def decided_in(region: str) -> int:
    return sum(1 for r in ROWS if region in TREE[r.community] and date(2026, 3, 2) <= r.decided.astimezone(SHANGHAI).date() <= date(2026, 3, 9))


def test_r13_county_supervisor_sees_only_its_county(api, history):
    roll(history, date(2026, 3, 2), date(2026, 3, 9), now=sh(10, 9))
    lixia = login(api, "lixia-supervisor")
    r = api.get("/api/v1/supervision/trends", params=RANGE, headers=lixia)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["region"]["code"] == LIXIA and body["from"] == "2026-03-02" and body["to"] == "2026-03-09"
    assert body["total"]["decided"] == decided_in(LIXIA) and decided_in(LIXIA) < decided_in(JINAN)
    assert {c["region"]["code"] for c in body["children"]} >= {LIXIA_A, LIXIA_B}
    assert sum(c["total"]["decided"] for c in body["children"]) == decided_in(LIXIA)
    assert body["parents"] == []  # the city above is outside a county supervisor's area
    community = api.get("/api/v1/supervision/trends", params={**RANGE, "region": LIXIA_A}, headers=lixia)
    assert community.status_code == 200 and community.json()["total"]["decided"] == decided_in(LIXIA_A)
    assert [p["code"] for p in community.json()["parents"]] == [LIXIA]
    for outside in (OTHER_COUNTY, JINAN, "370202"):
        denied = api.get("/api/v1/supervision/trends", params={**RANGE, "region": outside}, headers=lixia)
        assert denied.status_code == 403, (outside, denied.text)
        assert api.get("/api/v1/supervision/trends.csv", params={**RANGE, "region": outside}, headers=lixia).status_code == 403
    head = login(api, "heping-head")
    assert api.get("/api/v1/supervision/trends", params={**RANGE, "region": LIXIA_B}, headers=head).status_code == 403
    # The city supervisor sees the county; the provincial office sees the province with its cities.
    jinan = api.get("/api/v1/supervision/trends", params={**RANGE, "region": LIXIA}, headers=login(api, "jinan-supervisor")).json()
    assert jinan["total"] == body["total"] and [p["code"] for p in jinan["parents"]] == [JINAN]
    province = api.get("/api/v1/supervision/trends", params=RANGE, headers=login(api, "province")).json()
    assert province["region"]["code"] == PROVINCE and province["total"]["decided"] == decided_in(PROVINCE)
    assert len(province["children"]) == 16


def test_trends_csv_equals_the_json_and_the_page_table(api, history):
    roll(history, date(2026, 3, 2), date(2026, 3, 9), now=sh(10, 9))
    headers = login(api, "jinan-supervisor")
    for granularity in ("day", "week"):
        params = {**RANGE, "granularity": granularity}
        data = api.get("/api/v1/supervision/trends", params=params, headers=headers).json()
        r = api.get("/api/v1/supervision/trends.csv", params=params, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == len(data["points"]) == (8 if granularity == "day" else 2)
        for row, point in zip(rows, data["points"]):
            assert row.pop("region") == JINAN
            assert row == {k: "" if v is None else str(v) for k, v in point.items()}

        sign_in(api, "jinan-supervisor")
        page = api.get("/supervisor/trends", params=params)
        assert page.status_code == 200
        assert page.text.count('<svg class="chart"') == 3
        table = page.text.split('id="trend-table"', 1)[1].split("</table>", 1)[0]
        body_rows = re.findall(r"<tr data-start=\"([^\"]+)\">(.*?)</tr>", table, re.S)
        assert [start for start, _ in body_rows] == [row["start"] for row in rows]
        for (_, cells), row in zip(body_rows, rows):
            values = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", cells, re.S)]
            counts = ["submitted", "decided", "approved", "rejected", "auto_issued", "decided_breached", "breaches", "complaints"]
            assert values[:8] == [row[c] for c in counts]
            for shown, key in zip(values[8:11], ("breach_rate", "auto_issue_rate", "rejection_rate")):
                assert shown == ("—" if row[key] == "" else f"{float(row[key]) * 100:.1f}%")
            assert values[11] == row["timed"]
            for shown, key in zip(values[12:14], ("median_hours", "p90_hours")):
                assert shown == ("—" if row[key] == "" else f"{float(row[key]):.2f}")
        assert "/api/v1/supervision/trends.csv?" in page.text  # the CSV link of the same numbers


def test_trends_bad_input_is_a_4xx_naming_the_field(api, history):
    headers = login(api, "jinan-supervisor")
    cases = [
        ({"from": "2026-03-09", "to": "2026-03-02"}, "to"),
        ({"granularity": "month"}, "granularity"),
        ({"from": "not-a-date"}, "from"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "from"),
        ({"region": "370199"}, "region"),
        ({"to": "9999-12-31"}, "to"),
    ]
    for params, field in cases:
        r = api.get("/api/v1/supervision/trends", params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert field in str(r.json()["detail"]), (params, r.text)
    sign_in(api, "jinan-supervisor")
    page = api.get("/supervisor/trends", params={"from": "2026-03-09", "to": "2026-03-02"})
    assert page.status_code == 422 and "before" in page.text


def test_trends_page_without_rollups_says_so(api, history):
    sign_in(api, "lixia-supervisor")
    page = api.get("/supervisor/trends", params=RANGE)
    assert page.status_code == 200
    assert "Not rolled up yet" in page.text and "8" in page.text
