"""Issuers: the audit queue, daily sign-in (R18), the task page, claiming and deciding.

Every POST answers with a redirect (redirect-after-POST), success or not: a reload never sends
a form again. An error travels back in the query string, signed with the session's CSRF key
so a link cannot put words on the page."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import DecisionConflict, DomainError
from cases.models import Application, AuditTask, ContactAttempt, IssuerSignIn, Region, Role, Unit, User
from cases.services import actions
from ui.i18n import _
from ui.pages.common import SECURITY_HEADERS, _value, redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused
from ui.pages.words import ACTION_WORDS, CHANNEL_WORDS, CONTACT_METHODS, ID_TYPES, OUTCOME_WORDS, SLA_WORDS, STATUS_WORDS, SYMPTOM_WORDS, Word

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
VIEW_WORDS = {
    "open": Word("queue", "All open"),
    "mine": Word("queue", "Mine"),
    "unclaimed": Word("queue", "Unclaimed"),
    "waiting": Word("queue", "Waiting for the applicant"),
    "done": Word("queue", "Done by me"),
}
# What the flash of a failed POST may carry back into the form (never the CSRF token).
FORM_KEYS = ("action", "reason_code", "explanation", "contact_method", "missing_items", "to_username", "reason")
FLASH_TEXT_LIMIT = 1000  # a URL stays short enough for every server and proxy


def _signed_in_today(session: Session, user: User, now: datetime) -> IssuerSignIn | None:
    day = now.astimezone(SHANGHAI).date()
    return session.exec(select(IssuerSignIn).where(IssuerSignIn.user_id == user.id, IssuerSignIn.work_date == day)).first()


def _holder_name(session: Session, user: User) -> str:
    if user.unit_code:
        unit = session.get(Unit, user.unit_code)
        return unit.name if unit else user.unit_code
    region = session.get(Region, user.region_code) if user.region_code else None
    return f"{region.name_zh} {region.name_en}" if region else (user.region_code or "")


# ------------------------------------------------------------- the flash ---

def _flash_sig(p: Page, payload: str) -> str:
    return hmac.new(p.settings.secret("csrf"), b"flash|" + (p.csrf or "").encode() + b"|" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def _back(p: Page, path: str, *, error_key: str | None = None, message: str | None = None, field: str | None = None, values: dict | None = None, done: str | None = None) -> Response:
    """Redirect after a POST; on an error, carry the message and what was typed (signed)."""
    sep = "&" if "?" in path else "?"
    if error_key is None:
        return redirect(f"{path}{sep}done={done}" if done else path)
    payload = json.dumps({"k": error_key, "m": message, "f": field or "", "v": {k: str(v)[:FLASH_TEXT_LIMIT] for k, v in (values or {}).items() if k in FORM_KEYS and v}}, ensure_ascii=False, separators=(",", ":"))
    return redirect(f"{path}{sep}{urlencode({'flash': payload, 'sig': _flash_sig(p, payload)})}")


def _read_flash(p: Page, flash: str | None, sig: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(errors, form values) from a signed flash; nothing when absent or not ours."""
    if not flash or not sig or not hmac.compare_digest(sig, _flash_sig(p, flash)):
        return {}, {}
    try:
        data = json.loads(flash)
        errors = {str(data["k"]): str(data["m"]), "field": str(data.get("f") or "")}
        return errors, {str(k): str(v) for k, v in dict(data.get("v") or {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}, {}


def _error_text(exc: DomainError) -> str:
    return exc.message + (f" (rule {exc.rule})" if exc.rule and exc.rule not in exc.message else "")


# ------------------------------------------------------------- the queue ---

def _queue_path(view: str, page: int) -> str:
    return "/issuer" + (f"?{urlencode({'view': view, 'page': page} if page > 1 else {'view': view})}" if view != "open" or page > 1 else "")


@router.get("/issuer", response_class=HTMLResponse)
def issuer_queue(p: PageDep, done: str | None = None, view: str = "open", page: str = "1", flash: str | None = None, sig: str | None = None) -> HTMLResponse:
    from cases.services import audit, sla_service
    from cases.services.views import comparison_detail, place_name, task_view

    user = p.staff(Role.issuer)
    view = view if view in audit.QUEUE_VIEWS else "open"
    page_number = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    cal = sla_service.calendar(p.session, p.settings)
    rows, total = audit.queue_page(session=p.session, user=user, view=view, page=page_number, per_page=PER_PAGE)
    names: dict[str, str] = {}
    items = []
    for task, app in rows:
        contacts = len(p.session.exec(select(ContactAttempt.id).where(ContactAttempt.audit_task_id == task.id)).all())
        view_row = task_view(task, app, p.now, cal, contacts)
        record = comparison_detail(p.session, app.id)
        view_row["hits"] = len(record["hits"]) if record else 0
        view_row["amended_hits"] = sum(1 for h in record["hits"] if h.get("from_amendment")) if record else 0  # R15
        view_row["incomplete"] = bool(record and record["incomplete"])
        view_row["mine"] = task.claimed_by == user.id
        if task.claimed_by and task.claimed_by not in names:
            holder = p.session.get(User, task.claimed_by)
            names[task.claimed_by] = (holder.full_name or holder.username) if holder else task.claimed_by
        view_row["claimer"] = names.get(task.claimed_by or "")
        view_row["community"] = place_name(app.community_code)
        view_row["unit"] = place_name(app.unit_code) if app.unit_code else None
        view_row["decision"] = task.decision
        view_row["decided_at"] = task.decided_at
        view_row.update(channel=_value(view_row["channel"]), kind=_value(view_row["kind"]), status=_value(view_row["status"]))
        view_row["colleagues"] = [u.username for u in audit.colleagues(session=p.session, task=task, besides=user.id)] if view_row["mine"] and view_row["status"] == "claimed" else []
        items.append(view_row)
    errors, _ = _read_flash(p, flash, sig)
    pages = max(1, -(-total // PER_PAGE))
    return p.render(
        "issuer_queue.html",
        items=items,
        view=view,
        views=VIEW_WORDS,
        counts=audit.queue_counts(session=p.session, user=user),
        page=page_number,
        pages=pages,
        total=total,
        queue_path=_queue_path,
        here=_queue_path(view, page_number),
        errors=errors,
        signed_in=_signed_in_today(p.session, user, p.now),
        nudges=actions.issuer_nudges(session=p.session, user=user, limit=10),  # supervisors' reminders (issue 13)
        holder=_holder_name(p.session, user),
        done=done if done in ("approve", "reject", "signed_in", "claimed", "released", "reassigned") else None,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS},
    )


@router.post("/issuer/sign-in")
def issuer_sign_in(p: PageDep, form: FormDep) -> Response:
    from cases.services import roster

    user = p.staff(Role.issuer, form=form)
    roster.sign_in(session=p.session, user=user, at=p.now)
    return redirect("/issuer?done=signed_in")


# -------------------------------------------------------------- the task ---

def _task_for(p: Page, task_id: str, user: User) -> AuditTask:
    from cases.services import audit

    task = p.session.get(AuditTask, task_id)
    if task is None or not audit.can_work(user, task):
        raise PageRefused(404, _("Task not found"), _("No task with this number is in your queue."), p)
    return task


def _return_to(form, task_id: str) -> str:
    """Back to the queue view the button was pressed on, or to the task page."""
    target = str(form.get("next") or "")
    if target == "/issuer" or target.startswith("/issuer?"):
        return target.split("#")[0]
    return f"/issuer/tasks/{task_id}"


def _render_task(p: Page, task: AuditTask, user: User, *, errors: dict[str, str], form_values: dict[str, str], done: str | None) -> HTMLResponse:
    from cases.models import Applicant
    from cases.services import audit, sla_service
    from cases.services.applications import latest_declaration
    from cases.services.views import case_view, comparison_detail, health_status, place_name, recent_reveal, supplement_exchange, task_view

    app = p.session.get(Application, task.application_id)
    contacts = list(p.session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id).order_by(ContactAttempt.at)))
    view = task_view(task, app, p.now, sla_service.calendar(p.session, p.settings), len(contacts))
    case = case_view(p.session, app, p.settings, p.now)
    declaration = latest_declaration(p.session, app.id)
    content = declaration.content if declaration else {}
    applicant = p.session.get(Applicant, app.applicant_id)
    claimer = p.session.get(User, task.claimed_by) if task.claimed_by else None
    reveal = recent_reveal(p.session, app.id, user.id, p.now)
    people = {u.id: (u.full_name or u.username) for u in p.session.exec(select(User).where(User.id.in_({e["actor"] for e in case["timeline"]})))}
    return p.render(
        "issuer_task.html",
        t=view,
        task=task,
        c=case,
        d=content,
        health=health_status(content, p.settings.fever_threshold),
        comparison=comparison_detail(p.session, app.id),
        exchange=supplement_exchange(p.session, app.id),
        places={s.get("place"): place_name(s.get("place")) for s in content.get("residence_history") or []},
        community=place_name(app.community_code),
        unit=place_name(app.unit_code) if app.unit_code else None,
        applicant=applicant,
        reveal=reveal,
        claimer=claimer,
        mine=task.claimed_by == user.id,
        colleagues=audit.colleagues(session=p.session, task=task, besides=user.id),
        people=people,
        contacts=contacts,
        errors=errors,
        fv=form_values,
        done=done,
        reasons=audit.REJECTION_REASONS,
        forbidden=audit.FORBIDDEN_REASONS,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS, "status": STATUS_WORDS, "action": ACTION_WORDS, "contact": CONTACT_METHODS, "symptom": SYMPTOM_WORDS, "id_type": ID_TYPES},
    )


