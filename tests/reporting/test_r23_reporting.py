"""R23: municipalities report implementation and announced complaint numbers by a deadline;
the provincial office sees on time / late / missing; an overdue report is notified once."""
from __future__ import annotations

import csv
import io
import threading
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from cases.clock import SHANGHAI
from cases.models import Notification, Role
from cases.reporting.models import CityReport, ReportingEvent, ReportingObligation, ReportingObligationCity
from cases.reporting.service import (
    OVERDUE_KIND,
    announced_numbers_mismatches,
    notify_overdue,
)
from cases.seed import DEMO_PASSWORD, NOTICE_LATE, NOTICE_MISSING, NOTICE_OBLIGATION, create_user, seed
from cases.services import sla_service
from tests.conftest import login

REPORT = {
    "status": "implemented",
    "implementation": "Forwarded to every county; handling communities published.",
    "city_numbers": ["0531-12345"],
    "county_numbers": {"370102": ["0531-12345"]},
}


def _supervisors(seeded, clock, *codes: str) -> None:
    names = {"370200": "qingdao-supervisor", "370300": "zibo-supervisor"}
    with seeded.session() as s:
        for code in codes:
            create_user(s, username=names[code], password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region=code)
        s.commit()


def _create(api, headers, **body) -> dict:
    r = api.post("/api/v1/reporting/obligations", json={"title": "Weekly implementation report", "due": "2026-03-05", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _states(api, obligation_id) -> dict[str, str]:
    r = api.get(f"/api/v1/reporting/obligations/{obligation_id}", headers=login(api, "province"))  # tokens expire: sign in at the clock's time
    assert r.status_code == 200, r.text
    return {c["city_code"]: c["state"] for c in r.json()["cities"]}


def test_r23_states_on_time_late_missing_follow_the_injected_clock(api, seeded, clock):
    _supervisors(seeded, clock, "370200", "370300")
    province = login(api, "province")
    ob = _create(api, province, cities=["370100", "370200", "370300"])
    # A date is the end of that day in Shanghai.
    assert datetime.fromisoformat(ob["due_at"]) == datetime(2026, 3, 5, 23, 59, 59, tzinfo=SHANGHAI)
    assert ob["cities"] == ["370100", "370200", "370300"]

    jinan, qingdao = login(api, "jinan-supervisor"), login(api, "qingdao-supervisor")
    r = api.post(f"/api/v1/reporting/obligations/{ob['id']}/reports", json=REPORT, headers=jinan)
    assert r.status_code == 201 and r.json()["state"] == "on_time", r.text
    assert _states(api, ob["id"]) == {"370100": "on_time", "370200": "pending", "370300": "pending"}

    clock.set(datetime(2026, 3, 5, 23, 59, 58, tzinfo=SHANGHAI))
    assert _states(api, ob["id"])["370300"] == "pending"  # still before the end of the day
    clock.set(datetime(2026, 3, 6, 0, 0, 1, tzinfo=SHANGHAI))
    assert _states(api, ob["id"]) == {"370100": "on_time", "370200": "missing", "370300": "missing"}

    clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=SHANGHAI))
    province, jinan, qingdao = login(api, "province"), login(api, "jinan-supervisor"), login(api, "qingdao-supervisor")
    body = {**REPORT, "city_numbers": ["0532-12345"], "county_numbers": {"370202": ["0532-12345"]}}
    r = api.post(f"/api/v1/reporting/obligations/{ob['id']}/reports", json=body, headers=qingdao)
    assert r.status_code == 201 and r.json()["state"] == "late", r.text
    detail = api.get(f"/api/v1/reporting/obligations/{ob['id']}", headers=province).json()
    assert (detail["obligation"]["on_time"], detail["obligation"]["late"], detail["obligation"]["missing"]) == (1, 1, 1)
    qd = next(c for c in detail["cities"] if c["city_code"] == "370200")
    assert qd["late_by_seconds"] == pytest.approx(34 * 3600 + 1, abs=1)

    # An amendment after the deadline keeps the on-time submission on time.
    r = api.post(f"/api/v1/reporting/obligations/{ob['id']}/reports", json={**REPORT, "status": "partially_implemented"}, headers=jinan)
    assert r.status_code == 201 and r.json()["state"] == "on_time" and r.json()["version"] == 2
    assert _states(api, ob["id"])["370100"] == "on_time"
    # Filters: per state on the detail, and obligations having a city in a state.
    missing = api.get(f"/api/v1/reporting/obligations/{ob['id']}", params={"state": "missing"}, headers=province).json()
    assert [c["city_code"] for c in missing["cities"]] == ["370300"]
    listed = api.get("/api/v1/reporting/obligations", params={"state": "late"}, headers=province).json()
    assert ob["id"] in [o["id"] for o in listed["items"]]
    with seeded.session() as s:
        actions = s.exec(select(ReportingEvent.action).where(ReportingEvent.obligation_id == ob["id"]).order_by(ReportingEvent.id)).all()
    assert actions == ["obligation_created", "report_submitted", "report_submitted", "report_amended"]


