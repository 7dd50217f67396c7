"""Supervision: SLA breaches, at-risk cases, escalation queues and the provincial audit
queue for supervisors (community head, county, city) and the provincial office (R12, R13, R21).

Scope: `cases.scope`, derived from the region tree: a supervisor sees their region and
everything below it ("370000" = the whole province); the provincial office (auditor) sees everything.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime
from sqlalchemy import func, or_
from sqlmodel import Session, select

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.clock import SHANGHAI
from cases.models import (
    Application,
    Notification,
    ProvincialAuditItem,
    Region,
    Role,
    User,
)
from cases.scope import Scope, scope_for
from cases.services import supervision

router = APIRouter(prefix="/api/v1/supervision", tags=["supervisors"])
SupervisorDep = Annotated[User, require(Role.supervisor, Role.auditor)]
AuditorDep = Annotated[User, require(Role.auditor)]
PROVINCE = "370000"

RegionQuery = Annotated[
    str | None,
    Query(pattern=r"^\d{6}(\d{6})?$", description="a region code inside your own: city, county (6 digits) or community (12 digits)"),
]
SinceQuery = Annotated[AwareDatetime | None, Query(description="from this instant (inclusive), ISO 8601 with offset")]
UntilQuery = Annotated[AwareDatetime | None, Query(description="until this instant (exclusive), ISO 8601 with offset")]
LimitQuery = Annotated[int, Query(ge=1, le=5000)]


# ------------------------------------------------------------------ scope ---

def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["query", field], "msg": message, "type": "value_error"}])


def _scope(session: Session, user: User, region: str | None = None) -> Scope:
    """The caller's scope (cases.scope, from the region tree), narrowed to `region` if given."""
    scope = scope_for(session, user)
    if not scope.everything and scope.root is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this supervisor account has no region" if user.region_code is None else f"unknown region {user.region_code}")
    if region is None:
        return scope
    if session.get(Region, region) is None:
        raise _unprocessable("region", f"unknown region {region}")
    if not scope.covers_region(region):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"region {region} lies outside your region {user.region_code}")
    return scope.within(region)


def _case_filters(session: Session, user: User, region: str | None) -> list:
    """Where-clauses on Application: the caller's scope, narrowed to `region` if given."""
    return [_scope(session, user, region).case_filter()]


def _check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise _unprocessable("until", "until must be later than since")


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(SHANGHAI)


def _counts(session: Session, base, *columns) -> dict[str, int]:
    query = base.with_only_columns(*columns, func.count()).group_by(*columns).order_by(*columns)
    return {"/".join(str(c) for c in row[:-1]): row[-1] for row in session.execute(query)}


def _total(session: Session, base) -> int:
    return session.execute(base.with_only_columns(func.count())).scalar_one()


# --------------------------------------------------------------- breaches ---
# The queries live in cases.services.supervision; the routes parse, authorise and shape.

@router.get("/breaches", summary="SLA breaches with responsibility (R13), and counts per community and county")
def breaches(
    user: SupervisorDep,
    session: SessionDep,
    now: NowDep,
    region: RegionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: LimitQuery = 500,
) -> dict[str, Any]:
    _check_window(since, until)
    return supervision.breach_report(session=session, user=user, now=now, region=region, since=since, until=until, limit=limit)


