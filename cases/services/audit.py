"""Step 3 of R14: the community (village) or unit audit and its decisions (R16-R19, R21)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import Conflict, DecisionConflict, Forbidden, Invalid, NotFound
from cases.events import record_event
from cases.messages import msg
from cases.models import (
    Application,
    AuditStatus,
    AuditTask,
    CaseStatus,
    ContactAttempt,
    Notification,
    ResponsibilityRecord,
    Role,
    User,
)
from cases.services import dispatch, oversight, sla_service
from cases.settings import Settings

# A closed list (issuer issue): a rejection must rest on a record, never on extra conditions.
REJECTION_REASONS = {
    "comparison_confirmed": msg("The comparison shows confirmed or suspected status."),
    "comparison_close_contact": msg("The comparison shows the applicant on the close-contact registry."),
    "identity_not_established": msg("Identity could not be established after recorded contact attempts."),
    "false_declaration": msg("The declaration is shown false by a named record."),
}
# Reasons the notice forbids: each maps to the rule that forbids it.
FORBIDDEN_REASONS = {
    "physical_examination": ("R16", msg("No unit or individual may add conditions such as a physical examination.")),
    "certificate_required": ("R16", msg("No unit or individual may add conditions such as certificates.")),
    "filing_required": ("R16", msg("No unit or individual may add conditions such as filing.")),
    "local_health_certificate": ("R5", msg("Localities may not set their own health certification requirements.")),
    "applicant_unknown": ("R19", msg("An applicant unknown to the community must be contacted and verified, never refused for that.")),
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


SUPERVISOR_ACTIONS = ("approve", "reject")  # a supervisor decides; supplements and contacts stay the issuer's


def is_escalated(application: Application) -> bool:
    """Escalated: the SLA breached without a decision (R12), so it sits with the supervisors."""
    return application.breached_at is not None


def supervises(session: Session, user: User, task: AuditTask, application: Application) -> bool:
    """A supervisor whose area (cases.scope) covers the task's holder and the case."""
    if user.role != Role.supervisor:
        return False
    from cases.scope import scope_for

    area = scope_for(session, user)
    return area.covers_code(task.holder_code) and area.covers_case(application)