def test_r23_overdue_report_notifies_city_and_province_once(seeded, clock):
    from cases.reporting.service import create_obligation, record_report

    with seeded.session() as s:
        ob = create_obligation(session=s, user=None, actor="test", title="Due soon", due="2026-03-04", cities=["370100", "370200"], at=clock.now())
        record_report(session=s, obligation_id=ob.id, city="370100", actor="test", status="implemented", implementation="done",
                      city_numbers=["0531-12345"], county_numbers={}, at=clock.now())
        s.commit()
        ob_id = ob.id

    def overdue(s: Session) -> list[Notification]:
        return list(s.exec(select(Notification).where(Notification.kind == OVERDUE_KIND, Notification.created_at > datetime(2026, 1, 1, tzinfo=SHANGHAI))))

    with seeded.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)  # not yet due
        assert overdue(s) == []
    clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=SHANGHAI))
    for _ in range(3):  # the sweep runs every minute: still one notification per city and recipient
        with seeded.session() as s:
            sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)
            s.commit()
        clock.advance(timedelta(minutes=1))
    with seeded.session() as s:
        got = sorted((n.recipient_level, n.recipient_code) for n in overdue(s))
        assert got == [("city", "370200"), ("province", "370000")]  # Jinan reported: nothing for it
        assert "Qingdao" in overdue(s)[0].message
        row = s.exec(select(ReportingObligationCity).where(ReportingObligationCity.obligation_id == ob_id, ReportingObligationCity.city_code == "370200")).one()
        assert row.overdue_notified_at is not None


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r23_overdue_notification_once_under_concurrent_sweeps(seeded, clock):
    from cases.reporting.service import create_obligation

    with seeded.session() as s:
        create_obligation(session=s, user=None, actor="test", title="Race", due="2026-03-02", at=clock.now())
        s.commit()
    barrier = threading.Barrier(4)
    sent: list[int] = []

    def run() -> None:
        with seeded.session() as s:
            barrier.wait()
            sent.append(notify_overdue(session=s, now=clock.now()))
            s.commit()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sent) == 16
    with seeded.session() as s:
        n = s.exec(select(func.count()).select_from(Notification).where(Notification.kind == OVERDUE_KIND, Notification.created_at > datetime(2026, 1, 1, tzinfo=SHANGHAI))).one()
    assert n == 32  # 16 cities, each to the city and to the province


