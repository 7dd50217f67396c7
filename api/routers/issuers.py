"""Issuers (发放员) work their queue: sign in, claim, decide (R14, R16-R19)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.errors import DecisionConflict
from cases.models import ComparisonRecord, ContactAttempt, Role, User
from cases.services import audit, sla_service
from cases.services.views import TaskView, task_view

router = APIRouter(prefix="/api/v1", tags=["issuers"])
IssuerDep = Annotated[User, require(Role.issuer)]


class DecisionIn(BaseModel):
    action: Literal["approve", "reject", "request_supplement", "verify_contact"]
    reason_code: str | None = Field(default=None, description=f"for reject, one of {sorted(audit.REJECTION_REASONS)}")
    explanation: str | None = Field(default=None, max_length=2000)
    missing_items: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=20)
    contact_method: Literal["phone", "visit", "unit"] | None = None


DECISION_EXAMPLES = {
    "approve": {"summary": "Approve: issue the green pass", "value": {"action": "approve"}},
    "reject": {"summary": "Reject on a record", "value": {"action": "reject", "reason_code": "comparison_close_contact", "explanation": "The close-contact registry lists the applicant since 2 March, so the pass cannot be green."}},
    "request_supplement": {"summary": "Ask for a missing item (the clock pauses)", "value": {"action": "request_supplement", "missing_items": ["arrival ticket"]}},
    "verify_contact": {"summary": "Record a contact attempt (R19, clock keeps running)", "value": {"action": "verify_contact", "contact_method": "phone", "explanation": "Called the applicant; confirmed address with the building manager."}},
}


@router.get("/audit-tasks", summary="My queue, sorted by time left on the SLA", response_model=list[TaskView])
def my_queue(
    user: IssuerDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    status: Annotated[list[Literal["open", "claimed", "waiting_applicant", "decided", "cancelled"]] | None, Query(max_length=5, description="open, claimed, waiting_applicant, decided")] = None,
    max_seconds_left: Annotated[float | None, Query(description="only tasks with at most this much SLA time left")] = None,
    view: Annotated[Literal["open", "mine", "unclaimed", "waiting", "done"] | None, Query(description="a view of the queue, as the queue page shows it (mine, unclaimed, waiting for the applicant, done by me); paged with `page`")] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    cal = sla_service.calendar(session, settings)
    if view is not None:
        rows, _ = audit.queue_page(session=session, user=user, view=view, page=page, per_page=per_page)
    else:
        rows = audit.queue(session=session, user=user, statuses=status)
    out = []
    for task, app in rows:
        contacts = len(session.exec(select(ContactAttempt.id).where(ContactAttempt.audit_task_id == task.id)).all())
        record = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app.id)).first()
        view = task_view(task, app, now, cal, contacts, record.hits if record else [])
        if max_seconds_left is not None and (view["time_left_seconds"] is None or view["time_left_seconds"] > max_seconds_left):
            continue
        out.append(view)
    return out


class QueueCounts(BaseModel):
    open: int = Field(description="everything still to do")
    mine: int = Field(description="claimed by me, or mine and waiting for the applicant")
    unclaimed: int
    waiting: int = Field(description="waiting for the applicant's supplement (the clock is paused)")
    done: int = Field(description="decided by me")


@router.get("/audit-tasks/counts", summary="How many tasks each view of my queue holds", response_model=QueueCounts)
def queue_counts(user: IssuerDep, session: SessionDep) -> dict[str, int]:
    return audit.queue_counts(session=session, user=user)


@router.post("/audit-tasks/{task_id}/claim", summary="Claim a task (two issuers, one winner)")
def claim(task_id: str, user: IssuerDep, session: SessionDep, now: NowDep) -> dict[str, Any]:
    task = audit.claim(session=session, task_id=task_id, user=user, at=now)
    session.commit()
    return {"task_id": task.id, "status": task.status, "claimed_by": task.claimed_by}


class DecisionStands(BaseModel):
    action: str = Field(description="approve, reject or auto_issue (R12)")
    by: str = Field(description="the issuer's username, or 'system'")
    at: datetime | None


class DecisionConflictOut(BaseModel):
    detail: str
    decision: DecisionStands | None = Field(default=None, description="the decision that won, when the task was decided by another")


@router.post(
    "/audit-tasks/{task_id}/decision",
    summary="Decide: approve, reject, request a supplement, or record a contact attempt",
    responses={409: {"model": DecisionConflictOut, "description": "Another decision got there first (named in `decision`), or the task is claimed by another issuer"}},
)
def decide(
    task_id: str,
    body: Annotated[DecisionIn, Body(openapi_examples=DECISION_EXAMPLES)],
    user: IssuerDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:
    try:
        task = audit.decide(session=session, task_id=task_id, user=user, action=body.action, at=now, settings=settings, reason_code=body.reason_code, explanation=body.explanation, missing_items=body.missing_items, contact_method=body.contact_method)
    except DecisionConflict as exc:  # exactly one decision wins; the loser learns which (action, by, when)
        return JSONResponse(status_code=409, content={"detail": exc.message, "decision": exc.decision})
    session.commit()
    return {"task_id": task.id, "status": task.status, "decision": task.decision}


class ReassignIn(BaseModel):
    to_username: str | None = Field(default=None, max_length=64, description="another issuer of the same community or unit; empty = release to the queue")

    model_config = {"json_schema_extra": {"examples": [{"to_username": "heping-issuer2"}, {"to_username": None}]}}


@router.post("/audit-tasks/{task_id}/reassign", summary="Release or hand over a task; the SLA clock keeps running unchanged")
def reassign(task_id: str, body: ReassignIn, user: Annotated[User, require(Role.issuer, Role.supervisor)], session: SessionDep, now: NowDep) -> dict[str, Any]:
    from cases.errors import Invalid

    target = None
    if body.to_username:
        target = session.exec(select(User).where(User.username == body.to_username)).first()
        if target is None:
            raise Invalid(f"no user {body.to_username}", field="to_username")
    task = audit.reassign(session=session, task_id=task_id, by=user, at=now, to_user=target)
    session.commit()
    return {"task_id": task.id, "status": task.status, "claimed_by": task.claimed_by}


@router.post("/issuers/sign-in", summary="Daily sign-in of an issuer (R18)")
def sign_in(user: IssuerDep, session: SessionDep, now: NowDep) -> dict[str, Any]:
    from cases.services import roster

    row = roster.sign_in(session=session, user=user, at=now)
    return {"work_date": row.work_date, "signed_in_at": row.signed_in_at}


@router.get("/roster/gaps", summary="Communities with no registered or no signed-in issuer today (R18)", tags=["supervisors"])
def roster_gaps(session: SessionDep, now: NowDep, user: Annotated[User, require(Role.supervisor, Role.auditor)]) -> list[dict[str, Any]]:
    from cases.scope import scope_for
    from cases.services import roster

    return roster.gaps(session=session, at=now, scope=scope_for(session, user))
