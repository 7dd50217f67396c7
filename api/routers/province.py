"""The provincial office (R21, R22): the audit queue with its evidence, claims, outcomes and
re-openings; the league table of cities, counties and communities; the threshold alerts sent
to the provincial leading group office. Provincial auditors and admins only.

Thin routes over `cases.services.oversight`; every list filters, pages and exports CSV with
the same rows and columns as the table."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from contextlib import contextmanager

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.clock import SHANGHAI
from cases.errors import Invalid
from cases.models import Role, User
from cases.services import oversight

router = APIRouter(prefix="/api/v1/province", tags=["province"])
AuditorDep = Annotated[User, require(Role.auditor, Role.admin)]

AreaQuery = Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$", description="only this city, county (6 digits) or community (12 digits)")]
FromQuery = Annotated[date | None, Query(alias="from", description="first day of the period (Asia/Shanghai), default 29 days before `to`")]
ToQuery = Annotated[date | None, Query(alias="to", description="last day of the period, inclusive (Asia/Shanghai), default today")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the audit item's number")]
OffsetQuery = Annotated[int, Query(ge=0, le=1_000_000)]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]
KindQuery = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$", description=", ".join(oversight.SOURCES))]
StatusQuery = Annotated[Literal["open", "claimed", "closed"] | None, Query(description="open (unclaimed), claimed, or closed (has an outcome)")]
OutcomeQuery = Annotated[oversight.AuditOutcome | None, Query()]
ThinQuery = Annotated[bool | None, Query(description="only rejections whose reason the record does not back (true) or the others (false)")]
LevelQuery = Annotated[Literal["city", "county", "community", "unit"], Query()]
SortQuery = Annotated[Literal[oversight.SORT_KEYS], Query()]  # type: ignore[valid-type]
OrderQuery = Annotated[Literal["asc", "desc"], Query()]


@contextmanager
def _named(where: str = "query"):
    """A domain 422 in FastAPI's own shape (loc, msg, type), naming the parameter."""
    try:
        yield
    except Invalid as exc:
        raise HTTPException(422, [{"loc": [where, exc.field or "query"], "msg": exc.message, "type": "value_error"}]) from None


def _period(today: datetime, start: date | None, end: date | None, *, optional: bool = False) -> tuple[datetime | None, datetime | None]:
    since, until, _, _ = oversight.period_bounds(today=today.astimezone(SHANGHAI).date(), start=start, end=end, optional=optional)
    return since, until


def _csv(body: str, name: str, now: datetime) -> Response:
    stamp = now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'})


CSV_RESPONSE = {"response_class": Response, "responses": {200: {"content": {"text/csv": {}}}}}


# ---------------------------------------------------------------- audit queue ---

@router.get("/audit-items", summary="The provincial audit queue (R21), newest first, filtered and paged")
def audit_items(
    user: AuditorDep, session: SessionDep, now: NowDep, kind: KindQuery = None, status: StatusQuery = None, thin: ThinQuery = None,
    outcome: OutcomeQuery = None, area: AreaQuery = None, from_: FromQuery = None, to: ToQuery = None, offset: OffsetQuery = 0, limit: LimitQuery = 50,
) -> oversight.AuditItemPage:
    with _named():
        since, until = _period(now, from_, to, optional=True)
        return oversight.list_items(
            session=session, kind=kind, status=status, thin=thin, outcome=outcome.value if outcome else None, area=area, since=since, until=until, offset=offset, limit=limit,
        )


@router.get("/audit-items.csv", summary="The audit queue as CSV: the same filters and rows as /audit-items, every page", **CSV_RESPONSE)
def audit_items_csv(
    user: AuditorDep, session: SessionDep, now: NowDep, kind: KindQuery = None, status: StatusQuery = None, thin: ThinQuery = None,
    outcome: OutcomeQuery = None, area: AreaQuery = None, from_: FromQuery = None, to: ToQuery = None,
) -> Response:
    with _named():
        since, until = _period(now, from_, to, optional=True)
        page = oversight.list_items(session=session, kind=kind, status=status, thin=thin, outcome=outcome.value if outcome else None, area=area, since=since, until=until, limit=0)
    return _csv(oversight.to_csv(page.items, oversight.ITEM_COLUMNS), "audit-items", now)


@router.get("/audit-items/{item_id}", summary="An audit item with its evidence: timeline, decision and reason, contact attempts, holders and their times")
def audit_item(item_id: ItemId, user: AuditorDep, session: SessionDep) -> oversight.AuditItemDetail:
    return oversight.item_detail(session=session, item_id=item_id)


class OutcomeIn(BaseModel):
    outcome: oversight.AuditOutcome
    note: str = Field(min_length=5, max_length=4000, description="what the finding rests on")

    model_config = {"json_schema_extra": {"examples": [{"outcome": "prevarication", "note": "The issuer was signed in and left the case for two days."}]}}


class NoteIn(BaseModel):
    note: str = Field(min_length=5, max_length=4000, description="why the item is re-opened")

    model_config = {"json_schema_extra": {"examples": [{"note": "The issuer was on sick leave that day; the roster shows it."}]}}


