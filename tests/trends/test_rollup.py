"""Daily roll-ups behind the trends (issue 13): decision times in working hours on the R11
calendar, breaches (R13), auto-issues (R12), rejections and complaints per region and level,
idempotent re-roll-ups, and the period sums of the read model. Real dates of March 2026
(Mon 2 … Mon 9; Sat 7 and Sun 8 are days off), on SQLite and PostgreSQL."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.models import Applicant, Application, CaseStatus, ProvincialAuditItem, User
from cases.scope import scope_for
from cases.services import trends as trends_service
from cases.trends.models import TrendDaily, TrendRollup

LIXIA, LIXIA_A, LIXIA_B = "370102", "370102001001", "370102001002"
OTHER_COUNTY, OTHER_COMMUNITY = "370103", "370103001001"
JINAN, QINGDAO, QINGDAO_COMMUNITY, PROVINCE = "370100", "370200", "370202001001", "370000"


def sh(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SHANGHAI)


@dataclass
class Row:
    """A case as the store holds it once decided; `minutes` is the working time the R11
    calendar gives (08:30-12:00, 13:30-17:30 on working days), worked out by hand."""

    why: str
    community: str
    started: datetime | None
    decided: datetime
    decision: str
    minutes: int | None
    breached: datetime | None = None
    paused_seconds: float = 0.0


ROWS = [
    Row("R11 inside one morning", LIXIA_A, sh(3, 9), sh(3, 11, 30), "approve", 150),
    Row("R11 over the lunch break", LIXIA_A, sh(3, 11), sh(3, 14, 30), "approve", 120),
    Row("R11 over the night", LIXIA_B, sh(3, 16), sh(4, 10), "reject", 180),
    Row("R11 over the weekend (Sat 7, Sun 8 off)", LIXIA_A, sh(6, 16, 30), sh(9, 9, 30), "approve", 120),
    Row("R11 submitted at night counts from 08:30", LIXIA_B, sh(3, 19), sh(4, 9), "approve", 30),
    Row("R11 decided after midnight Shanghai time counts on the local day", LIXIA_B, sh(3, 17), sh(4, 0, 30), "approve", 30),
    Row("R11 a pause for the applicant is not decision time", LIXIA_A, sh(3, 9), sh(3, 15, 30), "approve", 240, paused_seconds=3600),
    Row("R12 breached at 16:30, auto-issued before 18:00 the next day", LIXIA_A, sh(3, 9), sh(4, 17), "auto_issue", 840, breached=sh(3, 16, 30)),
    Row("R13 breached, then approved late by the issuer", LIXIA_B, sh(2, 8, 30), sh(3, 9, 30), "approve", 510, breached=sh(2, 16)),
    Row("R10 counter case decided in the visit: no clock, no time sample", LIXIA_A, None, sh(3, 10), "approve", None),
    Row("another county of Jinan", OTHER_COMMUNITY, sh(3, 9), sh(3, 10), "reject", 60),
    Row("another city", QINGDAO_COMMUNITY, sh(3, 9), sh(3, 9, 45), "approve", 45),
]
NOT_AUDIT_DECISIONS = [
    Row("R9 green at the end of observation: no audit decision", LIXIA_A, None, sh(3, 10), "observation_clear", None),
]
COMPLAINTS = [(LIXIA_A, sh(3, 10)), (LIXIA, sh(3, 11)), (OTHER_COUNTY, sh(4, 10)), (QINGDAO_COMMUNITY, sh(3, 10))]
TREE = {LIXIA_A: [LIXIA_A, LIXIA, JINAN, PROVINCE], LIXIA_B: [LIXIA_B, LIXIA, JINAN, PROVINCE], LIXIA: [LIXIA, JINAN, PROVINCE],
        OTHER_COMMUNITY: [OTHER_COMMUNITY, OTHER_COUNTY, JINAN, PROVINCE], OTHER_COUNTY: [OTHER_COUNTY, JINAN, PROVINCE],
        QINGDAO_COMMUNITY: [QINGDAO_COMMUNITY, "370202", QINGDAO, PROVINCE]}


def county_of(community: str) -> str:
    return TREE[community][1]


def add_case(session, row: Row) -> Application:
    key = uuid.uuid4().hex
    submitted = row.started or row.decided
    applicant = Applicant(id_type="resident_id", id_hash=key, id_masked="3701**********0000", name="测试", phone_masked="139****0000", phone_hash=key, created_at=submitted)
    app = Application(
        reference=f"T-{key[:12]}", applicant_id=applicant.id, kind="standard", channel="app" if row.started else "counter",
        community_code=row.community, county_code=county_of(row.community), city_code=TREE[row.community][2],
        status={"approve": CaseStatus.approved, "reject": CaseStatus.rejected, "auto_issue": CaseStatus.auto_issued}.get(row.decision, CaseStatus.approved),
        submitted_at=submitted, updated_at=row.decided, access_token_hash="x", sla_started_at=row.started,
        sla_due_at=row.started and row.started + timedelta(hours=6), sla_paused_seconds=row.paused_seconds,
        breached_at=row.breached, decided_at=row.decided, decision=row.decision,
    )
    session.add(applicant)
    session.add(app)
    return app


@pytest.fixture
def history(seeded, clock):
    with seeded.session() as s:
        for row in ROWS + NOT_AUDIT_DECISIONS:
            add_case(s, row)
        for region, at in COMPLAINTS:
            s.add(ProvincialAuditItem(kind="complaint", region_code=region, summary="delayed", created_at=at))
        s.add(ProvincialAuditItem(kind="breach", region_code=LIXIA_A, summary="not a complaint", created_at=sh(3, 10)))
        s.commit()
    return seeded


def roll(store, first: date, last: date, now: datetime) -> None:
    with store.session() as s:
        trends_service.rollup_range(session=s, start=first, end=last, settings=store.settings, now=now)
        s.commit()


def nearest_rank(values: list[int], p: float) -> int | None:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1] if ordered else None


def expected(region: str, day: date) -> dict:
    """The day's figures for `region`, from the table (independent of the roll-up code)."""
    mine = [r for r in ROWS if region in TREE[r.community] and r.decided.astimezone(SHANGHAI).date() == day]
    return {
        "decided": len(mine),
        "rejected": sum(r.decision == "reject" for r in mine),
        "auto_issued": sum(r.decision == "auto_issue" for r in mine),
        "decided_breached": sum(r.breached is not None for r in mine),
        "breaches": sum(1 for r in ROWS if region in TREE[r.community] and r.breached and r.breached.date() == day),
        "complaints": sum(1 for code, at in COMPLAINTS if region in TREE[code] and at.date() == day),
        "minutes": sorted(r.minutes for r in mine if r.minutes is not None),
    }