TASK_DONE = ("claimed", "supplement", "contact", "released", "reassigned", "revealed")


@router.get("/issuer/tasks/{task_id}", response_class=HTMLResponse)
def issuer_task(task_id: str, p: PageDep, done: str | None = None, flash: str | None = None, sig: str | None = None) -> HTMLResponse:
    user = p.staff(Role.issuer)
    errors, values = _read_flash(p, flash, sig)
    return _render_task(p, _task_for(p, task_id, user), user, errors=errors, form_values=values, done=done if done in TASK_DONE else None)


@router.post("/issuer/tasks/{task_id}/claim")
def issuer_claim(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    back = _return_to(form, task_id)
    try:
        audit.claim(session=p.session, task_id=task.id, user=user, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _back(p, back, error_key="claim", message=_error_text(exc))
    return redirect(back + ("&" if "?" in back else "?") + "done=claimed")


@router.post("/issuer/tasks/{task_id}/release")
def issuer_release(task_id: str, p: PageDep, form: FormDep) -> Response:
    """Give a claimed task back to the holder's queue (the SLA clock is unchanged)."""
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    back = _return_to(form, task_id)
    try:
        audit.reassign(session=p.session, task_id=task.id, by=user, at=p.now, to_user=None)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _back(p, back, error_key="claim", message=_error_text(exc))
    return redirect(back + ("&" if "?" in back else "?") + "done=released")


@router.post("/issuer/tasks/{task_id}/reassign")
def issuer_reassign(task_id: str, p: PageDep, form: FormDep) -> Response:
    """Hand a claimed task to another issuer of the same community or unit."""
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    back = _return_to(form, task_id)
    username = str(form.get("to_username") or "").strip()
    target = p.session.exec(select(User).where(User.username == username)).first() if username else None
    if target is None or target.role != Role.issuer or not target.active:
        return _back(p, back, error_key="reassign", message=_("Choose an active issuer of this community or unit."), field="to_username", values={"to_username": username})
    try:
        audit.reassign(session=p.session, task_id=task.id, by=user, at=p.now, to_user=target)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _back(p, back, error_key="reassign", message=_error_text(exc), field=exc.field, values={"to_username": username})
    return redirect(back + ("&" if "?" in back else "?") + "done=reassigned")


@router.post("/issuer/tasks/{task_id}/contact-details")
def issuer_reveal(task_id: str, p: PageDep, form: FormDep) -> Response:
    """Show the applicant's full phone and address: the reason is required and the read is an
    event on the case's timeline (who, when, why); the page shows them for a few minutes."""
    from cases.services import privacy

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    reason = str(form.get("reason") or "").strip()
    if len(reason) > 300:
        return _back(p, f"/issuer/tasks/{task_id}", error_key="reveal", message=_("The reason is limited to 300 characters."), field="reason", values={"reason": reason})
    try:
        privacy.read_personal_data(session=p.session, application=p.session.get(Application, task.application_id), user_id=user.id, reason=reason, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _back(p, f"/issuer/tasks/{task_id}", error_key="reveal", message=_error_text(exc), field="reason", values={"reason": reason})
    return redirect(f"/issuer/tasks/{task_id}?done=revealed#contact")


@router.get("/issuer/tasks/{task_id}/attachments/{attachment_id}")
def issuer_attachment(task_id: str, attachment_id: str, p: PageDep) -> Response:
    """A file of a supplement answer, as a download (never rendered in the page's origin)."""
    from cases.attachments import service as attachments

    user = p.staff(Role.issuer)
    task = _task_for(p, task_id, user)
    row = attachments.get(p.session, task.application_id, attachment_id)
    if row is None:
        raise PageRefused(404, _("File not found"), _("No such file on this case."), p)
    return Response(content=row.data, media_type=row.content_type, headers=attachment_headers(row.filename))


def attachment_headers(filename: str) -> dict[str, str]:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return {**SECURITY_HEADERS, "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}", "X-Content-Type-Options": "nosniff"}


@router.post("/issuer/tasks/{task_id}/decision")
def issuer_decide(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    here = f"/issuer/tasks/{task_id}"
    action = str(form.get("action") or "")
    reason_code = str(form.get("reason_code") or "").strip() or None
    explanation = str(form.get("explanation") or "").strip() or None
    method = str(form.get("contact_method") or "").strip() or None
    items = [line.strip() for line in str(form.get("missing_items") or "").replace("；", "\n").replace(";", "\n").splitlines() if line.strip()]
    values = {"action": action, "reason_code": reason_code or "", "explanation": explanation or "", "contact_method": method or "", "missing_items": "\n".join(items)}
    error_key = {"reject": "reject", "request_supplement": "supplement", "verify_contact": "contact"}.get(action, "approve")
    problem = None
    if explanation and len(explanation) > 2000:
        problem = _("The explanation is limited to 2000 characters.")
    elif action == "verify_contact" and method is not None and method not in CONTACT_METHODS:
        problem = f"Contact method must be one of {', '.join(CONTACT_METHODS)}."
    elif action == "request_supplement" and (len(items) > 20 or any(len(i) > 100 for i in items)):
        problem = _("At most 20 items of at most 100 characters each.")
    if problem:
        return _back(p, here, error_key=error_key, message=problem, values=values)
    try:
        audit.decide(session=p.session, task_id=task.id, user=user, action=action, at=p.now, settings=p.settings, reason_code=reason_code, explanation=explanation, missing_items=items or None, contact_method=method)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        if isinstance(exc, DecisionConflict):
            # Another decision won: the forms are gone from the decided task, so say it at the top.
            return _back(p, here, error_key="conflict", message=_error_text(exc))
        return _back(p, here, error_key=error_key, message=_error_text(exc), field=exc.field, values=values)
    if action in ("approve", "reject"):
        return redirect(f"/issuer?done={action}")
    return redirect(f"{here}?done={'supplement' if action == 'request_supplement' else 'contact'}")
