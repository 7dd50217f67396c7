"""Supervision read models (issue 13): open work by SLA state, breaches with responsibility
(R13), auto-issued passes (R12) and roster gaps (R18), for a supervisor's area.

Scope comes from `cases.scope` (the region tree). Every list is a `Page` (filtered, paged);
every table has a CSV twin built from the same rows (`csv_text`). Pure reads.

SLA states of open audit work (status awaiting_audit or awaiting_applicant):
- paused: awaiting the applicant (supplement asked), the clock is stopped;
- breached: the due time has passed (or the sweep recorded the breach);
- at risk: at least 80 % of the SLA used, i.e. at most 20 % of it left, counted in working
  hours on the case's calendar for online cases (R11), in clock hours at the counter (R10);
- on time: the rest.
The two "at risk" horizons are computed once per request in Python with the sla/ arithmetic,
so the classification is a plain comparison on `sla_due_at` that the database indexes.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, func, literal, or_
from sqlmodel import Session, select

import sla
from cases.clock import SHANGHAI
from cases.errors import DomainError, Forbidden
from cases.models import (
    Application,
    AuditTask,
    CaseChannel,
    CaseStatus,
    Region,
    RegionLevel,
    ResponsibilityRecord,
    User,
)
from cases.scope import Scope, scope_for
from cases.services import roster, sla_service
from cases.services.views import time_left_seconds
from cases.settings import Settings

AT_RISK_USED = 0.8  # "at risk" from 80 % of the SLA used (issue 13)
OPEN = (CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant)
MAX_PER_PAGE = 500


class SlaState(str, Enum):
    on_time = "on_time"
    at_risk = "at_risk"
    breached = "breached"
    paused = "paused"


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    total: int
    page: int
    per_page: int
    pages: int
    items: list[T]


def _page(items_total: int, page: int, per_page: int, items: list) -> dict[str, Any]:
    return {"total": items_total, "page": page, "per_page": per_page, "pages": max(1, -(-items_total // per_page)), "items": items}


# ------------------------------------------------------------------ scope ---

def area(session: Session, user: User, region: str | None = None) -> Scope:
    """The caller's scope narrowed to `region` (422 unknown, 403 outside)."""
    scope = scope_for(session, user)
    if not scope.everything and scope.root is None:
        raise Forbidden("this account supervises no region", field="region")
    return scope if region is None else scope.within(region)


def _child_column(scope: Scope):
    """The Application column holding the next level down of the scope's region."""
    if scope.everything:
        return Application.city_code, RegionLevel.city
    return {
        RegionLevel.city: (Application.county_code, RegionLevel.county),
        RegionLevel.county: (Application.community_code, RegionLevel.community),
    }.get(scope.root.level, (None, None))


# ------------------------------------------------------------- SLA state ---

class Horizons(BaseModel):
    """Instants that split open work into states at `now`."""

    now: datetime
    online_at_risk_by: datetime  # an online case due before this has >= 80 % used
    counter_at_risk_by: datetime


def horizons(*, session: Session, settings: Settings, now: datetime) -> Horizons:
    cal = sla_service.calendar(session, settings)
    policy = sla_service.policy(settings)
    left = 1.0 - AT_RISK_USED
    return Horizons(
        now=now,
        online_at_risk_by=cal.add_working_hours(now, policy.online_working_hours * left),
        counter_at_risk_by=now + timedelta(hours=policy.counter_clock_hours * left),
    )


def state_expression(h: Horizons):
    """SQL CASE giving each open case its SlaState (see the module docstring)."""
    return case(
        (Application.status == CaseStatus.awaiting_applicant, literal(SlaState.paused.value)),
        (or_(Application.breached_at != None, Application.sla_due_at <= h.now), literal(SlaState.breached.value)),  # noqa: E711
        (
            or_(
                and_(Application.channel != CaseChannel.counter, Application.sla_due_at <= h.online_at_risk_by),
                and_(Application.channel == CaseChannel.counter, Application.sla_due_at <= h.counter_at_risk_by),
            ),
            literal(SlaState.at_risk.value),
        ),
        else_=literal(SlaState.on_time.value),
    )