@pytest.mark.parametrize("row", ROWS + NOT_AUDIT_DECISIONS, ids=lambda r: r.why)
def test_r11_decision_time_in_working_minutes(seeded, row):
    from cases.services import sla_service

    with seeded.session() as s:
        cal = sla_service.calendar(s, seeded.settings)
    got = trends_service.decision_minutes(started_at=row.started, decided_at=row.decided, paused_seconds=row.paused_seconds, calendar=cal)
    assert got == row.minutes


@pytest.mark.parametrize("region", [LIXIA_A, LIXIA_B, LIXIA, OTHER_COUNTY, JINAN, QINGDAO, PROVINCE])
def test_r11_r12_r13_daily_rollup_per_region_and_level(history, clock, region):
    days = [date(2026, 3, d) for d in range(2, 10)]
    roll(history, days[0], days[-1], now=sh(10, 9))
    with history.session() as s:
        rows = {r.day: r for r in s.exec(select(TrendDaily).where(TrendDaily.region_code == region))}
    for day in days:
        want = expected(region, day)
        row = rows.get(day)
        if not want["decided"] and not want["breaches"] and not want["complaints"]:
            assert row is None or (row.decided, row.breaches, row.complaints) == (0, 0, 0)
            continue
        assert row is not None, f"{region} {day}: no roll-up row"
        got_minutes = sorted(int(m) for m, n in row.decision_minutes.items() for _ in range(n))
        assert (row.decided, row.rejected, row.auto_issued, row.decided_breached, row.breaches, row.complaints, got_minutes) == (
            want["decided"], want["rejected"], want["auto_issued"], want["decided_breached"], want["breaches"], want["complaints"], want["minutes"]
        ), f"{region} {day}"


