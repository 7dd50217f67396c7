"""The seeded history of the trends tests: decided cases with real dates of March 2026 and
the working time the R11 calendar gives each (worked out by hand), complaints, and helpers."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta


from cases.clock import SHANGHAI
from cases.models import Applicant, Application, CaseStatus, ProvincialAuditItem
from cases.services import trends as trends_service

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


def make_history(seeded):
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


