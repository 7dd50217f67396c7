"""Trends for supervisors and the provincial office (issue 13): breach rate, decision time in
working hours (median, p90), auto-issue and rejection rates, complaints — per day or ISO week,
for one region of the caller's area, read from the daily roll-ups (cases/services/trends.py)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from api.deps import NowDep, SessionDep, require
from cases.errors import Forbidden, Invalid
from cases.models import Role, User
from cases.scope import scope_for
from cases.services import trends as trends_service

router = APIRouter(prefix="/api/v1/supervision", tags=["supervisors"])
SupervisorDep = Annotated[User, require(Role.supervisor, Role.auditor)]

RegionQuery = Annotated[
    str | None,
    Query(pattern=r"^\d{6}(\d{6})?$", description="a region of your area: city or county (6 digits) or community (12 digits); default your own (the province for the provincial office)"),
]
GranularityQuery = Annotated[Literal["day", "week"], Query(description="one point per local day, or per ISO week (Monday first)")]
FromQuery = Annotated[date | None, Query(alias="from", description="first local day (Asia/Shanghai), YYYY-MM-DD; default 28 days (day) or 12 weeks (week) back")]
ToQuery = Annotated[date | None, Query(alias="to", description="last local day (inclusive), YYYY-MM-DD; default today")]


def _read(session, user: User, region, granularity, first, last, now) -> trends_service.Trends:
    scope = scope_for(session, user)
    if not scope.everything and scope.root is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this supervisor account has no region")
    try:
        return trends_service.trends(session=session, scope=scope, region=region, granularity=granularity, start=first, end=last, now=now)
    except Invalid as exc:  # the shape of FastAPI's own 422: the query field and the reason
        raise HTTPException(422, [{"loc": ["query", exc.field or "query"], "msg": exc.message, "type": "value_error"}]) from None
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, exc.message) from None


@router.get("/trends", response_model=trends_service.Trends, response_model_by_alias=True)
def read_trends(
    session: SessionDep, user: SupervisorDep, now: NowDep, region: RegionQuery = None, granularity: GranularityQuery = "day",
    first: FromQuery = None, last: ToQuery = None,
) -> trends_service.Trends:
    """Trends of one region, from the daily roll-ups (the SLA sweep rolls up each ended day,
    and today every 10 minutes; `days_not_rolled_up` names days without figures yet)."""
    return _read(session, user, region, granularity, first, last, now)


@router.get("/trends.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}, "description": "the same rows as `points` of /trends"}})
def read_trends_csv(
    session: SessionDep, user: SupervisorDep, now: NowDep, region: RegionQuery = None, granularity: GranularityQuery = "day",
    first: FromQuery = None, last: ToQuery = None,
) -> Response:
    result = _read(session, user, region, granularity, first, last, now)
    name = f"trends-{result.region.code}-{result.granularity}-{result.start.isoformat()}-{result.end.isoformat()}.csv"
    return Response(
        trends_service.to_csv(result), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