def test_r11_weekly_median_and_p90_merge_the_days(history, clock):
    roll(history, date(2026, 3, 2), date(2026, 3, 9), now=sh(10, 9))
    with history.session() as s:
        jinan = scope_for(s, s.exec(select(User).where(User.username == "jinan-supervisor")).one())
        week = trends_service.trends(session=s, scope=jinan, region=None, granularity="week", start=date(2026, 3, 2), end=date(2026, 3, 8), now=sh(10, 9))
        days = trends_service.trends(session=s, scope=jinan, region=None, granularity="day", start=date(2026, 3, 2), end=date(2026, 3, 8), now=sh(10, 9))
    in_week = [r for r in ROWS if JINAN in TREE[r.community] and date(2026, 3, 2) <= r.decided.astimezone(SHANGHAI).date() <= date(2026, 3, 8)]
    minutes = [r.minutes for r in in_week if r.minutes is not None]
    assert len(week.points) == 1 and week.region.code == JINAN
    point = week.points[0]
    assert point.decided == len(in_week) == sum(p.decided for p in days.points)
    assert point.median_hours == round(nearest_rank(minutes, 0.5) / 60, 2)
    assert point.p90_hours == round(nearest_rank(minutes, 0.9) / 60, 2)
    assert point.breach_rate == round(sum(r.breached is not None for r in in_week) / len(in_week), 4)
    assert point.auto_issue_rate == round(sum(r.decision == "auto_issue" for r in in_week) / len(in_week), 4)
    assert point.rejection_rate == round(sum(r.decision == "reject" for r in in_week) / len(in_week), 4)
    assert point.complaints == sum(1 for code, at in COMPLAINTS if JINAN in TREE[code] and at.date() <= date(2026, 3, 8))
    assert week.days_not_rolled_up == []


def test_rerolling_a_day_is_idempotent_and_picks_up_late_changes(history, clock):
    roll(history, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 9))
    with history.session() as s:
        first = sorted((r.region_code, r.day, r.decided, r.complaints, r.decision_minutes) for r in s.exec(select(TrendDaily)))
    roll(history, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 10))
    with history.session() as s:
        again = sorted((r.region_code, r.day, r.decided, r.complaints, r.decision_minutes) for r in s.exec(select(TrendDaily)))
        assert s.get(TrendRollup, date(2026, 3, 3)).final
        s.add(ProvincialAuditItem(kind="complaint", region_code=LIXIA_B, summary="late import", created_at=sh(3, 15)))
        s.commit()
    assert again == first
    roll(history, date(2026, 3, 3), date(2026, 3, 3), now=sh(5, 11))
    with history.session() as s:
        lixia = s.get(TrendDaily, (LIXIA, date(2026, 3, 3)))
    assert lixia.complaints == expected(LIXIA, date(2026, 3, 3))["complaints"] + 1


def test_sweep_rolls_up_ended_days_once_and_today_at_most_every_ten_minutes(history, clock):
    with history.session() as s:
        first = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12))
        s.commit()
        again = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12, 5))
        later = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12, 11))
        s.commit()
        today = s.get(TrendRollup, date(2026, 3, 4))
    assert first[-1] == date(2026, 3, 4) and date(2026, 3, 3) in first
    assert again == []  # ended days are final; today was rolled 5 minutes ago
    assert later == [date(2026, 3, 4)] and not today.final
