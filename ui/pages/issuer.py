"""Issuers: the audit queue, daily sign-in (R18), the task page, claiming and deciding."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import DecisionConflict, DomainError
from cases.models import Application, AuditTask, ComparisonRecord, ContactAttempt, IssuerSignIn, Region, Role, Unit, User
from cases.services import actions
from ui.pages.common import _value, redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused
from ui.pages.words import ACTION_WORDS, CHANNEL_WORDS, CONTACT_METHODS, ID_TYPES, OUTCOME_WORDS, SLA_WORDS, STATUS_WORDS, SYMPTOM_WORDS

router = APIRouter(include_in_schema=False)


def _signed_in_today(session: Session, user: User, now: datetime) -> IssuerSignIn | None:
    day = now.astimezone(SHANGHAI).date()
    return session.exec(select(IssuerSignIn).where(IssuerSignIn.user_id == user.id, IssuerSignIn.work_date == day)).first()


def _holder_name(session: Session, user: User) -> str:
    if user.unit_code:
        unit = session.get(Unit, user.unit_code)
        return unit.name if unit else user.unit_code
    region = session.get(Region, user.region_code) if user.region_code else None
    return f"{region.name_zh} {region.name_en}" if region else (user.region_code or "")


@router.get("/issuer", response_class=HTMLResponse)
def issuer_queue(p: PageDep, done: str | None = None) -> HTMLResponse:
    from cases.services.views import task_view
    from cases.services import audit, sla_service

    user = p.staff(Role.issuer)
    cal = sla_service.calendar(p.session, p.settings)
    items = []
    for task, app in audit.queue(session=p.session, user=user):
        contacts = len(p.session.exec(select(ContactAttempt.id).where(ContactAttempt.audit_task_id == task.id)).all())
        view = task_view(task, app, p.now, cal, contacts)
        record = p.session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app.id)).first()
        view["hits"] = len(record.hits) if record else 0
        view["amended_hits"] = sum(1 for h in record.hits if h.get("from_amendment")) if record else 0  # R15
        view["mine"] = task.claimed_by == user.id
        view.update(channel=_value(view["channel"]), kind=_value(view["kind"]), status=_value(view["status"]))
        items.append(view)
    items.sort(key=lambda v: (v["time_left_seconds"] is None, v["time_left_seconds"] if v["time_left_seconds"] is not None else 0))
    return p.render(
        "issuer_queue.html",
        items=items,
        signed_in=_signed_in_today(p.session, user, p.now),
        nudges=actions.issuer_nudges(session=p.session, user=user, limit=10),  # supervisors' reminders (issue 13)
        holder=_holder_name(p.session, user),
        done=done if done in ("approve", "reject", "signed_in") else None,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS},
    )


@router.post("/issuer/sign-in")
def issuer_sign_in(p: PageDep, form: FormDep) -> Response:
    from cases.services import roster

    user = p.staff(Role.issuer, form=form)
    roster.sign_in(session=p.session, user=user, at=p.now)
    return redirect("/issuer?done=signed_in")


def _task_for(p: Page, task_id: str, user: User) -> AuditTask:
    from cases.services import audit

    task = p.session.get(AuditTask, task_id)
    if task is None or not audit.can_work(user, task):
        raise PageRefused(404, "Task not found / 未找到任务", "No task with this number is in your queue.", p)
    return task


def _render_task(p: Page, task: AuditTask, *, errors: dict[str, str] | None = None, status: int = 200, form_values: dict[str, str] | None = None, done: str | None = None) -> HTMLResponse:
    from cases.services.views import case_view
    from cases.services.views import task_view
    from cases.services import audit, sla_service
    from cases.services.applications import latest_declaration
    from cases.models import Applicant

    app = p.session.get(Application, task.application_id)
    contacts = list(p.session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id).order_by(ContactAttempt.at)))
    view = task_view(task, app, p.now, sla_service.calendar(p.session, p.settings), len(contacts))
    case = case_view(p.session, app, p.settings, p.now)
    declaration = latest_declaration(p.session, app.id)
    applicant = p.session.get(Applicant, app.applicant_id)
    claimer = p.session.get(User, task.claimed_by) if task.claimed_by else None
    return p.render(
        "issuer_task.html",
        status=status,
        t=view,
        task=task,
        c=case,
        d=declaration.content if declaration else {},
        applicant=applicant,
        claimer=claimer,
        contacts=contacts,
        errors=errors or {},
        fv=form_values or {},
        done=done,
        reasons=audit.REJECTION_REASONS,
        forbidden=audit.FORBIDDEN_REASONS,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS, "status": STATUS_WORDS, "action": ACTION_WORDS, "contact": CONTACT_METHODS, "symptom": SYMPTOM_WORDS, "id_type": ID_TYPES},
    )


@router.get("/issuer/tasks/{task_id}", response_class=HTMLResponse)
def issuer_task(task_id: str, p: PageDep, done: str | None = None) -> HTMLResponse:
    user = p.staff(Role.issuer)
    return _render_task(p, _task_for(p, task_id, user), done=done if done in ("claimed", "supplement", "contact") else None)


@router.post("/issuer/tasks/{task_id}/claim")
def issuer_claim(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    try:
        audit.claim(session=p.session, task_id=task.id, user=user, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _render_task(p, _task_for(p, task_id, user), errors={"claim": exc.message}, status=exc.status_code)
    return redirect(f"/issuer/tasks/{task_id}?done=claimed")


@router.post("/issuer/tasks/{task_id}/decision")
def issuer_decide(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    action = str(form.get("action") or "")
    reason_code = str(form.get("reason_code") or "").strip() or None
    explanation = str(form.get("explanation") or "").strip() or None
    method = str(form.get("contact_method") or "").strip() or None
    items = [line.strip() for line in str(form.get("missing_items") or "").replace("；", "\n").replace(";", "\n").splitlines() if line.strip()]
    values = {"action": action, "reason_code": reason_code or "", "explanation": explanation or "", "contact_method": method or "", "missing_items": "\n".join(items)}
    error_key = {"reject": "reject", "request_supplement": "supplement", "verify_contact": "contact"}.get(action, "approve")
    problem = None
    if explanation and len(explanation) > 2000:
        problem = "The explanation is limited to 2000 characters. 说明不超过2000字。"
    elif action == "verify_contact" and method is not None and method not in CONTACT_METHODS:
        problem = f"Contact method must be one of {', '.join(CONTACT_METHODS)}."
    elif action == "request_supplement" and (len(items) > 20 or any(len(i) > 100 for i in items)):
        problem = "At most 20 items of at most 100 characters each. 最多20项，每项不超过100字。"
    if problem:
        return _render_task(p, task, errors={error_key: problem}, status=422, form_values=values)
    try:
        audit.decide(session=p.session, task_id=task.id, user=user, action=action, at=p.now, settings=p.settings, reason_code=reason_code, explanation=explanation, missing_items=items or None, contact_method=method)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        message = exc.message + (f" (rule {exc.rule})" if exc.rule and exc.rule not in exc.message else "")
        if isinstance(exc, DecisionConflict):
            # Another decision won: the forms are gone from the decided task, so say it at the top.
            return _render_task(p, _task_for(p, task_id, user), errors={"conflict": message}, status=exc.status_code)
        return _render_task(p, _task_for(p, task_id, user), errors={error_key: message, "field": exc.field or ""}, status=exc.status_code, form_values=values)
    if action in ("approve", "reject"):
        return redirect(f"/issuer?done={action}")
    return redirect(f"/issuer/tasks/{task_id}?done={'supplement' if action == 'request_supplement' else 'contact'}")