def state_clause(h: Horizons, state: SlaState):
    """The same classification as a where-clause (index-friendly) for one state."""
    paused = Application.status == CaseStatus.awaiting_applicant
    breached = or_(Application.breached_at != None, Application.sla_due_at <= h.now)  # noqa: E711
    at_risk = or_(
        and_(Application.channel != CaseChannel.counter, Application.sla_due_at <= h.online_at_risk_by),
        and_(Application.channel == CaseChannel.counter, Application.sla_due_at <= h.counter_at_risk_by),
    )
    running = Application.status == CaseStatus.awaiting_audit
    return {
        SlaState.paused: paused,
        SlaState.breached: and_(running, breached),
        SlaState.at_risk: and_(running, ~breached, at_risk),
        SlaState.on_time: and_(running, ~breached, ~at_risk),
    }[state]


def classify(app: Application, h: Horizons) -> SlaState:
    """One case's state, the same rule in Python (tests, single-case views)."""
    if app.status == CaseStatus.awaiting_applicant:
        return SlaState.paused
    if app.breached_at is not None or app.sla_due_at <= h.now:
        return SlaState.breached
    horizon = h.counter_at_risk_by if app.channel == CaseChannel.counter else h.online_at_risk_by
    return SlaState.at_risk if app.sla_due_at <= horizon else SlaState.on_time


def _open_work(scope: Scope):
    return select(Application).where(Application.status.in_(OPEN), Application.sla_due_at != None, Application.decision == None, scope.case_filter())  # noqa: E711


# --------------------------------------------------------------- summary ---

class StateCounts(BaseModel):
    on_time: int = 0
    at_risk: int = 0
    breached: int = 0
    paused: int = 0
    total: int = 0


class RegionCounts(StateCounts):
    code: str
    name_zh: str | None = None
    name_en: str | None = None
    level: str | None = None


class OpenWorkSummary(BaseModel):
    now: datetime
    region: str | None = Field(description="the region summarised (None: the whole province)")
    region_name: str | None = None
    level: str = Field(description="province, city, county or community")
    child_level: str | None = Field(description="the level of `children`; None below a community")
    at_risk_from: float = AT_RISK_USED
    counts: StateCounts
    children: list[RegionCounts]


def open_work_summary(*, session: Session, user: User, settings: Settings, now: datetime, region: str | None = None) -> OpenWorkSummary:
    """Counts per SLA state for the area, and per child region (city, county or community)."""
    scope = area(session, user, region)
    h = horizons(session=session, settings=settings, now=now)
    state = state_expression(h).label("state")
    column, child_level = _child_column(scope)
    where = _open_work(scope).whereclause
    # One GROUP BY (child region, state) gives both the area's counts and its children's;
    # below a community the region itself is the only group.
    group = column if column is not None else Application.community_code
    grouped: dict[str, dict[str, int]] = {}
    rows = select(group.label("code"), state).where(where).subquery()  # grouped by name: the CASE carries bound parameters
    for code, st, n in session.execute(select(rows.c.code, rows.c.state, func.count()).group_by(rows.c.code, rows.c.state)):
        grouped.setdefault(code, {})[st] = int(n)
    counts = StateCounts(**{s.value: sum(g.get(s.value, 0) for g in grouped.values()) for s in SlaState}, total=sum(sum(g.values()) for g in grouped.values()))
    children: list[RegionCounts] = []
    if column is not None:
        kids = select(Region).where(Region.level == child_level)
        if not scope.everything:
            kids = kids.where(Region.parent_code == scope.root.code)
        for kid in session.exec(kids.order_by(Region.code)):
            g = grouped.pop(kid.code, {})
            children.append(RegionCounts(code=kid.code, name_zh=kid.name_zh, name_en=kid.name_en, level=kid.level.value, total=sum(g.values()), **g))
        for code, g in sorted(grouped.items()):  # cases filed under a code the tree does not list
            children.append(RegionCounts(code=code, total=sum(g.values()), **g))
    root = scope.root
    return OpenWorkSummary(
        now=now.astimezone(SHANGHAI),
        region=None if scope.everything else root.code,
        region_name=None if scope.everything else root.name_zh,
        level="province" if scope.everything else root.level.value,
        child_level=None if child_level is None else child_level.value,
        counts=counts,
        children=children,
    )


