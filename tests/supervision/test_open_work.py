"""Supervision read models (issue 13): open work by SLA state (R10, R11), drill-down and scope,
breaches with responsibility (R13), auto-issues (R12), roster gaps with their grace (R18);
every table pages, filters and exports the same rows as CSV. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from cases.models import Applicant, Application, AuditTask, CaseStatus, User
from cases.services import supervision
from tests.conftest import login
from tests.sla_store.sla_support import local, open_case, sweep


def _case(session, *, due: datetime, channel: str = "app", status: CaseStatus = CaseStatus.awaiting_audit,
          community: str = "370102001001", county: str = "370102", city: str = "370100", breached: datetime | None = None) -> str:
    key = uuid.uuid4().hex
    at = due - timedelta(days=1)
    applicant = Applicant(id_type="resident_id", id_hash=key, id_masked="3701**********0000", name="测试", phone_masked="139****0000", phone_hash=key, created_at=at)
    app = Application(
        reference=f"T-{key[:12]}", applicant_id=applicant.id, kind="standard", channel=channel, community_code=community, county_code=county,
        city_code=city, status=status, submitted_at=at, updated_at=at, access_token_hash="x", sla_started_at=at, sla_due_at=due,
        sla_paused_at=at if status == CaseStatus.awaiting_applicant else None, breached_at=breached,
    )
    session.add(applicant)
    session.add(app)
    session.add(AuditTask(application_id=app.id, holder_kind="community", holder_code=community, created_at=at))
    session.flush()
    return app.id


# (now, channel, status, due, expected state). Real dates: Tue 3 March 2026 is a working day,
# 7-8 March a weekend; working hours 08:30-12:00, 13:30-17:30. "At risk" = at most 20 % of the
# SLA left (1.2 working hours online, 1.2 clock hours at the counter).
STATES = [
    ("2026-03-03 15:00", "app", CaseStatus.awaiting_audit, "2026-03-03 17:30", "on_time"),  # 2.5 working h left
    ("2026-03-03 15:00", "app", CaseStatus.awaiting_audit, "2026-03-03 16:00", "at_risk"),  # 1 h left
    ("2026-03-03 15:00", "app", CaseStatus.awaiting_audit, "2026-03-03 14:59", "breached"),
    ("2026-03-03 15:00", "app", CaseStatus.awaiting_applicant, "2026-03-03 16:00", "paused"),  # the clock is stopped
    # Night in Shanghai: 7 h 45 min of clock time but 1 working hour left -> at risk.
    ("2026-03-04 01:45", "app", CaseStatus.awaiting_audit, "2026-03-04 09:30", "at_risk"),
    ("2026-03-04 01:45", "app", CaseStatus.awaiting_audit, "2026-03-04 14:30", "on_time"),  # 4.5 working h left
    # The counter's clock (R10) counts clock hours, nights included.
    ("2026-03-04 01:45", "counter", CaseStatus.awaiting_audit, "2026-03-04 02:30", "at_risk"),
    ("2026-03-04 01:45", "counter", CaseStatus.awaiting_audit, "2026-03-04 06:00", "on_time"),
    # Friday evening: the weekend does not count, Monday 09:00 is 1 working hour away.
    ("2026-03-06 17:00", "app", CaseStatus.awaiting_audit, "2026-03-09 09:00", "at_risk"),
    ("2026-03-06 17:00", "app", CaseStatus.awaiting_audit, "2026-03-09 11:00", "on_time"),
]


@pytest.mark.parametrize(("now", "channel", "status", "due", "expected"), STATES)
def test_r11_r10_open_work_sla_state_in_working_hours(seeded, now, channel, status, due, expected):
    with seeded.session() as s:
        case_id = _case(s, due=local(due), channel=channel, status=status)
        s.commit()
        user = s.exec(select(User).where(User.username == "jinan-supervisor")).one()
        h = supervision.horizons(session=s, settings=seeded.settings, now=local(now))
        assert supervision.classify(s.get(Application, case_id), h).value == expected
        # The SQL classification (counts, filtered list) agrees with the rule.
        summary = supervision.open_work_summary(session=s, user=user, settings=seeded.settings, now=local(now))
        assert getattr(summary.counts, expected) == 1 and summary.counts.total == 1
        listed = supervision.open_work(session=s, user=user, settings=seeded.settings, now=local(now), state=supervision.SlaState(expected))
        assert [i.application_id for i in listed["items"]] == [case_id]


class Logins:
    def __init__(self, client):
        self.client, self.headers = client, {}

    def __getitem__(self, username: str) -> dict[str, str]:
        if username not in self.headers:
            self.headers[username] = login(self.client, username)
        return self.headers[username]


@pytest.fixture
def auth(api):
    return Logins(api)


@pytest.fixture
def area_cases(seeded, clock):
    """At Tue 15:00: in Heping (Lixia, Jinan) 2 at risk, 1 on time, 1 paused, 1 breached; one at
    risk in Lixia's other community; one in Qingdao (another city)."""
    clock.set(local("2026-03-03 15:00"))
    with seeded.session() as s:
        ids = {
            "heping": [_case(s, due=local(d)) for d in ("2026-03-03 15:30", "2026-03-03 16:00", "2026-03-04 10:00", "2026-03-03 14:00")]
            + [_case(s, due=local("2026-03-03 16:00"), status=CaseStatus.awaiting_applicant)],
            "other": [_case(s, due=local("2026-03-03 15:45"), community="370102001002")],
            "qingdao": [_case(s, due=local("2026-03-03 15:45"), community="370202001001", county="370202", city="370200")],
        }
        s.commit()
    return ids


