"""Staff side of one case and the notification queue: read, acknowledge, reassign, nudge,
decide an escalated case, revoke a pass. Thin: cases.services.staff_case and .actions do it."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.clock import SHANGHAI
from cases.errors import DecisionConflict
from cases.models import Role, User
from cases.services import actions
from cases.services.staff_case import StaffCase, load_staff_case, staff_case

router = APIRouter(prefix="/api/v1/staff", tags=["supervisors"])
StaffDep = Annotated[User, require(Role.supervisor, Role.auditor, Role.admin)]
SupervisorDep = Annotated[User, require(Role.supervisor)]
KindQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,40}$", description="e.g. sla_breach, sla_warn_80, nudge")]
AckQuery = Annotated[bool | None, Query(description="only acknowledged (true) or only unacknowledged (false)")]


@router.get("/cases/{case_id}", response_model=StaffCase, summary="The staff view of a case: masked declaration, comparison, task and holder, SLA state, timeline, R13 record, pass, allowed actions")
def read_case(case_id: str, user: StaffDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> StaffCase:
    app = load_staff_case(session, case_id, user=user)
    return staff_case(session, app, user=user, now=now, settings=settings)


class ReassignIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"to_username": "heping-issuer2"}, {"to_username": None}]}}

    to_username: str | None = Field(default=None, max_length=64, description="another issuer of the task's community or unit; empty = release to the queue")


class TaskOut(BaseModel):
    task_id: str
    status: str
    claimed_by: str | None = Field(default=None, description="username")
    decision: str | None = None


def _task_out(session, task) -> TaskOut:
    claimer = session.get(User, task.claimed_by) if task.claimed_by else None
    return TaskOut(task_id=task.id, status=task.status.value if hasattr(task.status, "value") else str(task.status), claimed_by=claimer.username if claimer else task.claimed_by, decision=task.decision)


@router.post("/cases/{case_id}/reassign", response_model=TaskOut, summary="Hand the case's task to another issuer of its holder, or release it (the SLA clock is unchanged)")
def reassign(case_id: str, body: ReassignIn, user: SupervisorDep, session: SessionDep, now: NowDep) -> TaskOut:
    task = actions.reassign(session=session, case_id=case_id, user=user, to_username=body.to_username, at=now)
    session.commit()
    return _task_out(session, task)


class NudgeIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"note": "The 6 working hours end at 14:30; please call the applicant today."}]}}

    note: str | None = Field(default=None, max_length=500, description="added to the reminder")


@router.post("/cases/{case_id}/nudge", response_model=actions.NudgeResult, summary="Remind the issuer holding the task (a notification to them)")
def nudge(case_id: str, body: NudgeIn, user: SupervisorDep, session: SessionDep, now: NowDep) -> actions.NudgeResult:
    result = actions.nudge(session=session, case_id=case_id, user=user, at=now, note=body.note)
    session.commit()
    return result


class DecisionIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"action": "approve"}, {"action": "reject", "reason_code": "identity_not_established", "explanation": "Three calls and a visit on 3 March found nobody at the declared address."}]}}

    action: Literal["approve", "reject"]
    reason_code: str | None = Field(default=None, max_length=60, description="for reject: a reason of the closed list (R16 forbids extra conditions)")
    explanation: str | None = Field(default=None, max_length=2000, description="required for a rejection, and for approving a red-list hit")


class DecisionStands(BaseModel):
    action: str | None = None
    by: str | None = None
    at: datetime | None = None


class DecisionConflictOut(BaseModel):
    detail: str
    decision: DecisionStands | None = None


@router.post(
    "/cases/{case_id}/decision",
    response_model=TaskOut,
    summary="Decide an escalated (breached) case as the supervisor: the same atomic decision as an issuer's",
    responses={409: {"model": DecisionConflictOut, "description": "another decision got there first (named), or the case is not escalated"}},
)
def decide(case_id: str, body: DecisionIn, user: SupervisorDep, session: SessionDep, settings: SettingsDep, now: NowDep):
    try:
        task = actions.decide(session=session, case_id=case_id, user=user, action=body.action, at=now, settings=settings, reason_code=body.reason_code, explanation=body.explanation)
    except DecisionConflict as exc:
        return JSONResponse(status_code=409, content={"detail": exc.message, "decision": exc.decision})
    session.commit()
    return _task_out(session, task)


class RevokeIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"reason": "Confirmed case reported by the county CDC on 4 March"}]}}

    reason: str = Field(min_length=5, max_length=500)
    pass_id: str | None = Field(default=None, max_length=64, description="a particular pass of the case; default its newest valid one")


class RevokedOut(BaseModel):
    id: str
    revoked_at: datetime | None
    reason: str | None


@router.post("/cases/{case_id}/revoke-pass", response_model=RevokedOut, summary="Revoke the case's valid pass (and the holder's other live passes)")
def revoke_pass(case_id: str, body: RevokeIn, user: StaffDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> RevokedOut:
    p = actions.revoke_pass(session=session, case_id=case_id, user=user, reason=body.reason, at=now, settings=settings, pass_id=body.pass_id)
    session.commit()
    return RevokedOut(id=p.id, revoked_at=p.revoked_at, reason=p.revoke_reason)


@router.get("/notifications", response_model=actions.NotificationPage, summary="Notifications of my area, newest first: filter by kind and acknowledgement, paged")
def notifications(
    user: StaffDep,
    session: SessionDep,
    kind: KindQuery = None,
    acknowledged: AckQuery = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> actions.NotificationPage:
    return actions.list_notifications(session=session, user=user, kind=kind, acknowledged=acknowledged, page=page, per_page=per_page)


@router.get("/notifications.csv", summary="Notifications of my area as CSV (same filters and rows as the list, every page)", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def notifications_csv(user: StaffDep, session: SessionDep, now: NowDep, kind: KindQuery = None, acknowledged: AckQuery = None) -> Response:
    body = actions.notifications_csv(session=session, user=user, kind=kind, acknowledged=acknowledged)
    stamp = now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="notifications-{stamp}.csv"'})


@router.post("/notifications/{notification_id}/acknowledge", response_model=actions.NotificationOut, summary="Acknowledge a notification of my area (who and when; an event in its case's timeline)")
def acknowledge(notification_id: int, user: StaffDep, session: SessionDep, now: NowDep) -> actions.NotificationOut:
    row = actions.acknowledge(session=session, notification_id=notification_id, user=user, at=now)
    session.commit()
    return actions.notification_out(session, row)


@router.get("/nudges", response_model=list[actions.NotificationOut], summary="My reminders from supervisors (issuers): to me by name, or to my community or unit")
def my_nudges(user: Annotated[User, require(Role.issuer)], session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[actions.NotificationOut]:
    return actions.issuer_nudges(session=session, user=user, limit=limit)
