"""The steps of one application (R14), each idempotent against the store so a flow
re-run (after a resume, a retry or a crash) changes nothing it already did."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from cases.errors import Conflict
from cases.events import record_event
from cases.models import (
    Application,
    AuditTask,
    CaseKind,
    CaseStatus,
    ComparisonRecord,
    Notification,
)
from cases.services import sla_service
from cases.services.applications import canonical_hash, latest_declaration
from cases.settings import Settings

DECIDED = (CaseStatus.approved, CaseStatus.rejected, CaseStatus.auto_issued, CaseStatus.completed)


def _set_status(session: Session, application: Application, status: CaseStatus, *, at: datetime, actor: str, action: str, data=None) -> None:
    before = application.status
    application.status, application.updated_at = status, at
    session.add(application)
    record_event(session, application_id=application.id, actor=actor, action=action, at=at, before=before, after=status, data=data)


def declare(*, session: Session, application: Application, at: datetime) -> dict:
    """Step 1: the stored statement is intact (hash re-checked) and the case is declared."""
    declaration = latest_declaration(session, application.id)
    if canonical_hash(declaration.content) != declaration.content_hash:
        raise Conflict(f"declaration of {application.reference} does not match its hash")
    if application.status == CaseStatus.submitted:
        _set_status(session, application, CaseStatus.declared, at=at, actor="flow:declare", action="declared", data={"version": declaration.version})
    return {"reference": application.reference, "declaration_version": declaration.version, "hash": declaration.content_hash}


def compare(*, session: Session, application: Application, at: datetime, settings: Settings, accept_incomplete: bool) -> dict:
    """Step 2: big-data comparison. Raises SourceUnavailable (so the task retries) unless
    this is the last attempt, where the case is marked 'incomplete' — never a silent clear."""
    existing = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == application.id)).first()
    if existing is None:
        from cases.services.comparison import compare_amendment, run_comparison

        if session.get_bind().dialect.name == "postgresql":
            # The case's row lock, as an amendment takes it: one of the two runs after the other.
            session.exec(select(Application.id).where(Application.id == application.id).with_for_update(key_share=True)).one()
        declaration = latest_declaration(session, application.id)
        existing = run_comparison(session=session, application=application, at=at, settings=settings, accept_incomplete=accept_incomplete, declaration=declaration)
        # The record is written (on SQLite, under the one write lock); an amendment stored while
        # this compared found no record, so it is compared here (R15).
        latest = latest_declaration(session, application.id)
        if latest.version != declaration.version:
            compare_amendment(session=session, application=application, declaration=latest, at=at, settings=settings)
    if application.status == CaseStatus.declared:
        application.comparison_outcome, application.red_list, application.rule_version = existing.outcome, existing.red_list, existing.rule_version
        _set_status(session, application, CaseStatus.compared, at=at, actor="flow:compare", action="compared", data={"outcome": existing.outcome, "hits": len(existing.hits)})
    return {"outcome": existing.outcome, "red_list": existing.red_list, "hits": existing.hits, "sources": existing.sources}


def open_observation(*, session: Session, application: Application, at: datetime, settings: Settings) -> bool:
    """Arrivals (R8/R9) observe 14 days before audit; True while the case is observing."""
    if application.kind != CaseKind.arrival:
        return False
    if application.status == CaseStatus.compared:
        from cases.services.observation import start_observation

        start_observation(session=session, application=application, at=at, settings=settings)
    return application.status == CaseStatus.observing


def assign_audit(*, session: Session, application: Application, at: datetime, settings: Settings) -> dict | None:
    """Step 3 begins: the audit task goes to the unit (unit submissions) or the community."""
    if application.status in DECIDED:
        return None
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    if task is None:
        holder_kind, holder_code = ("unit", application.unit_code) if application.channel == "unit" and application.unit_code else ("community", application.community_code)
        task = AuditTask(application_id=application.id, holder_kind=holder_kind, holder_code=holder_code, created_at=at)
        session.add(task)
        session.add(Notification(application_id=application.id, recipient_level="issuer", recipient_code=holder_code, kind="audit_assigned", message=f"New application {application.reference} to audit.", created_at=at))
        session.flush()
        record_event(session, application_id=application.id, actor="flow:assign_audit", action="audit_assigned", at=at, data={"holder_kind": holder_kind, "holder_code": holder_code, "task_id": task.id})
    if application.status in (CaseStatus.compared, CaseStatus.observing, CaseStatus.declared):
        _set_status(session, application, CaseStatus.awaiting_audit, at=at, actor="flow:assign_audit", action="awaiting_audit")
    sla_service.start_clock(session=session, application=application, at=at, settings=settings)
    return {"task_id": task.id, "holder_kind": task.holder_kind, "holder_code": task.holder_code, "due_at": application.sla_due_at.isoformat()}


def route(*, session: Session, application: Application, at: datetime, settings: Settings) -> dict:
    """Step 3 begins (the `assign_audit` task): an arrival observes first (R8, R9), every other
    case and an arrival whose observation ended in audit goes to its audit queue (R10, R11)."""
    observing = open_observation(session=session, application=application, at=at, settings=settings)
    audit = None if observing else assign_audit(session=session, application=application, at=at, settings=settings)
    return {"observation": observing, "audit": audit, "waiting_on": waiting_on(application)}


def progress(application: Application, *, has_comparison: bool, has_audit_task: bool) -> dict:
    """Which of the flow's steps the store says are done, so a resumed run does not repeat them."""
    screened = application.status not in (CaseStatus.submitted, CaseStatus.declared, CaseStatus.compared) and has_comparison
    routed = screened and not (application.status in (CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant) and not has_audit_task)
    return {"reference": application.reference, "status": application.status.value, "screened": screened, "routed": routed, "waiting_on": waiting_on(application)}


def decision_of(*, session: Session, application: Application, at: datetime) -> dict:
    """The decision the store holds for the case, if any (the `record_decision` task)."""
    return {"decision": application.decision, "decided_at": application.decided_at.isoformat() if application.decided_at else None, "waiting_on": waiting_on(application)}


def waiting_on(application: Application) -> str | None:
    """What a human (or a timer) still owes this case, if anything."""
    if application.status == CaseStatus.observing:
        return "observation"
    if application.status in (CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant):
        return "audit"
    return None


def finish(*, session: Session, application: Application, at: datetime, settings: Settings) -> dict:
    """Issue the pass the decision calls for, then close the case."""
    from cases.services.passes import active_pass, issue_pass

    colour = {
        "approve": "yellow" if application.comparison_outcome == "risk_area" else "green",
        "auto_issue": "green",  # R12
        "observation_clear": "green",  # R9
        "reject": "red" if application.red_list else None,
    }.get(application.decision or "")
    issued = None
    if colour:
        issued = issue_pass(session=session, application=application, colour=colour, by="system" if application.decision != "approve" else f"decision:{application.id}", at=at, settings=settings)
    elif application.decision == "reject":
        current = active_pass(session, application.id)
        if current is not None:
            from cases.services.passes import revoke

            revoke(session=session, pass_=current, reason="application rejected", by="system", at=at)
    if application.status != CaseStatus.completed:
        _set_status(session, application, CaseStatus.completed, at=at, actor="flow:issue_pass", action="completed", data={"decision": application.decision})
    return {"decision": application.decision, "pass_id": issued.id if issued else None, "colour": colour}