# ------------------------------------------------------------- open work ---

class OpenWorkItem(BaseModel):
    application_id: str
    reference: str
    state: SlaState
    status: str
    channel: str
    city_code: str
    county_code: str
    community_code: str
    unit_code: str | None
    holder_kind: str | None = Field(description="community or unit holding the audit task (R13)")
    holder_code: str | None
    issuer: str | None = Field(description="the issuer who claimed it (username), None while unclaimed")
    submitted_at: datetime
    due_at: datetime
    time_left_seconds: float | None = Field(description="working time (online) or clock time (counter); negative when overdue")
    used_percent: float | None = Field(description="share of the SLA used")
    provisional: bool
    red_list: bool
    staff_url: str


def open_work(
    *, session: Session, user: User, settings: Settings, now: datetime, region: str | None = None,
    state: SlaState | None = None, page: int = 1, per_page: int = 50, everything: bool = False,
) -> dict[str, Any]:
    """Open audit work in the area, most urgent first; `everything` = all rows (CSV)."""
    scope = area(session, user, region)
    h = horizons(session=session, settings=settings, now=now)
    query = _open_work(scope)
    if state is not None:
        query = query.where(state_clause(h, state))
    total = session.execute(query.with_only_columns(func.count())).scalar_one()
    rows_q = (
        query.with_only_columns(Application, AuditTask, User.username)
        .join(AuditTask, AuditTask.application_id == Application.id, isouter=True)
        .join(User, User.id == AuditTask.claimed_by, isouter=True)
        .order_by(Application.sla_due_at, Application.id)
    )
    if not everything:
        rows_q = rows_q.offset((page - 1) * per_page).limit(per_page)
    cal = sla_service.calendar(session, settings)
    policy = sla_service.policy(settings)
    items = []
    for app, task, username in session.execute(rows_q):
        left = time_left_seconds(app, now, cal)
        full = (policy.counter_clock_hours if app.channel == CaseChannel.counter else policy.online_working_hours) * 3600
        items.append(OpenWorkItem(
            application_id=app.id, reference=app.reference, state=classify(app, h), status=app.status.value, channel=app.channel.value,
            city_code=app.city_code, county_code=app.county_code, community_code=app.community_code, unit_code=app.unit_code,
            holder_kind=task.holder_kind if task else None, holder_code=task.holder_code if task else None, issuer=username,
            submitted_at=app.submitted_at.astimezone(SHANGHAI), due_at=app.sla_due_at.astimezone(SHANGHAI), time_left_seconds=left,
            used_percent=None if left is None or not full else round(100 * (1 - left / full), 1),
            provisional=bool(app.sla_provisional), red_list=app.red_list, staff_url=f"/staff/cases/{app.id}",
        ))
    return _page(total, page, per_page, items)


# --------------------------------------------------------------- breaches ---

class Holding(BaseModel):
    kind: str
    code: str
    seconds: float


class BreachItem(BaseModel):
    application_id: str
    reference: str
    status: str
    city_code: str
    county_code: str
    community_code: str
    unit_code: str | None
    responsible_kind: str = Field(description="community or unit bearing the delay (R13)")
    responsible_code: str
    responsible_name: str | None
    issuers: list[str]
    ownership: list[Holding] = Field(description="how long each holder had the case before the breach (R13)")
    due_at: datetime
    breach_at: datetime
    delay_seconds: float
    outcome: str | None
    open: bool
    staff_url: str


