"""The staff view of one case: what a supervisor (or the provincial office) reads before acting.

Never the applicant's page: the declaration is masked (name, ID number, phone, address, as the
README promises for every view), and the read model says which actions the reader may take.
`load_staff_case` answers 404 for a case outside the reader's scope (existence not revealed).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from cases.codes.claims import mask_name
from cases.errors import NotFound
from cases.events import timeline
from cases.models import (
    Applicant,
    Application,
    AuditStatus,
    AuditTask,
    CaseStatus,
    ComparisonRecord,
    Notification,
    Pass,
    Region,
    ResponsibilityRecord,
    Role,
    Unit,
    User,
)
from cases.scope import scope_for
from cases.services import sla_service
from cases.services.applications import latest_declaration
from cases.settings import Settings
from cases.validation import mask_id, mask_phone

STAFF_ROLES = (Role.supervisor, Role.auditor, Role.admin)
AT_RISK_SHARE = 0.8  # at risk once 80 % of the SLA is used (working hours online, clock hours at the counter)
SlaState = Literal["on_time", "at_risk", "breached", "paused", "decided", "not_started"]


class Holder(BaseModel):
    kind: str = Field(description="community or unit (R13)")
    code: str
    name: str | None = None


class TaskOut(BaseModel):
    task_id: str
    status: str
    holder: Holder
    claimed_by: str | None = Field(default=None, description="username of the issuer holding the task")
    claimed_at: datetime | None = None
    decision: str | None = None
    decided_by: str | None = Field(default=None, description="username, or 'system' (R12)")
    decided_at: datetime | None = None
    reason_code: str | None = None
    missing_items: list[str] = []


class SlaOut(BaseModel):
    state: SlaState
    started_at: datetime | None = None
    due_at: datetime | None = None
    paused_at: datetime | None = None
    breached_at: datetime | None = None
    provisional: bool = False
    used_share: float | None = Field(default=None, description="share of the SLA used so far (0..1+)")
    time_left_seconds: float | None = Field(default=None, description="working seconds left (online) or clock seconds (counter); negative when overdue")


class ComparisonOut(BaseModel):
    outcome: str
    red_list: bool
    hits: list[dict[str, Any]]
    sources: list[Any]
    rule_version: str | None = None


class ResponsibilityOut(BaseModel):
    kind: str
    code: str
    issuers: list[str]
    ownership: list[dict[str, Any]]
    due_at: datetime
    breach_at: datetime
    delay_seconds: float | None = None
    outcome: str | None = None


class PassOut(BaseModel):
    id: str
    colour: str
    issued_at: datetime
    valid_until: datetime
    card_number: str
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class EventOut(BaseModel):
    seq: int
    at: datetime
    actor: str = Field(description="username, 'system', 'applicant' or 'flow:<task>'")
    action: str
    reason: str | None = None
    before: str | None = None
    after: str | None = None
    data: dict[str, Any] = {}


class NotificationBrief(BaseModel):
    id: int
    kind: str
    recipient_level: str
    recipient_code: str | None = None
    message: str
    created_at: datetime
    acknowledged_at: datetime | None = None


class Allowed(BaseModel):
    """What the reader may do on this case now (the page shows only these forms)."""

    reassign: bool = False
    nudge: bool = False
    decide: bool = False
    revoke_pass: bool = False
    issuers: list[str] = Field(default=[], description="usernames a task may be handed to")


class StaffCase(BaseModel):
    id: str
    reference: str
    kind: str
    channel: str
    status: str
    decision: str | None = None
    decided_at: datetime | None = None
    submitted_at: datetime
    escalated: bool = Field(description="the SLA breached without a decision (R12): a supervisor may decide it")
    community: Holder
    unit_code: str | None = None
    county_code: str
    city_code: str
    applicant: dict[str, str | None] = Field(description="masked name, ID number and phone")
    declaration: dict[str, Any] = Field(description="the latest declaration, masked")
    declaration_version: int | None = None
    comparison: ComparisonOut | None = None
    task: TaskOut | None = None
    sla: SlaOut
    responsibility: ResponsibilityOut | None = None
    passes: list[PassOut] = []
    notifications: list[NotificationBrief] = []
    timeline: list[EventOut] = []
    allowed: Allowed


# ---------------------------------------------------------------- masking ---

def mask_address(address: str | None) -> str | None:
    """Keep the start (province, city, district) and hide the rest of the street address."""
    if not address:
        return address
    keep = min(6, max(len(address) // 3, 1))
    return address[:keep] + "***"


def mask_declaration(content: dict[str, Any]) -> dict[str, Any]:
    """The declaration as staff read it by default: every personal identifier masked. The
    unmasked data stay behind the logged `/personal-data` read (issuers, the provincial office)."""
    out = dict(content)
    if out.get("name"):
        out["name"] = mask_name(str(out["name"]))
    if out.get("id_number"):
        out["id_number"] = mask_id(str(out["id_number"]))
    if out.get("phone"):
        out["phone"] = mask_phone(str(out["phone"]))
    if "address" in out:
        out["address"] = mask_address(out.get("address"))
    for key in ("emergency_contact", "contact_phone"):
        if out.get(key):
            out[key] = mask_phone(str(out[key]))
    return out


# ----------------------------------------------------------------- helpers ---

def _username(session: Session, user_id: str | None) -> str | None:
    if not user_id or user_id in ("system", "applicant") or user_id.startswith("flow:"):
        return user_id
    user = session.get(User, user_id)
    return user.username if user is not None else user_id


def holder_of(session: Session, kind: str, code: str) -> Holder:
    if kind == "unit":
        unit = session.get(Unit, code)
        return Holder(kind=kind, code=code, name=unit.name if unit else None)
    region = session.get(Region, code)
    return Holder(kind=kind, code=code, name=f"{region.name_zh} {region.name_en}" if region else None)


def sla_state(session: Session, app: Application, *, now: datetime, settings: Settings) -> SlaOut:
    """On time / at risk (>= 80 % used) / breached / paused, on the working calendar (R10, R11)."""
    out = SlaOut(state="not_started", started_at=app.sla_started_at, due_at=app.sla_due_at, paused_at=app.sla_paused_at, breached_at=app.breached_at, provisional=bool(app.sla_provisional))
    if app.decision is not None or app.status not in (CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant):
        out.state = "decided" if app.decision is not None else "not_started"
        return out
    if app.sla_started_at is None or app.sla_due_at is None:
        return out
    ref = app.sla_paused_at or now
    if app.channel == "counter":
        total = (app.sla_due_at - app.sla_started_at).total_seconds()
        left = (app.sla_due_at - ref).total_seconds()
    else:
        cal = sla_service.calendar(session, settings)
        total = cal.working_time_between(app.sla_started_at, app.sla_due_at).total_seconds()
        left = cal.working_time_between(ref, app.sla_due_at).total_seconds() if app.sla_due_at > ref else -cal.working_time_between(app.sla_due_at, ref).total_seconds()
    out.time_left_seconds = left
    out.used_share = (total - left) / total if total > 0 else None
    if app.breached_at is not None or left <= 0:
        out.state = "breached"
    elif app.sla_paused_at is not None:
        out.state = "paused"
    elif out.used_share is not None and out.used_share >= AT_RISK_SHARE:
        out.state = "at_risk"
    else:
        out.state = "on_time"
    return out


# -------------------------------------------------------------- read model ---

def load_staff_case(session: Session, case_id: str, *, user: User | None) -> Application:
    """The case, if the reader is staff (supervisor, provincial office, admin) whose scope
    covers it; 404 otherwise, so a case outside the area is not revealed."""
    app = session.get(Application, case_id) if case_id else None
    if app is None or user is None or user.role not in STAFF_ROLES or not scope_for(session, user).covers_case(app):
        raise NotFound("case not found")
    return app


def staff_case(session: Session, app: Application, *, user: User, now: datetime, settings: Settings) -> StaffCase:
    from cases.services import audit

    comparison = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app.id)).first()
    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    record = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app.id)).first()
    applicant = session.get(Applicant, app.applicant_id)
    declaration = latest_declaration(session, app.id)
    passes = list(session.exec(select(Pass).where(Pass.application_id == app.id).order_by(Pass.issued_at, Pass.id)))
    notes = list(session.exec(select(Notification).where(Notification.application_id == app.id).order_by(Notification.created_at, Notification.id)))

    allowed = Allowed()
    open_task = task is not None and task.status in (AuditStatus.open, AuditStatus.claimed)
    if user.role == Role.supervisor and task is not None:
        heads = audit.supervises(session, user, task, app)
        allowed.reassign = heads and open_task
        allowed.nudge = heads and task.status in (AuditStatus.open, AuditStatus.claimed, AuditStatus.waiting_applicant)
        allowed.decide = heads and open_task and audit.is_escalated(app)
        if allowed.reassign:
            column = User.unit_code if task.holder_kind == "unit" else User.region_code
            allowed.issuers = list(session.exec(select(User.username).where(User.role == Role.issuer, User.active == True, column == task.holder_code).order_by(User.username)))  # noqa: E712
    allowed.revoke_pass = any(p.revoked_at is None for p in passes)

    community = session.get(Region, app.community_code)
    return StaffCase(
        id=app.id,
        reference=app.reference,
        kind=str(getattr(app.kind, "value", app.kind)),
        channel=str(getattr(app.channel, "value", app.channel)),
        status=str(getattr(app.status, "value", app.status)),
        decision=app.decision,
        decided_at=app.decided_at,
        submitted_at=app.submitted_at,
        escalated=audit.is_escalated(app) and app.decision is None,
        community=Holder(kind="community", code=app.community_code, name=f"{community.name_zh} {community.name_en}" if community else None),
        unit_code=app.unit_code,
        county_code=app.county_code,
        city_code=app.city_code,
        applicant={"name": mask_name(applicant.name) if applicant else None, "id": applicant.id_masked if applicant else None, "phone": applicant.phone_masked if applicant else None},
        declaration=mask_declaration(declaration.content) if declaration else {},
        declaration_version=declaration.version if declaration else None,
        comparison=None if comparison is None else ComparisonOut(outcome=comparison.outcome, red_list=comparison.red_list, hits=list(comparison.hits), sources=list(comparison.sources), rule_version=comparison.rule_version),
        task=None if task is None else TaskOut(
            task_id=task.id,
            status=task.status.value if hasattr(task.status, "value") else str(task.status),
            holder=holder_of(session, task.holder_kind, task.holder_code),
            claimed_by=_username(session, task.claimed_by),
            claimed_at=task.claimed_at,
            decision=task.decision,
            decided_by=_username(session, task.decided_by),
            decided_at=task.decided_at,
            reason_code=task.reason_code,
            missing_items=list(task.missing_items or []),
        ),
        sla=sla_state(session, app, now=now, settings=settings),
        responsibility=None if record is None else ResponsibilityOut(
            kind=record.responsible_kind, code=record.responsible_code, issuers=[str(i) for i in record.issuers], ownership=list(record.ownership),
            due_at=record.due_at, breach_at=record.breach_at, delay_seconds=record.delay_seconds, outcome=record.outcome,
        ),
        passes=[PassOut(id=p.id, colour=p.colour.value if hasattr(p.colour, "value") else str(p.colour), issued_at=p.issued_at, valid_until=p.valid_until, card_number=p.card_number, revoked_at=p.revoked_at, revoke_reason=p.revoke_reason) for p in passes],
        notifications=[NotificationBrief(id=n.id, kind=n.kind, recipient_level=n.recipient_level, recipient_code=n.recipient_code, message=n.message, created_at=n.created_at, acknowledged_at=n.acknowledged_at) for n in notes],
        timeline=[EventOut(seq=e.seq, at=e.at, actor=_username(session, e.actor) or e.actor, action=e.action, reason=e.reason, before=e.before, after=e.after, data=e.data or {}) for e in timeline(session, app.id)],
        allowed=allowed,
    )