@router.get(
    "/breaches.csv",
    summary="SLA breaches as CSV (same filters as /breaches)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def breaches_csv(
    user: SupervisorDep,
    session: SessionDep,
    now: NowDep,
    region: RegionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> Response:
    _check_window(since, until)
    text = supervision.breach_csv(session=session, user=user, now=now, region=region, since=since, until=until)
    return _csv(text, "breaches", region, user, now)


# ---------------------------------------------------------------- at risk ---

@router.get("/at-risk", summary="Cases awaiting audit that are due within N hours, or overdue")
def at_risk(
    user: SupervisorDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    within_hours: Annotated[float, Query(ge=0, le=720, description="working hours (online, R11) or clock hours (counter, R10) left")] = 2,
    region: RegionQuery = None,
    limit: LimitQuery = 500,
) -> dict[str, Any]:
    return supervision.at_risk_report(session=session, user=user, settings=settings, now=now, within_hours=within_hours, region=region, limit=limit)


# ---------------------------------------------------------- notifications ---

def _recipient_scope(session: Session, user: User):
    """Notifications addressed to the caller's region or any region or unit inside it."""
    return _scope(session, user).code_filter(Notification.recipient_code)


@router.get("/notifications", summary="My queue: escalations addressed to my region or below")
def notifications(
    user: SupervisorDep,
    session: SessionDep,
    level: Annotated[Literal["issuer", "community_head", "county", "city", "province", "unit"] | None, Query()] = None,
    unread: Annotated[bool | None, Query(description="only unread (true) or only read (false)")] = None,
    since: SinceQuery = None,
    limit: LimitQuery = 200,
) -> list[dict[str, Any]]:
    query = select(Notification, Application.reference).join(Application, Application.id == Notification.application_id, isouter=True).where(_recipient_scope(session, user))
    if level is not None:
        query = query.where(Notification.recipient_level == level)
    if unread is not None:
        query = query.where(Notification.read_at == None if unread else Notification.read_at != None)  # noqa: E711
    if since is not None:
        query = query.where(Notification.created_at >= since)
    rows = session.exec(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return [
        {
            "id": n.id,
            "application_id": n.application_id,
            "reference": reference,
            "recipient_level": n.recipient_level,
            "recipient_code": n.recipient_code,
            "kind": n.kind,
            "message": n.message,
            "created_at": _local(n.created_at),
            "read_at": _local(n.read_at),
        }
        for n, reference in rows
    ]


@router.post("/notifications/{notification_id}/read", summary="Mark a notification of my queue as read")
def mark_read(notification_id: int, user: SupervisorDep, session: SessionDep, now: NowDep) -> dict[str, Any]:
    row = session.exec(select(Notification).where(Notification.id == notification_id, _recipient_scope(session, user))).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such notification in your queue")
    if row.read_at is None:
        row.read_at = now
        session.add(row)
        session.commit()
    return {"id": row.id, "read_at": _local(row.read_at)}


# ------------------------------------------------------ provincial audit ---

@router.get("/provincial-audit", summary="The provincial audit queue: breaches, refusals, thin rejections, complaints (R21)")
def provincial_audit(
    user: AuditorDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$", description="breach, rejection, unit_refusal, complaint, ...")] = None,
    open_: Annotated[bool | None, Query(alias="open", description="only open (true) or only closed (false) items")] = None,
    region: RegionQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: LimitQuery = 500,
) -> dict[str, Any]:
    _check_window(since, until)
    base = select(ProvincialAuditItem, Application.reference).join(Application, Application.id == ProvincialAuditItem.application_id, isouter=True)
    if kind is not None:
        base = base.where(ProvincialAuditItem.kind == kind)
    if open_ is not None:
        base = base.where(ProvincialAuditItem.closed_at == None if open_ else ProvincialAuditItem.closed_at != None)  # noqa: E711
    if region is not None and region != PROVINCE:
        inside = _scope(session, user, region)
        # items held by a community or unit in the region, or about a case in it
        base = base.where(or_(inside.code_filter(ProvincialAuditItem.region_code), inside.case_filter()))
    if since is not None:
        base = base.where(ProvincialAuditItem.created_at >= since)
    if until is not None:
        base = base.where(ProvincialAuditItem.created_at < until)
    rows = session.exec(base.order_by(ProvincialAuditItem.created_at.desc(), ProvincialAuditItem.id.desc()).limit(limit))
    return {
        "total": _total(session, base),
        "counts": {"by_kind": _counts(session, base, ProvincialAuditItem.kind)},
        "items": [
            {
                "id": item.id,
                "kind": item.kind,
                "application_id": item.application_id,
                "reference": reference,
                "region_code": item.region_code,
                "summary": item.summary,
                "created_at": _local(item.created_at),
                "outcome": item.outcome,
                "closed_at": _local(item.closed_at),
            }
            for item, reference in rows
        ],
    }


# ------------------------------------------- issue 13: read models in cases/ ---
# Thin callers of cases.services.supervision: each table has a paged JSON form and a CSV twin
# with the same rows (all pages).

PageQuery = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
PerPageQuery = Annotated[int, Query(ge=1, le=supervision.MAX_PER_PAGE, description="rows per page")]


def _csv(text: str, name: str, region: str | None, user: User, now: datetime) -> Response:
    stamp = now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}-{region or user.region_code or "all"}-{stamp}.csv"'})


CSV_RESPONSE = {"response_class": Response, "responses": {200: {"content": {"text/csv": {}}}}}


@router.get("/open-work/summary", summary="Open work by SLA state: counts for the area and per child region (drill-down)", response_model=supervision.OpenWorkSummary)
def open_work_summary(user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep, region: RegionQuery = None) -> supervision.OpenWorkSummary:
    return supervision.open_work_summary(session=session, user=user, settings=settings, now=now, region=region)


@router.get("/open-work", summary="Open work by SLA state (on time, at risk, breached, paused), most urgent first", response_model=supervision.Page[supervision.OpenWorkItem])
def open_work(
    user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep, region: RegionQuery = None,
    state: supervision.SlaState | None = None, page: PageQuery = 1, per_page: PerPageQuery = 50,
) -> dict[str, Any]:
    return supervision.open_work(session=session, user=user, settings=settings, now=now, region=region, state=state, page=page, per_page=per_page)


@router.get("/open-work.csv", summary="Open work as CSV (the same rows as /open-work, every page)", **CSV_RESPONSE)
def open_work_csv(user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep, region: RegionQuery = None, state: supervision.SlaState | None = None) -> Response:
    rows = supervision.open_work(session=session, user=user, settings=settings, now=now, region=region, state=state, everything=True)["items"]
    return _csv(supervision.csv_text(rows, supervision.OpenWorkItem), "open-work", region, user, now)


ResponsibleQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Za-z-]{1,16}$", description="the responsible community or unit code")]
OpenQuery = Annotated[bool | None, Query(alias="open", description="only undecided (true) or decided (false) cases")]