@router.post("/audit-items/{item_id}/claim", summary="Claim an audit item (one auditor at a time)")
def claim(item_id: ItemId, user: AuditorDep, session: SessionDep, now: NowDep) -> oversight.AuditItemRow:
    return oversight.claim_item(session=session, item_id=item_id, user=user, at=now)


@router.post("/audit-items/{item_id}/outcome", summary="Record the outcome of a claimed item, with a note (evented on the case)")
def outcome(item_id: ItemId, body: OutcomeIn, user: AuditorDep, session: SessionDep, now: NowDep) -> oversight.AuditItemRow:
    with _named("body"):
        return oversight.record_outcome(session=session, item_id=item_id, user=user, outcome=body.outcome.value, note=body.note, at=now)


@router.post("/audit-items/{item_id}/reopen", summary="Re-open a closed item, with a note (its earlier outcome stays in the history)")
def reopen(item_id: ItemId, body: NoteIn, user: AuditorDep, session: SessionDep, now: NowDep) -> oversight.AuditItemRow:
    with _named("body"):
        return oversight.reopen_item(session=session, item_id=item_id, user=user, note=body.note, at=now)


# ---------------------------------------------------------------- league table ---

@router.get("/league", summary="League table of cities, counties or communities for a period, sortable")
def league(
    user: AuditorDep, session: SessionDep, now: NowDep, level: LevelQuery = "city", from_: FromQuery = None, to: ToQuery = None,
    sort: SortQuery = "breach_rate", order: OrderQuery = "desc", area: AreaQuery = None, offset: OffsetQuery = 0, limit: LimitQuery = 100,
) -> oversight.LeagueTable:
    with _named():
        since, until = _period(now, from_, to)
        return oversight.league_table(session=session, level=level, since=since, until=until, sort=sort, descending=order == "desc", area=area, offset=offset, limit=limit)


@router.get("/league.csv", summary="The league table as CSV (same filters, order and rows, every page)", **CSV_RESPONSE)
def league_csv(
    user: AuditorDep, session: SessionDep, now: NowDep, level: LevelQuery = "city", from_: FromQuery = None, to: ToQuery = None,
    sort: SortQuery = "breach_rate", order: OrderQuery = "desc", area: AreaQuery = None,
) -> Response:
    with _named():
        since, until = _period(now, from_, to)
        table = oversight.league_table(session=session, level=level, since=since, until=until, sort=sort, descending=order == "desc", area=area, limit=0)
    return _csv(oversight.to_csv(table.rows, oversight.LEAGUE_COLUMNS), f"league-{level}", now)


# ---------------------------------------------------------------- thresholds ---

class RuleOut(BaseModel):
    key: str
    title: str
    days: int
    limit: float
    unit: str
    setting: str


class ThresholdsOut(BaseModel):
    rules: list[RuleOut]
    levels: list[str]
    min_cases: int
    alerts: oversight.AlertPage


def _rules(settings) -> list[RuleOut]:
    return [RuleOut(key=r.key, title=r.title, days=r.days, limit=float(getattr(settings, r.setting)), unit=r.unit, setting=f"HEALTHPASS_{r.setting.upper()}") for r in oversight.THRESHOLD_RULES]


def _day_after(day: date | None) -> date | None:
    if day is not None and day >= oversight.LATEST:
        raise Invalid(f"to must lie between {oversight.EARLIEST} and {oversight.LATEST}", field="to")
    return day + timedelta(days=1) if day else None


RuleQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,40}$", description=", ".join(r.key for r in oversight.THRESHOLD_RULES))]


@router.get("/thresholds", summary="R22: the threshold rules and the notices sent to the provincial leading group office")
def thresholds(
    user: AuditorDep, session: SessionDep, settings: SettingsDep, rule: RuleQuery = None, area: AreaQuery = None,
    from_: FromQuery = None, to: ToQuery = None, offset: OffsetQuery = 0, limit: LimitQuery = 50,
) -> ThresholdsOut:
    with _named():
        alerts = oversight.list_alerts(session=session, rule=rule, area=area, since=from_, until=_day_after(to), offset=offset, limit=limit)
    levels = [lvl.strip() for lvl in settings.threshold_levels.split(",") if lvl.strip()]
    return ThresholdsOut(rules=_rules(settings), levels=levels, min_cases=settings.threshold_min_cases, alerts=alerts)


@router.get("/thresholds.csv", summary="The threshold notices as CSV (same filters and rows as /thresholds)", **CSV_RESPONSE)
def thresholds_csv(user: AuditorDep, session: SessionDep, now: NowDep, rule: RuleQuery = None, area: AreaQuery = None, from_: FromQuery = None, to: ToQuery = None) -> Response:
    with _named():
        alerts = oversight.list_alerts(session=session, rule=rule, area=area, since=from_, until=_day_after(to), limit=0)
    return _csv(oversight.to_csv(alerts.items, oversight.ALERT_COLUMNS), "threshold-alerts", now)