def breaches(
    *, session: Session, user: User, now: datetime, region: str | None = None, responsible: str | None = None,
    open_only: bool | None = None, since: datetime | None = None, until: datetime | None = None,
    page: int = 1, per_page: int = 50, everything: bool = False,
) -> dict[str, Any]:
    scope = area(session, user, region)
    query = select(ResponsibilityRecord, Application).join(Application, Application.id == ResponsibilityRecord.application_id).where(scope.case_filter())
    if responsible is not None:
        query = query.where(ResponsibilityRecord.responsible_code == responsible)
    if open_only is not None:
        query = query.where(Application.decision == None if open_only else Application.decision != None)  # noqa: E711
    if since is not None:
        query = query.where(ResponsibilityRecord.breach_at >= since)
    if until is not None:
        query = query.where(ResponsibilityRecord.breach_at < until)
    total = session.execute(query.with_only_columns(func.count())).scalar_one()
    query = query.order_by(ResponsibilityRecord.breach_at.desc(), ResponsibilityRecord.id.desc())
    if not everything:
        query = query.offset((page - 1) * per_page).limit(per_page)
    rows = session.exec(query).all()
    codes = sorted({record.responsible_code for record, _ in rows})
    names = dict(session.execute(select(Region.code, Region.name_zh).where(Region.code.in_(codes))).all()) if codes else {}
    items = []
    for record, app in rows:
        delay = record.delay_seconds if record.delay_seconds is not None else ((app.decided_at or now) - record.due_at).total_seconds()
        items.append(BreachItem(
            application_id=app.id, reference=app.reference, status=app.status.value, city_code=app.city_code, county_code=app.county_code,
            community_code=app.community_code, unit_code=app.unit_code, responsible_kind=record.responsible_kind, responsible_code=record.responsible_code,
            responsible_name=names.get(record.responsible_code), issuers=[str(i) for i in record.issuers],
            ownership=[Holding(kind=o.get("kind", ""), code=o.get("code", ""), seconds=float(o.get("seconds", 0))) for o in record.ownership or []],
            due_at=record.due_at.astimezone(SHANGHAI), breach_at=record.breach_at.astimezone(SHANGHAI), delay_seconds=delay,
            outcome=record.outcome or app.decision, open=app.decision is None, staff_url=f"/staff/cases/{app.id}",
        ))
    return _page(total, page, per_page, items)


# ------------------------------------------------------------ auto-issues ---

class AutoIssueItem(BaseModel):
    application_id: str
    reference: str
    city_code: str
    county_code: str
    community_code: str
    unit_code: str | None
    responsible_code: str | None
    due_at: datetime | None
    breach_at: datetime | None
    issued_at: datetime | None = Field(description="when the system issued the pass (R12)")
    staff_url: str


def auto_issues(
    *, session: Session, user: User, region: str | None = None, since: datetime | None = None, until: datetime | None = None,
    page: int = 1, per_page: int = 50, everything: bool = False,
) -> dict[str, Any]:
    scope = area(session, user, region)
    query = (
        select(Application, ResponsibilityRecord)
        .join(ResponsibilityRecord, ResponsibilityRecord.application_id == Application.id, isouter=True)
        .where(Application.decision == "auto_issue", scope.case_filter())
    )
    if since is not None:
        query = query.where(Application.decided_at >= since)
    if until is not None:
        query = query.where(Application.decided_at < until)
    total = session.execute(query.with_only_columns(func.count())).scalar_one()
    query = query.order_by(Application.decided_at.desc(), Application.id)
    if not everything:
        query = query.offset((page - 1) * per_page).limit(per_page)
    items = [
        AutoIssueItem(
            application_id=app.id, reference=app.reference, city_code=app.city_code, county_code=app.county_code, community_code=app.community_code,
            unit_code=app.unit_code, responsible_code=record.responsible_code if record else None,
            due_at=app.sla_due_at and app.sla_due_at.astimezone(SHANGHAI), breach_at=app.breached_at and app.breached_at.astimezone(SHANGHAI),
            issued_at=app.decided_at and app.decided_at.astimezone(SHANGHAI), staff_url=f"/staff/cases/{app.id}",
        )
        for app, record in session.exec(query)
    ]
    return _page(total, page, per_page, items)


# ------------------------------------------------------------ roster gaps ---

