"""Isolation observation of arrivals (R8, R9): daily reports, the period as the applicant and
the community see it, and the community's outcome for an abnormal report."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import (
    ApplicantToken,
    NowDep,
    OptionalUser,
    SessionDep,
    SettingsDep,
    require,
)
from api.errors import invalid_response
from cases.clock import SHANGHAI
from cases.declaration_schema import SYMPTOMS, Day, HealthStatus, MultilineText, ReportIn  # noqa: F401 (the report body is shared with the pages)
from cases.errors import NotFound
from cases.models import DailyReport, Role, User
from cases.scope import scope_for
from cases.services import observation as service
from cases.services.access import load_case_for_reader
from cases.services.applications import get_application

router = APIRouter(prefix="/api/v1", tags=["observation"])
IssuerDep = Annotated[User, require(Role.issuer)]
ReviewerDep = Annotated[User, require(Role.issuer, Role.supervisor, Role.auditor, Role.admin)]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"result": "cleared", "outcome": "Visited; fever from a cold, 36.8 °C after 2 h; no other symptoms."}]})

    result: service.ReportResult = Field(
        default="cleared",
        description="cleared: the observation continues; fever_clinic: referred to a fever clinic, the observation stays held "
        "(record `cleared` once the clinic's result is back)",
    )
    outcome: Annotated[MultilineText, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="the note: what the community found and did, e.g. 'Visited; fever from a cold, 36.8 °C after 2 h; no other symptoms.'"
    )


@router.get(
    "/observation/abnormal-reports",
    summary="Abnormal daily reports waiting for the community's outcome, in your area (R8)",
    description="Issuers see their community's, supervisors their region's, the provincial office all. Oldest first. "
    "`may_record` tells whether you may record the outcome (issuers of the case's community).",
    response_model=list[service.AbnormalReportView],
)
def list_abnormal_reports(
    user: ReviewerDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[service.AbnormalReportView]:
    return service.open_abnormal_reports(session, scope=scope_for(session, user), user=user, settings=settings, limit=limit)


def _report_view(row: DailyReport) -> dict[str, Any]:
    return {
        "id": row.id,
        "day": row.day,
        "temperature": row.temperature,
        "symptoms": row.symptoms,
        "location_confirmed": row.location_confirmed,
        "late": row.late,
        "abnormal": row.abnormal,
        "reported_at": row.reported_at.astimezone(SHANGHAI),
        "resolved_at": row.resolved_at and row.resolved_at.astimezone(SHANGHAI),
    }


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("state", "days_reported", "days_missing", "missing_days", "held", "why", "green_on_schedule")
    return {**{k: view[k] for k in keys}, **view["period"]}


@router.post(
    "/applications/{case_id}/reports",
    status_code=status.HTTP_201_CREATED,
    summary="Daily health report during isolation observation (R8)",
    description="Authorised by the applicant's access token (`X-Access-Token` header or `?access_token=`). "
    "One report per calendar day (Asia/Shanghai): a second one for the same day is 409; a day outside "
    "the observation period or in the future is 422. A temperature of 37.3 °C or more, or any symptom, "
    "is abnormal: the community gets an urgent item and the period is held until it records an outcome. "
    f"Symptoms: {', '.join(SYMPTOMS)}.",
    responses={404: {"description": "No such case, or the token does not open it"}, 409: {"description": "Already reported that day, or not in observation"}, 422: invalid_response("Invalid field, named in `detail[].loc`")},
)
def submit_report(
    case_id: str,
    body: Annotated[ReportIn, Body()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: ApplicantToken,
) -> dict[str, Any]:
    app = load_case_for_reader(session, case_id, user=None, token=token, settings=settings)
    day = body.day or now.astimezone(SHANGHAI).date()
    row = service.report(session=session, application=app, day=day, temperature=body.temperature, symptoms=body.symptoms, location_confirmed=body.location_confirmed, at=now, settings=settings)
    session.commit()
    return {"report": _report_view(row), "observation": _summary(service.status(session, app, now=now, settings=settings))}


@router.get(
    "/applications/{case_id}/observation",
    summary="The observation period: each day's status, the end as a date and a countdown, held or not and why",
    description="Day 1 is the arrival date; the period ends at 00:00 (Asia/Shanghai) the day after the last day. "
    "Day status: reported, late, missing, abnormal, upcoming (today until reported, and the days to come).",
)
def read_observation(
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    user: OptionalUser,
    token: ApplicantToken,
) -> dict[str, Any]:
    app = load_case_for_reader(session, case_id, user=user, token=token, settings=settings)
    if app.kind != "arrival":
        raise NotFound("this case has no isolation observation (only arrivals observe)")
    return service.status(session, app, now=now, settings=settings)


@router.post(
    "/observation/{case_id}/abnormal/{report_id}/outcome",
    summary="Record the community's outcome for an abnormal report (the period is no longer held by it)",
    description="For an issuer of the case's community. `cleared` releases the hold; `fever_clinic` keeps the observation "
    "held (the report stays open until `cleared` is recorded). The note is kept in the case timeline; the applicant is told.",
)
def record_outcome(
    case_id: str,
    report_id: int,
    body: Annotated[OutcomeIn, Body()],
    user: IssuerDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:
    try:
        app = get_application(session, case_id)
    except NotFound:
        raise NotFound("application not found")
    if not service.may_record_outcome(user, app):
        raise NotFound("application not found")  # other communities' cases are not revealed
    row = service.record_outcome(session=session, application=app, report_id=report_id, outcome=body.outcome, result=body.result, by=user.id, at=now)
    session.commit()
    return {"report": {**_report_view(row), "outcome": body.outcome, "result": body.result}, "observation": _summary(service.status(session, app, now=now, settings=settings))}