@router.get("/responsibility", summary="Breaches with the responsible community or unit and each holder's time (R13), paged", response_model=supervision.Page[supervision.BreachItem])
def responsibility(
    user: SupervisorDep, session: SessionDep, now: NowDep, region: RegionQuery = None, responsible: ResponsibleQuery = None,
    open_: OpenQuery = None, since: SinceQuery = None, until: UntilQuery = None, page: PageQuery = 1, per_page: PerPageQuery = 50,
) -> dict[str, Any]:
    _check_window(since, until)
    return supervision.breaches(session=session, user=user, now=now, region=region, responsible=responsible, open_only=open_, since=since, until=until, page=page, per_page=per_page)


@router.get("/responsibility.csv", summary="Breaches with responsibility as CSV (the same rows as /responsibility, every page)", **CSV_RESPONSE)
def responsibility_csv(
    user: SupervisorDep, session: SessionDep, now: NowDep, region: RegionQuery = None, responsible: ResponsibleQuery = None,
    open_: OpenQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> Response:
    _check_window(since, until)
    rows = supervision.breaches(session=session, user=user, now=now, region=region, responsible=responsible, open_only=open_, since=since, until=until, everything=True)["items"]
    return _csv(supervision.csv_text(rows, supervision.BreachItem), "responsibility", region, user, now)


@router.get("/auto-issues", summary="Passes the system issued after a breach (R12), paged", response_model=supervision.Page[supervision.AutoIssueItem])
def auto_issues(
    user: SupervisorDep, session: SessionDep, region: RegionQuery = None, since: SinceQuery = None, until: UntilQuery = None,
    page: PageQuery = 1, per_page: PerPageQuery = 50,
) -> dict[str, Any]:
    _check_window(since, until)
    return supervision.auto_issues(session=session, user=user, region=region, since=since, until=until, page=page, per_page=per_page)


@router.get("/auto-issues.csv", summary="Auto-issued passes as CSV (the same rows as /auto-issues, every page)", **CSV_RESPONSE)
def auto_issues_csv(user: SupervisorDep, session: SessionDep, now: NowDep, region: RegionQuery = None, since: SinceQuery = None, until: UntilQuery = None) -> Response:
    _check_window(since, until)
    rows = supervision.auto_issues(session=session, user=user, region=region, since=since, until=until, everything=True)["items"]
    return _csv(supervision.csv_text(rows, supervision.AutoIssueItem), "auto-issues", region, user, now)


GapQuery = Annotated[Literal["no_registered_issuer", "no_issuer_signed_in"] | None, Query(description="which kind of gap")]


@router.get("/roster-gaps", summary="Communities with no registered issuer, or none signed in once the working day has begun (R18), paged", response_model=supervision.Page[supervision.RosterGap])
def roster_gaps(
    user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep, region: RegionQuery = None, gap: GapQuery = None,
    page: PageQuery = 1, per_page: PerPageQuery = 50,
) -> dict[str, Any]:
    return supervision.roster_gaps(session=session, user=user, settings=settings, now=now, region=region, gap=gap, page=page, per_page=per_page)


@router.get("/roster-gaps.csv", summary="Roster gaps as CSV (the same rows as /roster-gaps, every page)", **CSV_RESPONSE)
def roster_gaps_csv(user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep, region: RegionQuery = None, gap: GapQuery = None) -> Response:
    rows = supervision.roster_gaps(session=session, user=user, settings=settings, now=now, region=region, gap=gap, everything=True)["items"]
    return _csv(supervision.csv_text(rows, supervision.RosterGap), "roster-gaps", region, user, now)