def test_r23_only_a_city_supervisor_submits_and_only_for_their_city(api, seeded, clock):
    _supervisors(seeded, clock, "370200")
    province = login(api, "province")
    both = _create(api, province, cities=["370100", "370200"])
    qingdao_only = _create(api, province, cities=["370200"])
    url = "/api/v1/reporting/obligations/{}/reports"
    jinan = login(api, "jinan-supervisor")
    # Another city's report, or an obligation that does not bind the city: refused.
    assert api.post(url.format(both["id"]), json={**REPORT, "city": "370200"}, headers=jinan).status_code == 403
    assert api.post(url.format(qingdao_only["id"]), json=REPORT, headers=jinan).status_code == 404
    assert api.post(url.format(999999), json=REPORT, headers=jinan).status_code == 404
    for name in ("lixia-supervisor", "heping-head", "heping-issuer", "province", "admin", "unit-hr", "checkpoint"):
        r = api.post(url.format(both["id"]), json=REPORT, headers=login(api, name))
        assert r.status_code == 403, (name, r.text)
    assert api.post(url.format(both["id"]), json=REPORT).status_code == 401
    # Counties must be the city's own.
    r = api.post(url.format(both["id"]), json={**REPORT, "county_numbers": {"370202": ["0532-1"]}}, headers=jinan)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "county_numbers", "370202"]
    assert api.post(url.format(both["id"]), json=REPORT, headers=jinan).status_code == 201
    # A city supervisor reads their own city only; obligations not binding it are invisible.
    detail = api.get(f"/api/v1/reporting/obligations/{both['id']}", headers=jinan).json()
    assert [c["city_code"] for c in detail["cities"]] == ["370100"]
    assert api.get(f"/api/v1/reporting/obligations/{qingdao_only['id']}", headers=jinan).status_code == 404
    assert qingdao_only["id"] not in [o["id"] for o in api.get("/api/v1/reporting/obligations", headers=jinan).json()["items"]]
    # Only the provincial office or an admin sets obligations; county supervisors read nothing.
    assert api.post("/api/v1/reporting/obligations", json={"title": "x", "due": "2026-03-09"}, headers=jinan).status_code == 403
    assert api.get("/api/v1/reporting/obligations", headers=login(api, "lixia-supervisor")).status_code == 403
    with seeded.session() as s:
        assert s.exec(select(CityReport.city_code).where(CityReport.obligation_id == both["id"])).all() == ["370100"]


def test_r23_bad_obligation_input_names_the_field(api, seeded):
    province = login(api, "province")
    cases = [
        ({"due": "2026-03-05T18:00:00"}, ["body", "due"]),  # no offset
        ({"due": "next friday"}, ["body", "due"]),
        ({"due": "2026-02-30"}, ["body", "due"]),
        ({"cities": ["370102"]}, ["body", "cities", "0"]),  # a county, not a city
    ]
    for extra, loc in cases:
        r = api.post("/api/v1/reporting/obligations", json={"title": "t", "due": "2026-03-05", **extra}, headers=province)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (extra, r.text)
    r = api.post("/api/v1/reporting/obligations", json={"title": "t", "due": "2026-03-05T18:00:00+08:00"}, headers=province)
    assert r.status_code == 201 and datetime.fromisoformat(r.json()["due_at"]) == datetime(2026, 3, 5, 18, 0, tzinfo=SHANGHAI)
    assert len(r.json()["cities"]) == 16


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r23_directory_check_compares_announced_numbers_with_the_directory(store):
    """Pure function: a fake directory mapping, no store."""
    report = CityReport(obligation_id=1, city_code="370100", status="implemented", implementation="x", submitted_by="u",
                        city_numbers=["0531-99999"], county_numbers={"370102": ["0531 1234 5678"], "370103": ["0531-11111", "0531-22222"], "370116": ["0531-33333"]})
    directory = {"370102": {"053112345678"}, "370103": {"0531-11111", "0531-44444"}}
    got = {(m.region_code, m.kind, m.number) for m in announced_numbers_mismatches(report, directory, counties=["370102", "370103", "370116", "370117"])}
    assert got == {
        ("370103", "not_in_directory", "0531-22222"),
        ("370103", "not_announced", "0531-44444"),
        ("370116", "no_directory_entry", None),
        ("370117", "county_not_reported", None),
    }
    assert announced_numbers_mismatches(report, {**directory, "370100": {"0531-99999"}, "370103": {"053111111", "053122222"}, "370116": {"0531-33333"}}) == []