def test_r11_supervisor_sees_at_risk_counts_per_child_region_and_drills_down(api, auth, area_cases):
    city = api.get("/api/v1/supervision/open-work/summary", headers=auth["jinan-supervisor"])
    assert city.status_code == 200, city.text
    body = city.json()
    assert body["level"] == "city" and body["child_level"] == "county"
    assert body["counts"] == {"on_time": 1, "at_risk": 3, "breached": 1, "paused": 1, "total": 6}  # Qingdao's case is not Jinan's
    lixia = next(c for c in body["children"] if c["code"] == "370102")
    assert lixia["at_risk"] == 3 and lixia["total"] == 6
    assert all(c["total"] == 0 for c in body["children"] if c["code"] != "370102")

    county = api.get("/api/v1/supervision/open-work/summary", params={"region": "370102"}, headers=auth["jinan-supervisor"]).json()
    assert county["child_level"] == "community"
    per_community = {c["code"]: (c["at_risk"], c["total"]) for c in county["children"]}
    assert per_community["370102001001"] == (2, 5) and per_community["370102001002"] == (1, 1)

    # The community head sees only Heping; the province sees the cities, Qingdao included.
    head = api.get("/api/v1/supervision/open-work/summary", headers=auth["heping-head"]).json()
    assert head["counts"]["total"] == 5 and head["children"] == [] and head["child_level"] is None
    province = api.get("/api/v1/supervision/open-work/summary", headers=auth["province"]).json()
    assert {c["code"]: c["total"] for c in province["children"] if c["total"]} == {"370100": 6, "370200": 1}

    # The case list at the bottom of the drill-down, with who holds each case.
    rows = api.get("/api/v1/supervision/open-work", params={"region": "370102001001", "state": "at_risk"}, headers=auth["lixia-supervisor"]).json()
    assert {r["application_id"] for r in rows["items"]} == set(area_cases["heping"][:2])
    assert all(r["holder_code"] == "370102001001" and r["staff_url"] == f"/staff/cases/{r['application_id']}" for r in rows["items"])
    # Outside one's area: refused, naming the field.
    refused = api.get("/api/v1/supervision/open-work", params={"region": "370202"}, headers=auth["lixia-supervisor"])
    assert refused.status_code == 403 and "region" in refused.text
    assert api.get("/api/v1/supervision/open-work", params={"state": "late"}, headers=auth["lixia-supervisor"]).status_code == 422