def claim(*, session: Session, task_id: str, user: User, at: datetime) -> AuditTask:
    """Two issuers, one winner: a conditional update is atomic on SQLite and PostgreSQL alike."""
    task = _task(session, task_id)
    if not can_work(user, task):
        raise Forbidden("this task belongs to another community or unit")
    if task.claimed_by == user.id:
        return task
    _lock_case(session, task.application_id)  # case before task, as a decision and the sweep take them
    won = session.exec(
        update(AuditTask)
        .where(AuditTask.id == task_id, AuditTask.status == AuditStatus.open, AuditTask.claimed_by.is_(None))
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


OPEN_TASK = (AuditStatus.open, AuditStatus.claimed)  # the states a decision may leave


def _lock_case(session: Session, application_id: str) -> Application:
    """Read the case afresh under its row lock (PostgreSQL), taken before the audit task's: the
    sweep locks cases first too (FOR UPDATE OF application SKIP LOCKED), so an issuer's
    decision and the automatic one (R12) queue up instead of deadlocking. SQLite has one
    writer at a time; the conditional update below decides there."""
    query = select(Application).where(Application.id == application_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE, as the event log takes it
    return session.exec(query).one()


def _transition(session: Session, *, task: AuditTask, by: str | None, values: dict) -> bool:
    """Move the task out of an open state only if it is still in one (and, for an issuer, not
    claimed by somebody else): one statement, so of two decisions at the same instant exactly
    one changes the row. False when another decision got there first."""
    query = update(AuditTask).where(AuditTask.id == task.id, AuditTask.status.in_(OPEN_TASK))
    if by is not None:
        query = query.where(or_(AuditTask.claimed_by.is_(None), AuditTask.claimed_by == by))
    won = session.exec(query.values(**values), execution_options={"synchronize_session": False}).rowcount == 1
    if won:
        session.refresh(task)
    return won


def winner(session: Session, task: AuditTask) -> dict:
    """The decision that stands on a decided task: action, who (username) and when."""
    by = task.decided_by
    if by and by != "system":
        user = session.get(User, by)
        by = user.username if user is not None else by
    return {"action": task.decision, "by": by, "at": task.decided_at.isoformat() if task.decided_at else None}


def _refused(session: Session, task_id: str, user: User, action: str, *, over_claim: bool = False) -> AuditTask:
    """The transition lost: roll back what this request did and say what stands instead.
    A repeat of the winning decision by the same issuer (a double click) is answered as done."""
    session.rollback()
    task = session.exec(select(AuditTask).where(AuditTask.id == task_id).execution_options(populate_existing=True)).one()
    if task.status == AuditStatus.decided:
        if task.decision == action and task.decided_by == user.id:
            return task
        stands = winner(session, task)
        when = task.decided_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if task.decided_at else "?"
        raise DecisionConflict(f"this task was already decided: {stands['action']} by {stands['by']} at {when} (Asia/Shanghai)", decision=stands)
    if not over_claim and task.claimed_by is not None and task.claimed_by != user.id:
        raise Conflict("this task is claimed by another issuer")
    raise Conflict(f"task is {task.status.value}; it cannot be decided now")


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
    """Record a decision. Of two at the same instant exactly one wins; the other gets a
    DecisionConflict naming it (409). The same issuer repeating the same decision (a double
    click) gets the task back and changes nothing.

    A supervisor whose area covers the holder decides an escalated (breached) case here too,
    under the same rules (R16 reasons, red-list explanations) and the same race: their
    decision overrides an issuer's claim, but not a decision that got there first."""
    task = _task(session, task_id)
    supervisor = user.role == Role.supervisor
    if supervisor:
        if not supervises(session, user, task, session.get(Application, task.application_id)):
            raise Forbidden("this case lies outside your area")
        if action not in SUPERVISOR_ACTIONS:
            raise Invalid(f"a supervisor's decision is one of {list(SUPERVISOR_ACTIONS)}", field="action")
    elif not can_work(user, task):
        raise Forbidden("this task belongs to another community or unit")
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {list(ACTIONS)}", field="action")
    application = _lock_case(session, task.application_id)
    task = session.exec(select(AuditTask).where(AuditTask.id == task_id).execution_options(populate_existing=True)).one()
    if task.status == AuditStatus.decided or (not supervisor and task.claimed_by is not None and task.claimed_by != user.id):
        return _refused(session, task_id, user, action, over_claim=supervisor)
    if supervisor and not is_escalated(application):
        raise Conflict("only an escalated case (its SLA breached) is decided by a supervisor; the holder's issuers decide the others")

    if action == "verify_contact":
        if not contact_method or not explanation:
            raise Invalid("contact_method and explanation (what was said or found) are required", field="contact_method")
        session.add(ContactAttempt(audit_task_id=task.id, method=contact_method, note=explanation, by_user_id=user.id, at=at))
        record_event(session, application_id=application.id, actor=user.id, action="contact_attempt", at=at, reason=explanation, data={"method": contact_method, "clock": "running (R19)"})
        return task

    if action == "request_supplement":
        if not missing_items:
            raise Invalid("name the missing required item(s)", field="missing_items")
        if not _transition(session, task=task, by=user.id, values={"status": AuditStatus.waiting_applicant, "missing_items": list(missing_items)}):
            return _refused(session, task_id, user, action)
        before = application.status
        application.status = CaseStatus.awaiting_applicant
        session.add(application)
        sla_service.pause_clock(session=session, application=application, at=at, reason=f"waiting for applicant: {', '.join(missing_items)}", by=user.id)
        session.add(Notification(application_id=application.id, recipient_level="applicant", kind="supplement_requested", message=f"Please supply: {', '.join(missing_items)}", created_at=at))
        oversight.raise_item(
            session=session, kind="supplement_pause", source_key=f"supplement_pause:{task.id}:{at.isoformat()}", application_id=application.id, at=at,
            responsible_kind=task.holder_kind, responsible_code=task.holder_code,
            summary=f"{application.reference}: clock paused waiting for the applicant ({', '.join(missing_items)})",
        )
        record_event(session, application_id=application.id, actor=user.id, action="supplement_requested", at=at, before=before, after=application.status, data={"missing_items": missing_items})
        return task

    if action == "reject":
        _check_reason(reason_code, explanation)
        if reason_code == "identity_not_established":
            attempts = session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id)).all()
            if not attempts:
                raise Invalid("record contact attempts before rejecting for identity (R19)", field="reason_code", rule="R19")
    if action == "approve" and application.red_list and (not explanation or len(explanation.strip()) < 20):
        # A red-list hit can be wrong (a registry error); overriding it needs reasons the province reviews.
        raise Invalid("this case hit a red list: approving needs an explanation of why the record does not apply", field="explanation", rule="R21")
    if task.status not in OPEN_TASK:
        raise Conflict(f"task is {task.status.value}; it cannot be decided now")
    if not _close(session=session, task=task, application=application, action=action, by=user.id, at=at, reason_code=reason_code, explanation=explanation, over_claim=supervisor):
        return _refused(session, task_id, user, action, over_claim=supervisor)
    return task


