"""Step 3 of R14: the community (village) or unit audit and its decisions (R16-R19, R21)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from cases.errors import Conflict, Forbidden, Invalid, NotFound
from cases.events import record_event
from cases.models import (
    Application,
    AuditStatus,
    AuditTask,
    CaseStatus,
    ContactAttempt,
    Notification,
    ProvincialAuditItem,
    ResponsibilityRecord,
    Role,
    User,
)
from cases.services import dispatch, sla_service
from cases.settings import Settings

# A closed list (issuer issue): a rejection must rest on a record, never on extra conditions.
REJECTION_REASONS = {
    "comparison_confirmed": "The comparison shows confirmed or suspected status.",
    "comparison_close_contact": "The comparison shows the applicant on the close-contact registry.",
    "identity_not_established": "Identity could not be established after recorded contact attempts.",
    "false_declaration": "The declaration is shown false by a named record.",
}
# Reasons the notice forbids: each maps to the rule that forbids it.
FORBIDDEN_REASONS = {
    "physical_examination": ("R16", "No unit or individual may add conditions such as a physical examination."),
    "certificate_required": ("R16", "No unit or individual may add conditions such as certificates."),
    "filing_required": ("R16", "No unit or individual may add conditions such as filing."),
    "local_health_certificate": ("R5", "Localities may not set their own health certification requirements."),
    "applicant_unknown": ("R19", "An applicant unknown to the community must be contacted and verified, never refused for that."),
}
FORBIDDEN_WORDS = {
    "physical exam": "physical_examination", "medical exam": "physical_examination", "体检": "physical_examination",
    "health certificate": "local_health_certificate", "健康证明": "local_health_certificate",
    "filing": "filing_required", "备案": "filing_required",
    "don't know": "applicant_unknown", "do not know": "applicant_unknown", "unknown to": "applicant_unknown", "不认识": "applicant_unknown",
}
ACTIONS = ("approve", "reject", "request_supplement", "verify_contact")


def _task(session: Session, task_id: str) -> AuditTask:
    task = session.get(AuditTask, task_id)
    if task is None:
        raise NotFound(f"audit task {task_id} not found")
    return task


def can_work(user: User, task: AuditTask) -> bool:
    if user.role != Role.issuer:
        return False
    if task.holder_kind == "unit":
        return user.unit_code == task.holder_code
    return user.region_code == task.holder_code


def claim(*, session: Session, task_id: str, user: User, at: datetime) -> AuditTask:
    """Two issuers, one winner: a conditional update is atomic on SQLite and PostgreSQL alike."""
    task = _task(session, task_id)
    if not can_work(user, task):
        raise Forbidden("this task belongs to another community or unit")
    if task.claimed_by == user.id:
        return task
    won = session.exec(
        update(AuditTask)
        .where(AuditTask.id == task_id, AuditTask.status == AuditStatus.open, AuditTask.claimed_by == None)  # noqa: E711
        .values(status=AuditStatus.claimed, claimed_by=user.id, claimed_at=at)
    ).rowcount
    if not won:
        session.rollback()
        raise Conflict("task already claimed by another issuer")
    session.refresh(task)
    record_event(session, application_id=task.application_id, actor=user.id, action="claimed", at=at)
    return task


def _check_reason(reason_code: str | None, explanation: str | None) -> None:
    if reason_code in FORBIDDEN_REASONS:
        rule, text = FORBIDDEN_REASONS[reason_code]
        raise Invalid(f"reason '{reason_code}' is forbidden by {rule}: {text}", field="reason_code", rule=rule)
    lowered = (explanation or "").lower()
    for word, code in FORBIDDEN_WORDS.items():
        if word in lowered:
            rule, text = FORBIDDEN_REASONS[code]
            raise Invalid(f"the explanation demands a forbidden condition ({word!r}), {rule}: {text}", field="explanation", rule=rule)
    if reason_code not in REJECTION_REASONS:
        raise Invalid(f"reason_code must be one of {sorted(REJECTION_REASONS)}", field="reason_code")
    if not explanation or len(explanation.strip()) < 20 or not any(p in explanation for p in ".。!！?？"):
        raise Invalid("a rejection needs an explanation of at least one full sentence", field="explanation")


def decide(
    *,
    session: Session,
    task_id: str,
    user: User,
    action: str,
    at: datetime,
    settings: Settings,
    reason_code: str | None = None,
    explanation: str | None = None,
    missing_items: list[str] | None = None,
    contact_method: str | None = None,
) -> AuditTask:
    """Record a decision; idempotent (a double click issues one pass)."""
    task = _task(session, task_id)
    if not can_work(user, task):
        raise Forbidden("this task belongs to another community or unit")
    if task.claimed_by is not None and task.claimed_by != user.id and task.status != AuditStatus.decided:
        raise Conflict("this task is claimed by another issuer")
    application = session.get(Application, task.application_id)
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {list(ACTIONS)}", field="action")
    if task.status == AuditStatus.decided:
        if task.decision == action and action in ("approve", "reject"):
            return task
        raise Conflict(f"task already decided: {task.decision}")

    if action == "verify_contact":
        if not contact_method or not explanation:
            raise Invalid("contact_method and explanation (what was said or found) are required", field="contact_method")
        session.add(ContactAttempt(audit_task_id=task.id, method=contact_method, note=explanation, by_user_id=user.id, at=at))
        record_event(session, application_id=application.id, actor=user.id, action="contact_attempt", at=at, reason=explanation, data={"method": contact_method, "clock": "running (R19)"})
        return task

    if action == "request_supplement":
        if not missing_items:
            raise Invalid("name the missing required item(s)", field="missing_items")
        task.status, task.missing_items = AuditStatus.waiting_applicant, list(missing_items)
        before = application.status
        application.status = CaseStatus.awaiting_applicant
        session.add_all([task, application])
        sla_service.pause_clock(session=session, application=application, at=at, reason=f"waiting for applicant: {', '.join(missing_items)}", by=user.id)
        session.add(Notification(application_id=application.id, recipient_level="applicant", kind="supplement_requested", message=f"Please supply: {', '.join(missing_items)}", created_at=at))
        record_event(session, application_id=application.id, actor=user.id, action="supplement_requested", at=at, before=before, after=application.status, data={"missing_items": missing_items})
        return task

    if action == "reject":
        _check_reason(reason_code, explanation)
        if reason_code == "identity_not_established":
            attempts = session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id)).all()
            if not attempts:
                raise Invalid("record contact attempts before rejecting for identity (R19)", field="reason_code", rule="R19")
    if action == "approve" and application.red_list:
        # A red-list hit can be wrong (a registry error); overriding it needs reasons the province reviews.
        if not explanation or len(explanation.strip()) < 20:
            raise Invalid("this case hit a red list: approving needs an explanation of why the record does not apply", field="explanation", rule="R21")
        session.add(ProvincialAuditItem(kind="red_list_override", application_id=application.id, region_code=task.holder_code, summary=f"{application.reference} approved despite a red-list hit: {explanation}", created_at=at))
    if task.status not in (AuditStatus.open, AuditStatus.claimed):
        raise Conflict(f"task is {task.status.value}; it cannot be decided now")
    _close(session=session, task=task, application=application, action=action, by=user.id, at=at, reason_code=reason_code, explanation=explanation)
    if action == "reject":
        session.add(ProvincialAuditItem(kind="rejection", application_id=application.id, region_code=task.holder_code, summary=f"{application.reference} rejected ({reason_code}): {explanation}", created_at=at))
    return task


def _close(*, session: Session, task: AuditTask, application: Application, action: str, by: str, at: datetime, reason_code=None, explanation=None) -> None:
    task.status, task.decision, task.decided_by, task.decided_at = AuditStatus.decided, action, by, at
    task.reason_code, task.explanation = reason_code, explanation
    before = application.status
    application.status = {"approve": CaseStatus.approved, "reject": CaseStatus.rejected, "auto_issue": CaseStatus.auto_issued}[action]
    application.decision, application.decided_at, application.updated_at = action, at, at
    session.add_all([task, application])
    sla_service.cancel_timers(session, application_id=application.id, at=at)
    record = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first()
    if record is not None and record.outcome is None:
        # R13: the record of a breached case says how and how late it ended.
        record.outcome = {"approve": "approved_late", "reject": "rejected_late", "auto_issue": "auto_issued"}[action]
        record.delay_seconds = (at - record.due_at).total_seconds()
        session.add(record)
    record_event(session, application_id=application.id, actor=by, action=f"decision_{action}", at=at, before=before, after=application.status, reason=explanation, data={"reason_code": reason_code} if reason_code else {})
    dispatch.enqueue(session, application_id=application.id, action="resume", at=at)


def system_decision(*, session: Session, application: Application, at: datetime, scheduled_for: datetime) -> None:
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    _close(session=session, task=task, application=application, action="auto_issue", by="system", at=at, explanation=f"no audit opinion after the timeout; auto-issue scheduled for {scheduled_for.isoformat()} (R12)")


def supply(*, session: Session, application: Application, items: dict, at: datetime, settings: Settings) -> None:
    """The applicant answers a supplement request: the clock resumes where it stopped."""
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    if task is None or task.status != AuditStatus.waiting_applicant:
        raise Conflict("nothing was requested from the applicant")
    missing = [m for m in task.missing_items if m not in items]
    if missing:
        raise Invalid(f"still missing: {', '.join(missing)}", field="items")
    task.status = AuditStatus.claimed if task.claimed_by else AuditStatus.open
    task.missing_items = []
    application.status = CaseStatus.awaiting_audit
    session.add_all([task, application])
    # The answers go into the timeline, where the issuer reads them with the case.
    record_event(session, application_id=application.id, actor="applicant", action="supplement_supplied", at=at, data={"items": sorted(items), "answers": {k: items[k] for k in sorted(items)}})
    sla_service.resume_clock(session=session, application=application, at=at, settings=settings, by="applicant")


def queue(*, session: Session, user: User, statuses: list[str] | None = None) -> list[tuple[AuditTask, Application]]:
    scope = AuditTask.holder_code == (user.unit_code if user.unit_code else user.region_code)
    query = select(AuditTask, Application).join(Application, Application.id == AuditTask.application_id).where(scope)
    if statuses:
        query = query.where(AuditTask.status.in_(statuses))
    else:
        query = query.where(AuditTask.status.in_([AuditStatus.open, AuditStatus.claimed, AuditStatus.waiting_applicant]))
    rows = list(session.exec(query))
    return sorted(rows, key=lambda r: (r[1].sla_due_at is None, r[1].sla_due_at or r[1].submitted_at))


def reassign(*, session: Session, task_id: str, by: User, at: datetime, to_user: User | None) -> AuditTask:
    """Release a claim or hand the task to another issuer of the same holder. The SLA clock is
    the case's, not the issuer's: reassignment never restarts or extends it."""
    task = _task(session, task_id)
    if task.status not in (AuditStatus.open, AuditStatus.claimed):
        raise Conflict(f"task is {task.status.value}; it cannot be reassigned")
    # Supervisors whose area covers the holder (community head, county, city; cases.scope) may reassign.
    from cases.scope import scope_for

    is_head = by.role == Role.supervisor and scope_for(session, by).covers_code(task.holder_code)
    if not (is_head or task.claimed_by == by.id):
        raise Forbidden("only the issuer holding the task or the community head may reassign it")
    if to_user is not None and not can_work(to_user, task):
        raise Invalid("the new issuer must belong to the same community or unit", field="to_username")
    before = task.claimed_by
    task.claimed_by = to_user.id if to_user else None
    task.claimed_at = at if to_user else None
    task.status = AuditStatus.claimed if to_user else AuditStatus.open
    session.add(task)
    record_event(session, application_id=task.application_id, actor=by.id, action="reassigned", at=at, before=before, after=task.claimed_by, data={"clock": "unchanged"})
    return task
