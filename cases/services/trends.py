"""Trends for supervisors (issue 13): daily roll-ups per region and the typed read model.

Roll-up (`rollup_day`): for one local day (Asia/Shanghai) it counts, in every region of the
tree above each case's community (province, city, county, community):

- submitted — cases submitted that day;
- decided / approved / rejected / auto_issued — audit decisions made that day (an issuer's or
  supervisor's approve or reject, the system's R12 auto-issue); the green pass at the end of an
  arrival's observation (R9) is not an audit decision and is not counted;
- decided_breached — of those decisions, the ones on cases whose SLA had breached (R11);
- breaches — cases whose SLA breached that day (R13);
- complaints — provincial audit items of kind "complaint" created that day, counted in the
  item's region and every region above it (R20);
- decision_minutes — for each decision with an SLA clock, the working time (R11 calendar,
  `sla.WorkingCalendar.working_time_between`) from the clock's start to the decision, minus
  the working time paused while the applicant owed an item, in whole minutes: {minutes: count}.

A day's rows are deleted and rebuilt in one transaction, so re-running is idempotent and a
late change (a back-dated import, a calendar correction) is picked up by rolling the day again.

Read model (`trends`): the rows of one region over a period, summed per day or per ISO week
(Monday first), with rates and exact percentiles (nearest rank) from the merged histograms.
"""
from __future__ import annotations

import csv
import io
import math
import time
from collections import defaultdict
from datetime import date, datetime, time as dtime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, text
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import Invalid
from cases.models import Application, ProvincialAuditItem, Region, RegionLevel, Unit
from cases.scope import Scope
from cases.services import sla_service
from cases.settings import Settings
from cases.trends.models import TrendDaily, TrendRollup

AUDIT_DECISIONS = ("approve", "reject", "auto_issue")
COUNTERS = ("submitted", "decided", "approved", "rejected", "auto_issued", "decided_breached", "breaches", "complaints")
MAX_DAYS = 366  # one request covers at most a year of days
YEARS = (2000, 2100)  # days a request may name (keeps date arithmetic far from its limits)
DEFAULT_DAYS = {"day": 28, "week": 7 * 12}
TODAY_REFRESH = timedelta(minutes=10)  # the sweep re-rolls the running day at most this often
CATCH_UP_DAYS = 7  # the sweep finalises days that ended while it was not running, this far back

Granularity = Literal["day", "week"]


# ------------------------------------------------------------------ roll-up ---

