"""The staff view of a case (/staff/cases/{id}) and a supervisor's actions on it: reassign,
nudge, decide an escalated case, revoke the pass. Never the applicant's page; 404 outside the
reader's area. Each form carries the session's CSRF token, redirects after a POST, and on a
refusal shows the page again with the reason next to the form."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.errors import DecisionConflict, DomainError, NotFound
from cases.models import Role
from cases.services import actions, audit
from cases.services.staff_case import STAFF_ROLES, load_staff_case, staff_case
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused
from ui.pages.words import ACTION_WORDS, STATUS_WORDS

router = APIRouter(include_in_schema=False)
DONE = {
    "reassigned": "The task was handed over. 已改派。",
    "released": "The task was released to the holder's queue. 已退回待办。",
    "nudged": "The issuer was reminded. 已催办。",
    "approve": "Your decision was recorded: approved. 已审核通过。",
    "reject": "Your decision was recorded: rejected. 已不予发码。",
    "revoked": "The pass was revoked. 已撤销通行卡。",
}
SLA_STATE_WORDS = {
    "on_time": ("On time", "正常"),
    "at_risk": ("At risk (80 % of the time used)", "即将超时"),
    "breached": ("Breached", "已超时"),
    "paused": ("Paused: waiting for the applicant", "暂停：等待补充材料"),
    "decided": ("Decided", "已办结"),
    "not_started": ("Clock not started", "未计时"),
}


def _load(p: Page, case_id: str, form=None):
    user = p.staff(*STAFF_ROLES, form=form)
    try:
        return user, load_staff_case(p.session, case_id, user=user)
    except NotFound:
        raise PageRefused(404, "Case not found / 未找到案件", "No case with this number lies in your area.", p) from None


def _render(p: Page, case_id: str, *, errors: dict[str, str] | None = None, status: int = 200, fv: dict[str, str] | None = None, done: str | None = None) -> HTMLResponse:
    user, app = _load(p, case_id)
    view = staff_case(p.session, app, user=user, now=p.now, settings=p.settings)
    errors = dict(errors or {})
    shown = {"reassign": view.allowed.reassign, "nudge": view.allowed.nudge, "approve": view.allowed.decide, "reject": view.allowed.decide, "revoke": view.allowed.revoke_pass}
    for key, visible in shown.items():
        if key in errors and not visible:  # its form is not on the page (any more): say it at the top
            errors["conflict"] = errors.pop(key)
    return p.render(
        "staff_case.html",
        status=status,
        c=view,
        errors=errors,
        fv=fv or {},
        done=DONE.get(done or ""),
        reasons=audit.REJECTION_REASONS,
        forbidden=audit.FORBIDDEN_REASONS,
        words={"action": ACTION_WORDS, "status": STATUS_WORDS, "sla": SLA_STATE_WORDS},
    )


@router.get("/staff/cases/{case_id}", response_class=HTMLResponse)
def staff_case_page(case_id: str, p: PageDep, done: str | None = None) -> HTMLResponse:
    return _render(p, case_id, done=done)


def _refused(p: Page, case_id: str, key: str, exc: DomainError, fv: dict[str, str] | None = None) -> HTMLResponse:
    p.session.rollback()
    message = exc.message + (f" (rule {exc.rule})" if exc.rule and exc.rule not in exc.message else "")
    if isinstance(exc, NotFound):
        raise PageRefused(404, "Case not found / 未找到案件", "No case with this number lies in your area.", p)
    if isinstance(exc, DecisionConflict):
        key = "conflict"
    return _render(p, case_id, errors={key: message, "field": exc.field or ""}, status=exc.status_code, fv=fv)


@router.post("/staff/cases/{case_id}/reassign")
def reassign(case_id: str, p: PageDep, form: FormDep) -> Response:
    user, _ = _load(p, case_id, form)
    to = str(form.get("to_username") or "").strip() or None
    try:
        actions.reassign(session=p.session, case_id=case_id, user=user, to_username=to, at=p.now)
        p.session.commit()
    except DomainError as exc:
        return _refused(p, case_id, "reassign", exc, {"to_username": to or ""})
    return redirect(f"/staff/cases/{case_id}?done={'reassigned' if to else 'released'}")


@router.post("/staff/cases/{case_id}/nudge")
def nudge(case_id: str, p: PageDep, form: FormDep) -> Response:
    user, _ = _load(p, case_id, form)
    note = str(form.get("note") or "")
    try:
        actions.nudge(session=p.session, case_id=case_id, user=user, at=p.now, note=note)
        p.session.commit()
    except DomainError as exc:
        return _refused(p, case_id, "nudge", exc, {"note": note})
    return redirect(f"/staff/cases/{case_id}?done=nudged")


@router.post("/staff/cases/{case_id}/decision")
def decide(case_id: str, p: PageDep, form: FormDep) -> Response:
    user, _ = _load(p, case_id, form)
    action = str(form.get("action") or "")
    reason_code = str(form.get("reason_code") or "").strip() or None
    explanation = str(form.get("explanation") or "").strip() or None
    fv = {"action": action, "reason_code": reason_code or "", "explanation": explanation or ""}
    key = "reject" if action == "reject" else "approve"
    if action not in ("approve", "reject"):
        return _render(p, case_id, errors={"approve": "Choose approve or reject. 请选择通过或不予发码。"}, status=422, fv=fv)
    if explanation and len(explanation) > 2000:
        return _render(p, case_id, errors={key: "The explanation is limited to 2000 characters. 说明不超过2000字。", "field": "explanation"}, status=422, fv=fv)
    if user.role != Role.supervisor:
        return _render(p, case_id, errors={key: "Only a supervisor decides an escalated case."}, status=403, fv=fv)
    try:
        actions.decide(session=p.session, case_id=case_id, user=user, action=action, at=p.now, settings=p.settings, reason_code=reason_code, explanation=explanation)
        p.session.commit()
    except DomainError as exc:
        return _refused(p, case_id, key, exc, fv)
    return redirect(f"/staff/cases/{case_id}?done={action}")


@router.post("/staff/cases/{case_id}/revoke-pass")
def revoke_pass(case_id: str, p: PageDep, form: FormDep) -> Response:
    user, _ = _load(p, case_id, form)
    reason = str(form.get("reason") or "")
    try:
        actions.revoke_pass(session=p.session, case_id=case_id, user=user, reason=reason, at=p.now, settings=p.settings)
        p.session.commit()
    except DomainError as exc:
        return _refused(p, case_id, "revoke", exc, {"reason": reason})
    return redirect(f"/staff/cases/{case_id}?done=revoked")