def _close(*, session: Session, task: AuditTask, application: Application, action: str, by: str, at: datetime, reason_code=None, explanation=None, over_claim: bool = False) -> bool:
    """The decision itself: the task's conditional transition first; only its winner changes
    the case, cancels the timers, closes the R13 record and writes the decision event.
    `over_claim`: the system (R12) and a supervisor decide whoever holds the claim."""
    values = {"status": AuditStatus.decided, "decision": action, "decided_by": by, "decided_at": at, "reason_code": reason_code, "explanation": explanation}
    claimed_by = task.claimed_by
    if not _transition(session, task=task, by=None if (by == "system" or over_claim) else by, values=values):
        return False
    before = application.status
    application.status = {"approve": CaseStatus.approved, "reject": CaseStatus.rejected, "auto_issue": CaseStatus.auto_issued}[action]
    application.decision, application.decided_at, application.updated_at = action, at, at
    session.add(application)
    sla_service.cancel_timers(session, application_id=application.id, at=at)
    record = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first()
    if record is not None and record.outcome is None:
        # R13: the record of a breached case says how and how late it ended.
        record.outcome = {"approve": "approved_late", "reject": "rejected_late", "auto_issue": "auto_issued"}[action]
        record.delay_seconds = (at - record.due_at).total_seconds()
        session.add(record)
    data = {"reason_code": reason_code} if reason_code else {}
    if over_claim:
        data["by_role"] = "supervisor"  # the supervisor's own decision on an escalated case
        if claimed_by and claimed_by != by:
            data["claim_overridden"] = claimed_by
    record_event(session, application_id=application.id, actor=by, action=f"decision_{action}", at=at, before=before, after=application.status, reason=explanation, data=data)
    _audit_items(session=session, task=task, application=application, action=action, at=at, reason_code=reason_code, explanation=explanation)
    dispatch.enqueue(session, application_id=application.id, action="resume", at=at)
    return True


def _audit_items(*, session: Session, task: AuditTask, application: Application, action: str, at: datetime, reason_code=None, explanation=None) -> None:
    """R21: every decision the province reviews goes into its queue here, in the decision's
    own transaction, whoever decided (an issuer, a supervisor, the system)."""
    who = {"responsible_kind": task.holder_kind, "responsible_code": task.holder_code, "application_id": application.id, "at": at}
    if action == "approve" and application.red_list:
        oversight.raise_item(session=session, kind="red_list_override", source_key=f"red_list_override:{application.id}", summary=f"{application.reference} approved despite a red-list hit: {explanation}", **who)
    elif action == "reject":
        thin = oversight.thin_reason(session=session, application_id=application.id, task_id=task.id, reason_code=reason_code)
        summary = f"{application.reference} rejected ({reason_code}): {explanation}" + (f" [thin: {thin}]" if thin else "")
        oversight.raise_item(session=session, kind="rejection", source_key=f"rejection:{application.id}", summary=summary, thin=thin, **who)
    elif action == "auto_issue":
        oversight.raise_item(session=session, kind="auto_issue", source_key=f"auto_issue:{application.id}", summary=f"{application.reference}: green pass issued by the system, no audit opinion after the timeout (R12)", **who)


def system_decision(*, session: Session, application: Application, at: datetime, scheduled_for: datetime) -> bool:
    """R12's automatic green pass. It loses to an issuer's decision that got there first (that
    decision stands; nothing is written), and it never issues green on a red-list hit, even one
    found after it was scheduled (a re-compared amendment, R15)."""
    if application.red_list:
        sla_service.cancel_timers(session, application_id=application.id, at=at, kinds=("auto_issue",))
        record_event(session, application_id=application.id, actor="system", action="auto_issue_withheld", at=at, reason="red-list comparison hit: escalates instead (R12)")
        return False
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    if task is None:
        return False
    return _close(session=session, task=task, application=application, action="auto_issue", by="system", at=at, explanation=f"no audit opinion after the timeout; auto-issue scheduled for {scheduled_for.isoformat()} (R12)")