def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local day (Asia/Shanghai) as aware instants."""
    start = datetime.combine(day, dtime.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def _local_date(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


class _Tree:
    """Each region's chain up to the province, read once per roll-up from the Region table
    (never by cutting codes: see cases/scope.py)."""

    def __init__(self, session: Session):
        rows = session.exec(select(Region.code, Region.parent_code, Region.level)).all()
        self.parent = {code: parent for code, parent, _ in rows}
        self.level = {code: RegionLevel(level).value for code, _, level in rows}
        self.unit_county = dict(session.exec(select(Unit.code, Unit.county_code)).all())
        self._chains: dict[str, list[str]] = {}

    def chain(self, code: str | None) -> list[str]:
        if not code:
            return []
        if code not in self.level and code in self.unit_county:
            code = self.unit_county[code]  # a complaint about a unit counts in the unit's county
        found = self._chains.get(code)
        if found is None:
            found, current = [], code
            while current is not None and current in self.level and len(found) < 8:
                found.append(current)
                current = self.parent.get(current)
            self._chains[code] = found
        return found


def decision_minutes(*, started_at: datetime | None, decided_at: datetime | None, paused_seconds: float, calendar) -> int | None:
    """Working minutes from the SLA clock's start to the decision, pauses excluded (None
    without a clock: a counter case decided in the visit, R10)."""
    if started_at is None or decided_at is None:
        return None
    worked = calendar.working_time_between(started_at, decided_at).total_seconds() - (paused_seconds or 0.0)
    return max(0, int(worked // 60))


def rollup_day(*, session: Session, day: date, settings: Settings, now: datetime) -> dict[str, int]:
    """Rebuild the roll-up rows of `day` (local date) for every region; idempotent.
    The caller commits. Returns counts of what was read and written."""
    t0 = time.perf_counter()
    if session.get_bind().dialect.name == "postgresql":
        # Two roll-ups of the same day (the sweep and an operator) must not interleave their
        # delete + insert; the lock ends with the transaction.
        session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=7_300_000 + day.toordinal()))
    start, end = local_day_bounds(day)
    tree = _Tree(session)
    cal = sla_service.calendar(session, settings)
    rows: dict[str, dict] = defaultdict(lambda: {c: 0 for c in COUNTERS} | {"decision_minutes": defaultdict(int)})
    read = 0

    def add(codes: list[str], counter: str, minutes: int | None = None) -> None:
        for code in codes:
            row = rows[code]
            row[counter] += 1
            if minutes is not None:
                row["decision_minutes"][minutes] += 1

    def case_chain(community: str, county: str, city: str) -> list[str]:
        chain = tree.chain(community)
        return chain or [c for c in (community, county, city) if c]

    A = Application
    for community, county, city in session.exec(
        select(A.community_code, A.county_code, A.city_code).where(A.submitted_at >= start, A.submitted_at < end)
    ):
        read += 1
        add(case_chain(community, county, city), "submitted")
    for community, county, city in session.exec(
        select(A.community_code, A.county_code, A.city_code).where(A.breached_at >= start, A.breached_at < end)
    ):
        read += 1
        add(case_chain(community, county, city), "breaches")
    decided = session.exec(
        select(A.community_code, A.county_code, A.city_code, A.decision, A.sla_started_at, A.decided_at, A.sla_paused_seconds, A.breached_at)
        .where(A.decided_at >= start, A.decided_at < end, A.decision.in_(AUDIT_DECISIONS))
    )
    for community, county, city, decision, started_at, decided_at, paused, breached_at in decided:
        read += 1
        chain = case_chain(community, county, city)
        add(chain, "decided", decision_minutes(started_at=started_at, decided_at=decided_at, paused_seconds=paused, calendar=cal))
        add(chain, {"approve": "approved", "reject": "rejected", "auto_issue": "auto_issued"}[decision])
        if breached_at is not None:
            add(chain, "decided_breached")
    for region_code in session.exec(
        select(ProvincialAuditItem.region_code).where(
            ProvincialAuditItem.kind == "complaint", ProvincialAuditItem.created_at >= start, ProvincialAuditItem.created_at < end
        )
    ):
        read += 1
        add(tree.chain(region_code), "complaints")

    session.exec(delete(TrendDaily).where(TrendDaily.day == day))
    for code, row in rows.items():
        session.add(TrendDaily(
            region_code=code, day=day, level=tree.level.get(code, "community"),
            **{c: row[c] for c in COUNTERS},
            decision_minutes={str(k): v for k, v in sorted(row["decision_minutes"].items())},
        ))
    marker = session.get(TrendRollup, day) or TrendRollup(day=day, rolled_at=now)
    marker.rolled_at, marker.final = now, now >= end
    marker.cases, marker.seconds = read, round(time.perf_counter() - t0, 4)
    session.add(marker)
    session.flush()
    return {"day": day.toordinal(), "read": read, "regions": len(rows)}


def rollup_range(*, session: Session, start: date, end: date, settings: Settings, now: datetime) -> int:
    """Roll up every day of [start, end] (on demand: `healthpass trends rollup`). Returns days."""
    if end < start:
        raise Invalid("the last day comes before the first", field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days at once", field="from")
    day = start
    while day <= end:
        rollup_day(session=session, day=day, settings=settings, now=now)
        day += timedelta(days=1)
    return (end - start).days + 1


def rollup_pending(*, session: Session, settings: Settings, now: datetime) -> list[date]:
    """What the SLA sweep calls: finalise the recent days that ended since their last roll-up
    (once each), and refresh today at most every TODAY_REFRESH. Cheap when nothing is due."""
    today = _local_date(now)
    days = [today - timedelta(days=n) for n in range(CATCH_UP_DAYS, -1, -1)]
    markers = {m.day: m for m in session.exec(select(TrendRollup).where(TrendRollup.day >= days[0]))}
    due = []
    for day in days:
        marker = markers.get(day)
        if day < today and (marker is None or not marker.final):
            due.append(day)
        elif day == today and (marker is None or now - marker.rolled_at >= TODAY_REFRESH):
            due.append(day)
    for day in due:
        rollup_day(session=session, day=day, settings=settings, now=now)
    return due


# --------------------------------------------------------------- read model ---

class TrendPoint(BaseModel):
    """One period (a day, or an ISO week clipped to the requested range) of one region."""

    start: date = Field(description="first local day of the period (Asia/Shanghai)")
    end: date = Field(description="last local day of the period (inclusive)")
    submitted: int
    decided: int = Field(description="audit decisions: approved + rejected + auto-issued")
    approved: int
    rejected: int
    auto_issued: int = Field(description="green passes the system issued after a breach (R12)")
    decided_breached: int = Field(description="decisions on cases whose SLA had breached")
    breaches: int = Field(description="cases whose SLA breached in the period (R13)")
    complaints: int = Field(description="complaints received about the area (R20)")
    breach_rate: float | None = Field(description="decided_breached / decided; null without decisions")
    auto_issue_rate: float | None = Field(description="auto_issued / decided")
    rejection_rate: float | None = Field(description="rejected / decided")
    timed: int = Field(description="decisions with an SLA clock (the decision-time sample)")
    median_hours: float | None = Field(description="median decision time in working hours (nearest rank)")
    p90_hours: float | None = Field(description="90th percentile decision time in working hours (nearest rank)")


class TrendRegion(BaseModel):
    code: str
    level: str
    name_zh: str
    name_en: str


class TrendChild(BaseModel):
    """A region one level below, with its figures over the whole period (drill-down)."""

    region: TrendRegion
    total: TrendPoint


class Trends(BaseModel):
    region: TrendRegion
    parents: list[TrendRegion] = Field(description="the regions above, inside the caller's area (breadcrumb)")
    granularity: Granularity
    start: date = Field(alias="from", serialization_alias="from")
    end: date = Field(alias="to", serialization_alias="to")
    points: list[TrendPoint]
    total: TrendPoint
    children: list[TrendChild] = Field(description="each region one level below, over the whole period")
    rolled_up_at: datetime | None = Field(description="the latest roll-up of a day in the range; null if none was rolled up yet")
    days_not_rolled_up: list[date] = Field(description="days of the range that have no roll-up yet (their figures show as zero)")

    model_config = {"populate_by_name": True}


def percentile(histogram: dict[int, int], p: float) -> int | None:
    """Nearest-rank percentile of {value: count}: the smallest value with at least
    ceil(p * n) observations at or below it."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p * n))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # unreachable


