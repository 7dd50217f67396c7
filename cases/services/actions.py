"""What a supervisor does about a case or a notification (issue 13, "Actions").

Every action is scope-checked with `cases.scope` (a case or notification outside the area is
404, never revealed), writes an event in the case's timeline, and runs in the caller's
transaction (the route commits). A supervisor's decision goes through `audit.decide`, the
same atomic service an issuer's goes through.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import Conflict, Forbidden, Invalid, NotFound
from cases.events import record_event
from cases.models import Application, AuditStatus, AuditTask, Notification, Pass, Role, User
from cases.scope import Scope, scope_for
from cases.services import audit, passes
from cases.services.staff_case import load_staff_case
from cases.settings import Settings

NOTIFICATION_ROLES = (Role.supervisor, Role.auditor, Role.admin)


# ----------------------------------------------------------- notifications ---

class NotificationOut(BaseModel):
    id: int
    application_id: str | None = None
    reference: str | None = None
    case_url: str | None = Field(default=None, description="the case's STAFF view (never the applicant's page)")
    recipient_level: str
    recipient_code: str | None = None
    recipient_user: str | None = Field(default=None, description="username, for a nudge to one issuer")
    kind: str
    message: str
    created_at: datetime
    acknowledged: bool
    acknowledged_by: str | None = Field(default=None, description="username")
    acknowledged_at: datetime | None = None


class NotificationPage(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    counts_by_kind: dict[str, int]
    items: list[NotificationOut]


def staff_case_url(application_id: str | None) -> str | None:
    return f"/staff/cases/{application_id}" if application_id else None


def _area(session: Session, user: User) -> Scope:
    if user.role not in NOTIFICATION_ROLES:
        raise Forbidden("notifications are read by supervisors and the provincial office")
    area = scope_for(session, user)
    if not area.everything and area.root is None:
        raise Forbidden("this supervisor account has no region", field="region")
    return area


def _notification_query(area: Scope, *, kind: str | None, acknowledged: bool | None):
    # Addressed to a region or unit of the area: the supervisor's own office and those below it.
    query = select(Notification, Application.reference).join(Application, Application.id == Notification.application_id, isouter=True).where(area.code_filter(Notification.recipient_code))
    if kind:
        query = query.where(Notification.kind == kind)
    if acknowledged is not None:
        query = query.where(Notification.acknowledged_at != None if acknowledged else Notification.acknowledged_at == None)  # noqa: E711
    return query


def _out(session: Session, n: Notification, reference: str | None, names: dict[str, str]) -> NotificationOut:
    def name(user_id: str | None) -> str | None:
        if not user_id:
            return None
        if user_id not in names:
            u = session.get(User, user_id)
            names[user_id] = u.username if u else user_id
        return names[user_id]

    return NotificationOut(
        id=n.id, application_id=n.application_id, reference=reference, case_url=staff_case_url(n.application_id),
        recipient_level=n.recipient_level, recipient_code=n.recipient_code, recipient_user=name(n.recipient_user_id),
        kind=n.kind, message=n.message, created_at=n.created_at,
        acknowledged=n.acknowledged_at is not None, acknowledged_by=name(n.acknowledged_by), acknowledged_at=n.acknowledged_at,
    )


def notification_out(session: Session, row: Notification) -> NotificationOut:
    app = session.get(Application, row.application_id) if row.application_id else None
    return _out(session, row, app.reference if app else None, {})


def list_notifications(*, session: Session, user: User, kind: str | None = None, acknowledged: bool | None = None, page: int = 1, per_page: int = 50) -> NotificationPage:
    """The notifications of the supervisor's area, newest first, filtered and paged."""
    if page < 1:
        raise Invalid("page starts at 1", field="page")
    if not 1 <= per_page <= 500:
        raise Invalid("per_page must be between 1 and 500", field="per_page")
    area = _area(session, user)
    query = _notification_query(area, kind=kind, acknowledged=acknowledged)
    total = session.execute(query.with_only_columns(func.count()).order_by(None)).scalar_one()
    counts = {k: c for k, c in session.execute(_notification_query(area, kind=None, acknowledged=acknowledged).with_only_columns(Notification.kind, func.count()).group_by(Notification.kind).order_by(Notification.kind))}
    rows = session.exec(query.order_by(Notification.created_at.desc(), Notification.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    names: dict[str, str] = {}
    return NotificationPage(
        total=total, page=page, per_page=per_page, pages=max(1, -(-total // per_page)), counts_by_kind=counts,
        items=[_out(session, n, reference, names) for n, reference in rows],
    )


CSV_COLUMNS = ["id", "created_at", "kind", "recipient_level", "recipient_code", "recipient_user", "reference", "case_url", "message", "acknowledged", "acknowledged_by", "acknowledged_at"]


def _csv_safe(value) -> str:
    """No spreadsheet formulas from data (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def notifications_csv(*, session: Session, user: User, kind: str | None = None, acknowledged: bool | None = None) -> str:
    """The same rows as the list (same filters, every page), times in Asia/Shanghai."""
    area = _area(session, user)
    query = _notification_query(area, kind=kind, acknowledged=acknowledged).order_by(Notification.created_at.desc(), Notification.id.desc())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    names: dict[str, str] = {}
    for n, reference in session.exec(query):
        row = _out(session, n, reference, names).model_dump()
        row["created_at"] = n.created_at.astimezone(SHANGHAI).isoformat()
        row["acknowledged_at"] = n.acknowledged_at.astimezone(SHANGHAI).isoformat() if n.acknowledged_at else ""
        row["acknowledged"] = "yes" if n.acknowledged_at else "no"
        writer.writerow([_csv_safe(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def acknowledge(*, session: Session, notification_id: int, user: User, at: datetime) -> Notification:
    """The supervisor has seen it and takes it on: who and when are stored on the notification
    and, when it concerns a case, written to that case's timeline. Once only: a second
    acknowledgement (by anyone) changes nothing and answers with the first."""
    area = _area(session, user)
    row = session.exec(select(Notification).where(Notification.id == notification_id, area.code_filter(Notification.recipient_code))).first()
    if row is None:
        raise NotFound("no such notification in your area")
    won = session.exec(
        update(Notification).where(Notification.id == notification_id, Notification.acknowledged_at == None).values(acknowledged_by=user.id, acknowledged_at=at, read_at=func.coalesce(Notification.read_at, at)),  # noqa: E711
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    session.refresh(row)
    if won and row.application_id:
        record_event(session, application_id=row.application_id, actor=user.id, action="notification_acknowledged", at=at, data={"notification_id": row.id, "kind": row.kind, "recipient": row.recipient_code})
    return row


# ------------------------------------------------------------ case actions ---

def _supervised_task(session: Session, app: Application, user: User) -> AuditTask:
    if user.role != Role.supervisor:
        raise Forbidden("this action is for supervisors")
    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    if task is None:
        raise Conflict("this case has no audit task yet")
    if not audit.supervises(session, user, task, app):
        raise NotFound("case not found")
    return task


def reassign(*, session: Session, case_id: str, user: User, to_username: str | None, at: datetime) -> AuditTask:
    """Hand the task to another issuer of its holder, or release it to the queue
    (audit.reassign: the SLA clock is the case's and stays as it is)."""
    app = load_staff_case(session, case_id, user=user)
    task = _supervised_task(session, app, user)
    target = None
    if to_username:
        target = session.exec(select(User).where(User.username == to_username)).first()
        if target is None or target.role != Role.issuer or not target.active:
            raise Invalid(f"no active issuer {to_username}", field="to_username")
    return audit.reassign(session=session, task_id=task.id, by=user, at=at, to_user=target)


class NudgeResult(BaseModel):
    notification_id: int
    to: str = Field(description="the issuer's username, or the holder's code when nobody claimed the task")
    message: str


def nudge(*, session: Session, case_id: str, user: User, at: datetime, note: str | None = None) -> NudgeResult:
    """Remind whoever holds the task: the issuer who claimed it (a notification to them), else
    the holder's issuers (the community or unit). Evented in the case timeline."""
    app = load_staff_case(session, case_id, user=user)
    task = _supervised_task(session, app, user)
    if task.status not in (AuditStatus.open, AuditStatus.claimed, AuditStatus.waiting_applicant):
        raise Conflict(f"task is {task.status.value}; there is nobody to nudge")
    note = (note or "").strip() or None
    if note is not None and len(note) > 500:
        raise Invalid("the note is limited to 500 characters", field="note")
    claimer = session.get(User, task.claimed_by) if task.claimed_by else None
    due = app.sla_due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if app.sla_due_at else "—"
    message = f"{user.username} asks you to decide {app.reference} (due {due})." + (f" {note}" if note else "")
    level = "unit" if task.holder_kind == "unit" and claimer is None else "issuer"
    row = Notification(application_id=app.id, recipient_level=level, recipient_code=task.holder_code, recipient_user_id=claimer.id if claimer else None, kind="nudge", message=message, created_at=at)
    session.add(row)
    session.flush()
    to = claimer.username if claimer else task.holder_code
    record_event(session, application_id=app.id, actor=user.id, action="nudged", at=at, reason=note, data={"to": to, "notification_id": row.id})
    return NudgeResult(notification_id=row.id, to=to, message=message)


def issuer_nudges(*, session: Session, user: User, limit: int = 20) -> list[NotificationOut]:
    """The reminders supervisors sent an issuer: to them by name, or to their community or
    unit while nobody held the task. Newest first."""
    if user.role != Role.issuer:
        raise Forbidden("nudges are addressed to issuers")
    holders = [c for c in (user.region_code, user.unit_code) if c]
    mine = Notification.recipient_user_id == user.id
    if holders:
        mine = or_(mine, and_(Notification.recipient_user_id == None, Notification.recipient_code.in_(holders)))  # noqa: E711
    rows = session.exec(
        select(Notification, Application.reference).join(Application, Application.id == Notification.application_id, isouter=True)
        .where(Notification.kind == "nudge", mine).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ).all()
    names: dict[str, str] = {}
    return [_out(session, n, reference, names).model_copy(update={"case_url": None}) for n, reference in rows]


DecisionAction = Literal["approve", "reject"]


def decide(*, session: Session, case_id: str, user: User, action: str, at: datetime, settings: Settings, reason_code: str | None = None, explanation: str | None = None) -> AuditTask:
    """The supervisor decides an escalated case themselves: `audit.decide`, the issuers' own
    atomic service (R16 reasons, red-list explanations, 409 when another decision won)."""
    app = load_staff_case(session, case_id, user=user)
    task = _supervised_task(session, app, user)
    return audit.decide(session=session, task_id=task.id, user=user, action=action, at=at, settings=settings, reason_code=reason_code, explanation=explanation)


def revoke_pass(*, session: Session, case_id: str, user: User, reason: str, at: datetime, settings: Settings, pass_id: str | None = None) -> Pass:
    """Revoke the case's valid pass (passes.revoke: the holder's other live passes go too)."""
    app = load_staff_case(session, case_id, user=user)
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise Invalid("say why the pass is revoked (at least 5 characters)", field="reason")
    if len(reason) > 500:
        raise Invalid("the reason is limited to 500 characters", field="reason")
    query = select(Pass).where(Pass.application_id == app.id, Pass.revoked_at == None)  # noqa: E711
    if pass_id:
        query = query.where(Pass.id == pass_id)
    target = session.exec(query.order_by(Pass.issued_at.desc())).first()
    if target is None:
        raise Conflict("this case has no valid pass to revoke")
    return passes.revoke(session=session, pass_=target, reason=reason, by=user.id, at=at, settings=settings)