class RosterGap(BaseModel):
    community: str
    name: str
    county: str | None
    gap: str = Field(description="no_registered_issuer, or no_issuer_signed_in (only once today's first working interval has begun)")
    registered: int


def sign_in_due(*, session: Session, settings: Settings, now: datetime) -> bool:
    """R18's grace: nobody is expected signed in before today's first working interval
    begins (at 01:45, or on a holiday, a missing sign-in is not a gap)."""
    cal = sla_service.calendar(session, settings)
    day = now.astimezone(SHANGHAI).date()
    try:
        intervals = cal.intervals_on(day)
    except sla.CalendarNotCovered:
        return False
    return bool(intervals) and now >= intervals[0][0]


def roster_gaps(
    *, session: Session, user: User, settings: Settings, now: datetime, region: str | None = None, gap: str | None = None,
    page: int = 1, per_page: int = 50, everything: bool = False,
) -> dict[str, Any]:
    scope = area(session, user, region)
    due = sign_in_due(session=session, settings=settings, now=now)
    parents = {r.code: r.parent_code for r in scope.communities()}
    rows = []
    for g in roster.gaps(session=session, at=now, scope=scope):
        if g["gap"] == "no_issuer_signed_in" and not due:
            continue
        if gap is not None and g["gap"] != gap:
            continue
        rows.append(RosterGap(community=g["community"], name=g["name"], county=parents.get(g["community"]), gap=g["gap"], registered=g.get("registered", 0)))
    shown = rows if everything else rows[(page - 1) * per_page: page * per_page]
    return _page(len(rows), page, per_page, shown)


# -------------------------------------------------------------------- CSV ---