def supply(*, session: Session, application: Application, items: dict, at: datetime, settings: Settings, uploads: list | None = None) -> None:
    """The applicant answers a supplement request: the clock resumes where it stopped.
    `uploads` (cases.attachments.service.Upload): files with the answer, checked and stored
    with it, or nothing is stored."""
    application = _lock_case(session, application.id)  # case before task, as a decision takes them
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id).execution_options(populate_existing=True)).first()
    if task is None or task.status != AuditStatus.waiting_applicant:
        raise Conflict("nothing was requested from the applicant")
    missing = [m for m in task.missing_items if m not in items]
    if missing:
        raise Invalid(f"still missing: {', '.join(missing)}", field="items")
    task.status = AuditStatus.claimed if task.claimed_by else AuditStatus.open
    task.missing_items = []
    application.status = CaseStatus.awaiting_audit
    session.add_all([task, application])
    from cases.attachments import service as attachments

    files = attachments.store(session=session, application_id=application.id, uploads=list(uploads or []), at=at)
    # The answers go into the timeline, where the issuer reads them with the case.
    data = {"items": sorted(items), "answers": {k: items[k] for k in sorted(items)}}
    if files:
        data["attachment_ids"] = [f.id for f in files]
        data["attachments"] = [{"id": f.id, "item": f.item, "filename": f.filename, "size": f.size, "sha256": f.sha256} for f in files]
    record_event(session, application_id=application.id, actor="applicant", action="supplement_supplied", at=at, data=data)
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


QUEUE_VIEWS = ("open", "mine", "unclaimed", "waiting", "done")  # open: everything still to do


def _holder_filter(user: User):
    return AuditTask.holder_code == (user.unit_code if user.unit_code else user.region_code)


def _view_filter(view: str, user: User):
    if view == "mine":
        return AuditTask.status.in_([AuditStatus.claimed, AuditStatus.waiting_applicant]) & (AuditTask.claimed_by == user.id)
    if view == "unclaimed":
        return (AuditTask.status == AuditStatus.open) & AuditTask.claimed_by.is_(None)
    if view == "waiting":
        return AuditTask.status == AuditStatus.waiting_applicant
    if view == "done":
        return (AuditTask.status == AuditStatus.decided) & (AuditTask.decided_by == user.id)
    return AuditTask.status.in_([AuditStatus.open, AuditStatus.claimed, AuditStatus.waiting_applicant])


def queue_counts(*, session: Session, user: User) -> dict[str, int]:
    """How many tasks each view of the queue holds (the filter tabs show them)."""
    from sqlalchemy import func

    return {
        view: session.exec(select(func.count()).select_from(AuditTask).where(_holder_filter(user), _view_filter(view, user))).one()
        for view in QUEUE_VIEWS
    }


def queue_page(*, session: Session, user: User, view: str = "open", page: int = 1, per_page: int = 25) -> tuple[list[tuple[AuditTask, Application]], int]:
    """One page of a view of the issuer's queue and the view's total. Open views: the earliest
    due first; `done` (this issuer's decisions): the latest decision first."""
    from sqlalchemy import func

    if view not in QUEUE_VIEWS:
        raise Invalid(f"view must be one of {list(QUEUE_VIEWS)}", field="view")
    if page < 1:
        raise Invalid("page starts at 1", field="page")
    where = (_holder_filter(user), _view_filter(view, user))
    total = session.exec(select(func.count()).select_from(AuditTask).where(*where)).one()
    query = select(AuditTask, Application).join(Application, Application.id == AuditTask.application_id).where(*where)
    if view == "done":
        query = query.order_by(AuditTask.decided_at.desc(), AuditTask.id)
    else:
        query = query.order_by(Application.sla_due_at.is_(None), Application.sla_due_at, Application.submitted_at, AuditTask.id)
    return list(session.exec(query.offset((page - 1) * per_page).limit(per_page))), total


def colleagues(*, session: Session, task: AuditTask, besides: str | None = None) -> list[User]:
    """The active issuers who may take the task over (same community or unit)."""
    column = User.unit_code if task.holder_kind == "unit" else User.region_code
    rows = session.exec(select(User).where(User.role == Role.issuer, User.active == True, column == task.holder_code).order_by(User.username))  # noqa: E712
    return [u for u in rows if u.id != besides and can_work(u, task)]


def reassign(*, session: Session, task_id: str, by: User, at: datetime, to_user: User | None) -> AuditTask:
    """Release a claim or hand the task to another issuer of the same holder. The SLA clock is
    the case's, not the issuer's: reassignment never restarts or extends it."""
    task = _task(session, task_id)
    _lock_case(session, task.application_id)  # case before task, as a decision takes them
    session.refresh(task)
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