def test_r23_directory_check_shown_per_city_once_the_directory_exists(api, seeded, clock, monkeypatch):
    """The announced numbers are checked against the public directory (R20): the seeded one
    publishes every county's complaint telephone; with another directory the mismatches follow it."""
    from cases.reporting import service

    _supervisors(seeded, clock, "370200")
    province = login(api, "province")
    ob = _create(api, province, cities=["370100"])
    api.post(f"/api/v1/reporting/obligations/{ob['id']}/reports", json=REPORT, headers=login(api, "jinan-supervisor"))
    row = api.get(f"/api/v1/reporting/obligations/{ob['id']}", headers=province).json()["cities"][0]
    with seeded.session() as s:
        published = service.directory_numbers(s)
    assert {"370102", "370103"} <= set(published)  # the seeded directory's counties of Jinan
    assert row["directory_checked"] is True
    monkeypatch.setattr(service, "directory_numbers", lambda session: {"370102": {"0531-12345"}, "370103": {"0531-67890"}})
    row = api.get(f"/api/v1/reporting/obligations/{ob['id']}", headers=province).json()["cities"][0]
    assert row["directory_checked"] is True
    assert {(m["region_code"], m["kind"]) for m in row["mismatches"]} == {("370103", "county_not_reported"), ("370116", "county_not_reported")}


def test_r23_csv_equals_the_table(api, seeded, clock):
    province = login(api, "province")
    ob = _create(api, province, cities=["370100", "370200", "370300"])
    api.post(f"/api/v1/reporting/obligations/{ob['id']}/reports", json=REPORT, headers=login(api, "jinan-supervisor"))
    clock.set(datetime(2026, 3, 8, 9, 0, tzinfo=SHANGHAI))
    province = login(api, "province")
    for params in ({}, {"state": "missing"}):
        table = api.get(f"/api/v1/reporting/obligations/{ob['id']}", params=params, headers=province).json()["cities"]
        r = api.get(f"/api/v1/reporting/obligations/{ob['id']}.csv", params=params, headers=province)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [(x["city_code"], x["state"], x["submitted_at"], x["city_numbers"]) for x in rows] == [
            (c["city_code"], c["state"], (c["submitted_at"] or "") and datetime.fromisoformat(c["submitted_at"]).isoformat(), "; ".join(c["city_numbers"])) for c in table
        ]
    listed = api.get("/api/v1/reporting/obligations", headers=province).json()["items"]
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/reporting/obligations.csv", headers=province).text)))
    assert [(int(x["id"]), int(x["on_time"]), int(x["missing"])) for x in rows] == [(o["id"], o["on_time"], o["missing"]) for o in listed]


def test_r23_seed_has_the_notices_obligation_as_history(seeded, clock):
    from cases.reporting.service import states_of

    with seeded.session() as s:
        seed(s, at=clock.now(), hash_key=seeded.settings.secret("idhash"))  # idempotent
        s.commit()
        obligations = s.exec(select(ReportingObligation).where(ReportingObligation.title == NOTICE_OBLIGATION)).all()
        assert len(obligations) == 1
        ob = obligations[0]
        assert ob.due_at.astimezone(SHANGHAI) == datetime(2020, 3, 6, 23, 59, 59, tzinfo=SHANGHAI)
        states = {st.city_code: st.state.value for st in states_of(s, ob, now=clock.now())}
        assert len(states) == 16
        assert {c for c, v in states.items() if v == "late"} == set(NOTICE_LATE)
        assert {c for c, v in states.items() if v == "missing"} == NOTICE_MISSING
        assert sum(v == "on_time" for v in states.values()) == 16 - len(NOTICE_LATE) - len(NOTICE_MISSING)
        notified = s.exec(select(Notification.recipient_code).where(Notification.kind == OVERDUE_KIND, Notification.recipient_level == "city")).all()
        assert sorted(notified) == sorted(NOTICE_MISSING)
        assert notify_overdue(session=s, now=clock.now()) == 0  # the sweep has nothing left to say