def _csv_safe(value: Any) -> str:
    """No spreadsheet formulas from data (CSV injection)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, Enum):
        value = value.value
    elif isinstance(value, list):
        value = ";".join(f"{v.kind}:{v.code}:{v.seconds:.0f}" if isinstance(v, Holding) else str(v) for v in value)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _numeric(text) else text


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_text(items: list[BaseModel], model: type[BaseModel]) -> str:
    """The rows of a table as CSV, one column per field of its model, same order."""
    columns = list(model.model_fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([_csv_safe(getattr(item, c)) for c in columns])
    return out.getvalue()


# ------------------------------------------- the first supervision API (kept) ---
# /breaches, /breaches.csv and /at-risk keep their shapes; their queries live here.

BREACH_CSV_COLUMNS = [
    "reference", "application_id", "status", "community_code", "unit_code", "county_code", "city_code",
    "responsible_kind", "responsible_code", "issuers", "due_at", "breach_at", "delay_seconds", "outcome", "open", "red_list",
]


class CalendarUnavailable(DomainError):
    """The working calendar does not cover the instant asked about (R11)."""

    status_code = 503
    code = "calendar_not_covered"


def _counts(session: Session, base, *columns) -> dict[str, int]:
    query = base.with_only_columns(*columns, func.count()).group_by(*columns).order_by(*columns)
    return {"/".join(str(c) for c in row[:-1]): row[-1] for row in session.execute(query)}


def _total(session: Session, base) -> int:
    return session.execute(base.with_only_columns(func.count())).scalar_one()


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(SHANGHAI)


def _breach_query(scope: Scope, since: datetime | None, until: datetime | None):
    query = select(ResponsibilityRecord, Application).join(Application, Application.id == ResponsibilityRecord.application_id).where(scope.case_filter())
    if since is not None:
        query = query.where(ResponsibilityRecord.breach_at >= since)
    if until is not None:
        query = query.where(ResponsibilityRecord.breach_at < until)
    return query


def _breach_view(record: ResponsibilityRecord, app: Application, now: datetime) -> dict[str, Any]:
    # R13's outcome and delay: the record's own once the system auto-issued; for a human
    # decision after the breach, the case's decision and its time.
    delay = record.delay_seconds if record.delay_seconds is not None else ((app.decided_at or now) - record.due_at).total_seconds()
    return {
        "application_id": app.id, "reference": app.reference, "status": app.status, "channel": app.channel,
        "community_code": app.community_code, "unit_code": app.unit_code, "county_code": app.county_code, "city_code": app.city_code,
        "responsible": {"kind": record.responsible_kind, "code": record.responsible_code}, "issuers": record.issuers, "ownership": record.ownership,
        "due_at": _local(record.due_at), "breach_at": _local(record.breach_at), "recorded_at": _local(record.created_at),
        "delay_seconds": delay, "outcome": record.outcome or app.decision, "open": app.decision is None, "red_list": app.red_list,
    }


def breach_report(*, session: Session, user: User, now: datetime, region: str | None, since: datetime | None, until: datetime | None, limit: int) -> dict[str, Any]:
    """Breaches with responsibility (R13), newest first, with counts per community, county and holder."""
    base = _breach_query(area(session, user, region), since, until)
    rows = session.exec(base.order_by(ResponsibilityRecord.breach_at.desc(), ResponsibilityRecord.id.desc()).limit(limit)).all()
    return {
        "total": _total(session, base),
        "counts": {
            "by_community": _counts(session, base, Application.community_code),
            "by_county": _counts(session, base, Application.county_code),
            "by_responsible": _counts(session, base, ResponsibilityRecord.responsible_kind, ResponsibilityRecord.responsible_code),
        },
        "items": [_breach_view(record, app, now) for record, app in rows],
    }


def breach_csv(*, session: Session, user: User, now: datetime, region: str | None, since: datetime | None, until: datetime | None) -> str:
    base = _breach_query(area(session, user, region), since, until)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BREACH_CSV_COLUMNS)
    for record, app in session.exec(base.order_by(ResponsibilityRecord.breach_at, ResponsibilityRecord.id)):
        view = _breach_view(record, app, now)
        row = {
            **view, "status": app.status.value, "responsible_kind": record.responsible_kind, "responsible_code": record.responsible_code,
            "issuers": ";".join(str(i) for i in record.issuers), "delay_seconds": f"{view['delay_seconds']:.0f}",
        }
        writer.writerow([_csv_safe(row[c]) for c in BREACH_CSV_COLUMNS])
    return out.getvalue()


def at_risk_report(*, session: Session, user: User, settings: Settings, now: datetime, within_hours: float, region: str | None, limit: int) -> dict[str, Any]:
    """Cases awaiting audit due within `within_hours` (working hours online, clock hours at the counter), or overdue."""
    scope = area(session, user, region)
    cal = sla_service.calendar(session, settings)
    try:
        horizon_working = cal.add_working_hours(now, within_hours)
    except sla.CalendarNotCovered as exc:
        raise CalendarUnavailable(str(exc)) from exc
    horizon_clock = now + timedelta(hours=within_hours)
    base = (
        select(Application, AuditTask)
        .join(AuditTask, AuditTask.application_id == Application.id, isouter=True)
        .where(
            Application.status == CaseStatus.awaiting_audit,  # a paused clock (awaiting the applicant) is not at risk
            Application.sla_due_at != None,  # noqa: E711
            or_(
                and_(Application.channel != CaseChannel.counter, Application.sla_due_at <= horizon_working),
                and_(Application.channel == CaseChannel.counter, Application.sla_due_at <= horizon_clock),
            ),
            scope.case_filter(),
        )
    )
    items = []
    for app, task in session.exec(base.order_by(Application.sla_due_at, Application.id).limit(limit)):
        items.append({
            "application_id": app.id, "reference": app.reference, "channel": app.channel, "community_code": app.community_code,
            "unit_code": app.unit_code, "county_code": app.county_code, "city_code": app.city_code,
            "holder": {"kind": task.holder_kind, "code": task.holder_code} if task else None, "claimed": bool(task and task.claimed_by),
            "due_at": _local(app.sla_due_at), "time_left_seconds": time_left_seconds(app, now, cal), "breached": app.sla_due_at <= now, "red_list": app.red_list,
        })
    return {
        "now": _local(now), "within_hours": within_hours, "total": _total(session, base),
        "counts": {"by_community": _counts(session, base, Application.community_code), "by_county": _counts(session, base, Application.county_code)},
        "items": items,
    }
