"""The league table (sortable, period chosen, CSV equal to the table) and R22's thresholds:
each fires once per area and period, and not again while the area stays over. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlmodel import select

from cases.models import Application, Notification, ProvincialAuditItem
from cases.oversight.models import ThresholdAlert
from cases.services import oversight
from tests.conftest import login
from tests.oversight.support import local
from tests.sla_store.sla_support import bulk_cases

JINAN = {"community": "370102001001", "county": "370102", "city": "370100"}


def _cases(s, n, at, *, breached=0, auto=0, rejected=0, approved=0, **where):
    """n cases submitted at `at`; the first `breached` breached 6 hours later, and decisions in order."""
    ids = bulk_cases(s, n, at=at, **where)
    for i, app_id in enumerate(ids):
        app = s.get(Application, app_id)
        if i < breached:
            app.breached_at = at + timedelta(hours=6)
        decision = (["auto_issue"] * auto + ["reject"] * rejected + ["approve"] * approved + [None] * n)[i]
        if decision:
            app.decision, app.decided_at = decision, at + timedelta(hours=7)
        s.add(app)
    return ids


@pytest.fixture
def history(seeded, clock):
    """Qingdao: 10 cases this week (3 breached, 2 auto-issued, 1 rejected, 1 approved) and 5 in
    February; Jinan: 4 cases (2 breached) and one complaint."""
    with seeded.session() as s:
        _cases(s, 10, local("2026-03-02 10:00"), breached=3, auto=2, rejected=1, approved=1)
        _cases(s, 5, local("2026-02-02 10:00"), breached=5)
        _cases(s, 4, local("2026-03-02 11:00"), breached=2, **JINAN)
        s.add(ProvincialAuditItem(kind="complaint", region_code="370102001001", summary="Asked for a health certificate", created_at=local("2026-03-02 12:00")))
        s.commit()
    return seeded


def _league(api, headers, **params):
    r = api.get("/api/v1/province/league", headers=headers, params={"from": "2026-03-01", "to": "2026-03-03", **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_r21_league_table_counts_rates_in_the_chosen_period(api, history):
    headers = login(api, "province")
    rows = {r["area_code"]: r for r in _league(api, headers, level="city", limit=100)["rows"]}
    assert len(rows) == 16
    qd, jn = rows["370200"], rows["370100"]
    assert (qd["cases"], qd["breaches"], qd["breach_rate"], qd["auto_issued"], qd["auto_issue_rate"]) == (10, 3, 0.3, 2, 0.2)
    assert (qd["decided"], qd["rejections"], qd["rejection_rate"], qd["complaints"]) == (4, 1, 0.25, 0)
    assert (jn["cases"], jn["breaches"], jn["breach_rate"], jn["complaints"]) == (4, 2, 0.5, 1)
    february = {r["area_code"]: r for r in _league(api, headers, level="city", **{"from": "2026-02-01", "to": "2026-02-28"})["rows"]}
    assert february["370200"]["cases"] == 5 and february["370200"]["breach_rate"] == 1.0
    counties = {r["area_code"]: r for r in _league(api, headers, level="county", area="370100", limit=1000)["rows"]}
    assert counties["370102"]["breaches"] == 2 and all(code.startswith("3701") for code in counties)


def test_r21_league_table_sorts_by_any_column(api, history):
    headers = login(api, "province")
    by_rate = _league(api, headers, sort="breach_rate", order="desc")["rows"]
    assert [r["area_code"] for r in by_rate[:2]] == ["370100", "370200"]
    by_cases = _league(api, headers, sort="cases", order="desc")["rows"]
    assert [r["area_code"] for r in by_cases[:2]] == ["370200", "370100"]
    by_code = _league(api, headers, sort="area_code", order="asc")["rows"]
    assert [r["area_code"] for r in by_code] == sorted(r["area_code"] for r in by_code)
    r = api.get("/api/v1/province/league", headers=headers, params={"sort": "salary"})
    assert r.status_code == 422 and "sort" in r.text


def test_r21_league_and_queue_csv_equal_their_tables(api, history):
    headers = login(api, "province")
    params = {"level": "county", "from": "2026-03-01", "to": "2026-03-03", "sort": "breaches", "order": "desc"}
    table = api.get("/api/v1/province/league", headers=headers, params={**params, "limit": 1000}).json()["rows"]
    r = api.get("/api/v1/province/league.csv", headers=headers, params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["area_code"] for row in rows] == [t["area_code"] for t in table]
    for row, t in zip(rows, table):
        assert {k: row[k] for k in oversight.LEAGUE_COLUMNS} == {k: str(t[k]) for k in oversight.LEAGUE_COLUMNS}
    queue = api.get("/api/v1/province/audit-items", headers=headers, params={"limit": 1000}).json()["items"]
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/province/audit-items.csv", headers=headers).text)))
    assert [int(r["id"]) for r in rows] == [i["id"] for i in queue] and [r["summary"] for r in rows] == [i["summary"] for i in queue]


def _alerts(seeded):
    with seeded.session() as s:
        return sorted((a.rule, a.area_code, a.period_start.isoformat()) for a in s.exec(select(ThresholdAlert)))


def _leading_group_notices(seeded):
    with seeded.session() as s:
        return list(s.exec(select(Notification).where(Notification.recipient_level == "province_leading_group", Notification.kind == "threshold_exceeded")))


def _sweep_step(seeded, clock):
    with seeded.session() as s:
        return oversight.thresholds_if_due(session=s, now=clock.now(), settings=seeded.settings)


def _evaluate(seeded, clock):
    with seeded.session() as s:
        return oversight.evaluate_thresholds(session=s, now=clock.now(), settings=seeded.settings)


def test_r22_breach_rate_threshold_fires_once_per_area_and_period(seeded, clock):
    with seeded.session() as s:
        _cases(s, 25, local("2026-03-02 10:00"), breached=10)  # 40 % > 20 %
        _cases(s, 25, local("2026-03-02 10:00"), breached=1, **JINAN)  # 4 %: under
        s.commit()
    assert len(_evaluate(seeded, clock)) == 2
    assert _alerts(seeded) == [("breach_rate_7d", "370200", "2026-03-02"), ("breach_rate_7d", "370202", "2026-03-02")]
    notices = _leading_group_notices(seeded)
    assert len(notices) == 2 and all(n.recipient_code == "370000" and "R22" in n.message for n in notices)
    clock.set(local("2026-03-05 15:00"))  # still over, same period: no repeat
    assert _evaluate(seeded, clock) == [] and len(_leading_group_notices(seeded)) == 2
    clock.set(local("2026-03-09 15:00"))  # next period, and still over in the last 7 days
    with seeded.session() as s:
        _cases(s, 25, local("2026-03-09 09:00"), breached=25)
        s.commit()
    assert {(a.rule, a.area_code, a.period_start.isoformat()) for a in _evaluate(seeded, clock)} == {("breach_rate_7d", "370200", "2026-03-09"), ("breach_rate_7d", "370202", "2026-03-09")}


def test_r22_upheld_findings_threshold_fires_once_per_area_and_period(seeded, clock):
    with seeded.session() as s:
        for i in range(4):  # 4 > 3 upheld findings against one Qingdao community
            s.add(ProvincialAuditItem(kind="breach", responsible_kind="community", responsible_code="370202001001", region_code="370202001001", summary=f"finding {i}",
                                      created_at=local("2026-03-02 10:00"), outcome="prevarication", closed_at=local("2026-03-02 11:00")))
        s.commit()
    assert {(a.rule, a.area_code) for a in _evaluate(seeded, clock)} == {("upheld_findings_30d", "370200"), ("upheld_findings_30d", "370202")}
    with seeded.session() as s:
        s.add(ProvincialAuditItem(kind="breach", responsible_code="370202001001", summary="fifth", created_at=clock.now(), outcome="prevarication", closed_at=clock.now()))
        s.commit()
    clock.set(local("2026-03-03 16:00"))
    assert _evaluate(seeded, clock) == []
    assert len(_leading_group_notices(seeded)) == 2


def test_r22_complaints_per_thousand_threshold_fires_once_per_area_and_period(seeded, clock):
    with seeded.session() as s:
        _cases(s, 25, local("2026-03-02 10:00"), **JINAN)
        s.add(ProvincialAuditItem(kind="complaint", region_code="370102", summary="rude", created_at=local("2026-03-02 12:00")))  # 40 per 1,000 > 10
        s.commit()
    assert {(a.rule, a.area_code) for a in _evaluate(seeded, clock)} == {("complaints_per_1000_30d", "370100"), ("complaints_per_1000_30d", "370102")}
    assert _evaluate(seeded, clock) == []
    with seeded.session() as s:
        alert = s.exec(select(ThresholdAlert).where(ThresholdAlert.area_code == "370102")).one()
        assert alert.value == 40.0 and alert.threshold == 10.0 and alert.cases == 25


def test_r22_the_sweep_step_evaluates_thresholds_at_most_once_an_hour(api, seeded, clock):
    """flows/sla_sweep.py runs `thresholds_if_due` every minute after the timers."""
    with seeded.session() as s:
        _cases(s, 25, local("2026-03-02 10:00"), breached=10)
        s.commit()
    _sweep_step(seeded, clock)
    assert len(_alerts(seeded)) == 2
    with seeded.session() as s:
        _cases(s, 25, local("2026-03-02 10:00"), breached=10, **JINAN)
        s.commit()
    clock.set(clock.now() + timedelta(minutes=30))
    _sweep_step(seeded, clock)
    assert len(_alerts(seeded)) == 2  # not evaluated again within the hour
    clock.set(clock.now() + timedelta(minutes=31))
    _sweep_step(seeded, clock)
    assert [a[1] for a in _alerts(seeded)] == ["370100", "370102", "370200", "370202"]
    headers = login(api, "province")
    body = api.get("/api/v1/province/thresholds", headers=headers).json()
    assert body["alerts"]["total"] == 4 and {r["key"] for r in body["rules"]} == {r.key for r in oversight.THRESHOLD_RULES}
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/province/thresholds.csv", headers=headers).text)))
    assert [int(r["id"]) for r in rows] == [a["id"] for a in body["alerts"]["items"]]
    assert api.get("/api/v1/province/thresholds", headers=headers, params={"rule": "breach_rate_7d", "area": "370100"}).json()["alerts"]["total"] == 1


def test_r21_r17_upheld_unit_refusal_counts_against_the_unit_and_its_county(api, seeded, clock):
    headers = login(api, "province")
    r = api.post("/api/v1/units/refusals", headers=login(api, "unit-hr"), json={"employee_name": "李四", "reason": "We do not want to deal with the community office."})
    item_id = r.json()["id"]
    api.post(f"/api/v1/province/audit-items/{item_id}/claim", headers=headers)
    r = api.post(f"/api/v1/province/audit-items/{item_id}/outcome", headers=headers, json={"outcome": "refusal_without_reason", "note": "No justifiable reason (R17)."})
    assert r.status_code == 200, r.text
    units = {row["area_code"]: row for row in _league(api, headers, level="unit", limit=1000)["rows"]}
    assert units["U370102001"]["upheld_findings"] == 1 and units["U370102001"]["level"] == "unit"
    assert sum(row["upheld_findings"] for row in units.values()) == 1
    counties = {row["area_code"]: row for row in _league(api, headers, level="county", limit=1000)["rows"]}
    assert counties["370102"]["upheld_findings"] == 1