def _region(region: Region) -> TrendRegion:
    return TrendRegion(code=region.code, level=RegionLevel(region.level).value, name_zh=region.name_zh, name_en=region.name_en)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _point(start: date, end: date, counts: dict[str, int], histogram: dict[int, int]) -> TrendPoint:
    median, p90 = percentile(histogram, 0.5), percentile(histogram, 0.9)
    return TrendPoint(
        start=start, end=end, **{c: counts.get(c, 0) for c in COUNTERS},
        breach_rate=_rate(counts.get("decided_breached", 0), counts.get("decided", 0)),
        auto_issue_rate=_rate(counts.get("auto_issued", 0), counts.get("decided", 0)),
        rejection_rate=_rate(counts.get("rejected", 0), counts.get("decided", 0)),
        timed=sum(histogram.values()),
        median_hours=None if median is None else round(median / 60, 2),
        p90_hours=None if p90 is None else round(p90 / 60, 2),
    )


def default_range(*, granularity: Granularity, now: datetime) -> tuple[date, date]:
    today = _local_date(now)
    if granularity == "week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(weeks=11), today
    return today - timedelta(days=DEFAULT_DAYS["day"] - 1), today


def trends(*, session: Session, scope: Scope, region: str | None, granularity: Granularity, start: date | None, end: date | None, now: datetime) -> Trends:
    """The trends of one region of the caller's scope (default: the scope's own region; the
    province for the provincial office). 422 for an unknown region or a bad range, 403 for a
    region outside the scope."""
    if granularity not in ("day", "week"):
        raise Invalid("granularity must be day or week", field="granularity")
    if region is None:
        if scope.everything:
            province = session.exec(select(Region).where(Region.level == RegionLevel.province).order_by(Region.code)).first()
            if province is None:
                raise Invalid("no province in the region table", field="region")
            target = province
        elif scope.root is not None:
            target = scope.root
        else:
            raise Invalid("this account covers no region", field="region")
    else:
        scope.within(region)  # 422 unknown / 403 outside
        target = session.get(Region, region)
    for name, value in (("from", start), ("to", end)):
        if value is not None and not (YEARS[0] <= value.year <= YEARS[1]):
            raise Invalid(f"{name}: a day between {YEARS[0]} and {YEARS[1]}", field=name)
    first, last = default_range(granularity=granularity, now=now)
    span = last - first
    if start is None and end is None:
        start, end = first, last
    elif start is None:
        start = end - span
    elif end is None:
        end = max(start, min(last, start + span))
    if end < start:
        raise Invalid("'to' comes before 'from'", field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"the period covers at most {MAX_DAYS} days", field="from")

    rows = session.exec(
        select(TrendDaily).where(TrendDaily.region_code == target.code, TrendDaily.day >= start, TrendDaily.day <= end).order_by(TrendDaily.day)
    ).all()
    by_day = {row.day: row for row in rows}
    markers = session.exec(select(TrendRollup.day, TrendRollup.rolled_at).where(TrendRollup.day >= start, TrendRollup.day <= end)).all()
    rolled = {d for d, _ in markers}

    def period_of(day: date) -> date:
        return day - timedelta(days=day.weekday()) if granularity == "week" else day

    periods: dict[date, tuple[date, date, dict[str, int], dict[int, int]]] = {}
    total_counts: dict[str, int] = defaultdict(int)
    total_hist: dict[int, int] = defaultdict(int)
    day = start
    while day <= end:
        key = period_of(day)
        if key not in periods:
            periods[key] = (max(key, start), day, defaultdict(int), defaultdict(int))
        p_start, _, counts, hist = periods[key]
        periods[key] = (p_start, day, counts, hist)
        row = by_day.get(day)
        if row is not None:
            for c in COUNTERS:
                counts[c] += getattr(row, c)
                total_counts[c] += getattr(row, c)
            for minutes, n in (row.decision_minutes or {}).items():
                hist[int(minutes)] += n
                total_hist[int(minutes)] += n
        day += timedelta(days=1)

    children = list(session.exec(select(Region).where(Region.parent_code == target.code).order_by(Region.code)))
    child_counts: dict[str, dict[str, int]] = {c.code: defaultdict(int) for c in children}
    child_hist: dict[str, dict[int, int]] = {c.code: defaultdict(int) for c in children}
    if children:
        for row in session.exec(select(TrendDaily).where(
            TrendDaily.region_code.in_(list(child_counts)), TrendDaily.day >= start, TrendDaily.day <= end
        )):
            for c in COUNTERS:
                child_counts[row.region_code][c] += getattr(row, c)
            for minutes, n in (row.decision_minutes or {}).items():
                child_hist[row.region_code][int(minutes)] += n
    parents = []
    current = session.get(Region, target.parent_code) if target.parent_code else None
    while current is not None and scope.covers_region(current.code) and len(parents) < 8:
        parents.insert(0, _region(current))
        current = session.get(Region, current.parent_code) if current.parent_code else None

    return Trends(
        region=_region(target), parents=parents,
        children=[TrendChild(region=_region(c), total=_point(start, end, child_counts[c.code], child_hist[c.code])) for c in children],
        granularity=granularity, start=start, end=end,
        points=[_point(s, e, c, h) for s, e, c, h in periods.values()],
        total=_point(start, end, total_counts, total_hist),
        rolled_up_at=max((at for _, at in markers), default=None),
        days_not_rolled_up=[start + timedelta(days=n) for n in range((end - start).days + 1) if start + timedelta(days=n) not in rolled],
    )


CSV_COLUMNS = (
    "start", "end", "submitted", "decided", "approved", "rejected", "auto_issued", "decided_breached", "breaches",
    "complaints", "breach_rate", "auto_issue_rate", "rejection_rate", "timed", "median_hours", "p90_hours",
)


def csv_rows(result: Trends) -> list[list[str]]:
    """The table of the page and of the JSON, one row per period (and no total row: a
    spreadsheet sums itself); empty cells where a rate or percentile has no sample."""
    out = []
    for point in result.points:
        data = point.model_dump()
        out.append(["" if data[c] is None else str(data[c]) for c in CSV_COLUMNS])
    return out


def to_csv(result: Trends) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["region", *CSV_COLUMNS])
    for row in csv_rows(result):
        writer.writerow([result.region.code, *row])
    return buffer.getvalue()


__all__ = [
    "TrendChild", "TrendPoint", "TrendRegion", "Trends", "csv_rows", "decision_minutes", "default_range", "local_day_bounds",
    "percentile", "rollup_day", "rollup_pending", "rollup_range", "to_csv", "trends",
]