def test_open_work_pages_filter_and_csv_equals_the_table(api, auth, area_cases):
    head = auth["jinan-supervisor"]
    seen = []
    first = api.get("/api/v1/supervision/open-work", params={"per_page": 4}, headers=head).json()
    assert first["total"] == 6 and first["pages"] == 2 and len(first["items"]) == 4
    seen += first["items"]
    seen += api.get("/api/v1/supervision/open-work", params={"per_page": 4, "page": 2}, headers=head).json()["items"]
    assert len({r["application_id"] for r in seen}) == 6
    due = [r["due_at"] for r in seen]
    assert due == sorted(due)  # most urgent first
    r = api.get("/api/v1/supervision/open-work.csv", headers=head)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["application_id"], row["state"], row["holder_code"]) for row in rows] == [(i["application_id"], i["state"], i["holder_code"]) for i in seen]
    breached = list(csv.DictReader(io.StringIO(api.get("/api/v1/supervision/open-work.csv", params={"state": "breached"}, headers=head).text)))
    assert [row["application_id"] for row in breached] == [area_cases["heping"][3]]
    assert api.get("/api/v1/supervision/open-work", params={"per_page": 0}, headers=head).status_code == 422


def test_r13_r12_breaches_with_each_holders_time_and_auto_issues(api, auth, seeded, clock):
    case_id, _ = open_case(seeded, clock, community_code="370102001001", name="李娜", id_number="370102199003070024", phone="+86 139 0531 0001")
    clock.set(local("2026-03-03 16:30"))
    sweep(seeded, clock)
    lixia = auth["lixia-supervisor"]
    table = api.get("/api/v1/supervision/responsibility", headers=lixia).json()
    assert table["total"] == 1
    item = table["items"][0]
    assert item["responsible_code"] == "370102001001" and item["responsible_kind"] == "community" and item["open"] is True
    # R13: the community held the case for the whole 6 working hours before the breach.
    assert [(o["code"], o["seconds"]) for o in item["ownership"]] == [("370102001001", 6 * 3600)]
    assert item["staff_url"] == f"/staff/cases/{case_id}"
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/supervision/responsibility.csv", headers=lixia).text)))
    assert [(r["application_id"], r["responsible_code"], r["ownership"]) for r in rows] == [(case_id, "370102001001", "community:370102001001:21600")]
    assert api.get("/api/v1/supervision/responsibility", headers=auth["heping-head"]).json()["total"] == 1
    assert api.get("/api/v1/supervision/responsibility", params={"open": "false"}, headers=lixia).json()["total"] == 0

    # R12: nobody decides; the system issues the pass by 18:00 the next day.
    clock.set(local("2026-03-04 18:00"))
    sweep(seeded, clock)
    lixia = login(api, "lixia-supervisor")  # a new day, a new sign-in
    autos = api.get("/api/v1/supervision/auto-issues", headers=lixia).json()
    assert [a["application_id"] for a in autos["items"]] == [case_id]
    assert autos["items"][0]["issued_at"] <= "2026-03-04T18:00:00+08:00"
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/supervision/auto-issues.csv", headers=lixia).text)))
    assert [r["application_id"] for r in rows] == [case_id]
    assert api.get("/api/v1/supervision/auto-issues", params={"region": "370102001002"}, headers=lixia).json()["total"] == 0


def test_r18_roster_gaps_wait_for_the_first_working_interval(api, seeded, clock):
    def gaps(user, path="/api/v1/supervision/roster-gaps", **params):
        return api.get(path, params=params, headers=login(api, user))  # sign in at the simulated time

    clock.set(local("2026-03-04 01:45"))  # night: nobody is expected signed in yet
    assert gaps("heping-head").json()["total"] == 0
    clock.set(local("2026-03-04 08:31"))  # the first working interval has begun, nobody signed in
    morning = gaps("heping-head").json()
    assert [(g["community"], g["gap"]) for g in morning["items"]] == [("370102001001", "no_issuer_signed_in")]
    clock.set(local("2026-03-07 10:00"))  # Saturday: no working interval, no sign-in gap
    assert gaps("heping-head", gap="no_issuer_signed_in").json()["total"] == 0
    clock.set(local("2026-03-04 09:00"))
    county = gaps("lixia-supervisor", per_page=1).json()
    everything = list(csv.DictReader(io.StringIO(gaps("lixia-supervisor", "/api/v1/supervision/roster-gaps.csv").text)))
    assert county["total"] == len(everything) >= 1 and len(county["items"]) == 1
    assert county["items"][0]["community"] == everything[0]["community"]
    assert {row["county"] for row in everything} == {"370102"}
