"""The case page: progress, pass, observation days and the supplement form, for applicants and staff."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from cases.clock import aware
from cases.errors import NotFound
from cases.models import Application, AuditTask, Region, Role
from cases.settings import Settings
from ui.i18n import N_, _, pgettext
from ui.pages.common import _value
from ui.pages.session import Page, PageDep, applicant_form_token
from ui.pages.words import ACTION_WORDS, CHANNEL_WORDS, COLOUR_WORDS, DAY_WORDS, OUTCOME_WORDS, SLA_WORDS, STATUS_WORDS, STEPS, word

router = APIRouter(include_in_schema=False)


# What the applicant reads about a rejection, by the decision's reason code (the issuer's own
# explanation follows in their words).
REJECTION_WORDS = {
    "comparison_confirmed": N_("The big-data comparison shows a confirmed or suspected case record in your name."),
    "comparison_close_contact": N_("The big-data comparison lists you as a close contact of a case."),
    "identity_not_established": N_("Your identity could not be established, although your community tried to contact you."),
    "false_declaration": N_("A record shows that the declaration was not true (R15)."),
}
REVOCATION_WORDS = {
    "superseded": N_("A newer pass was issued to you: one person holds one valid pass (R2), so this one was replaced."),
    "application rejected": N_("The application was rejected, so its pass no longer counts."),
}


def _step(key: str, label: str, state: str) -> dict[str, Any]:
    """A step of the progress bar; `label` is already in the request's language."""
    return {"key": key, "label": label, "state": state}


def _steps(view: dict[str, Any], colour: str | None, now: datetime) -> list[dict[str, Any]]:
    """The progress as it really stands: a rejection, a red code or a revoked pass is a failed
    step (never a green tick); arrivals show their observation (yellow at once, daily reports,
    green after 14 days, R7-R9) instead of an audit they may never need."""
    status, decision = _value(view["status"]), view["decision"]
    revoked = view["revoked_pass"]
    declared = status != "submitted"
    compared = view["comparison"] is not None
    steps = [_step("declaration", pgettext("step", STEPS[0][1]), "done" if declared else "current")]
    audit_states = {"awaiting_audit": "current", "awaiting_applicant": "current"}
    if _value(view["kind"]) == "arrival":
        yellow = any(e["action"] == "pass_issued" and _value(e["after"]) == "yellow" for e in view["timeline"])
        steps.append(_step("yellow", _("Yellow code at once"), "done" if yellow else "todo"))
        steps.append(_step("comparison", pgettext("step", STEPS[1][1]), "done" if compared else "current" if declared else "todo"))
        ended = view["observation_ends_at"] is not None and now >= aware(view["observation_ends_at"])
        reports = "current" if status == "observing" else "done" if ended or decision else "todo"
        steps.append(_step("reports", _("Daily health reports, 14 days"), reports))
        # The community audits an arrival only when the observation did not end clean (R9).
        if status in audit_states or decision in ("approve", "reject"):
            steps.append(_step("audit", pgettext("step", STEPS[2][1]), "failed" if decision == "reject" else audit_states.get(status, "done")))
        final = ("green", _("Green code after 14 days"))
    else:
        steps.append(_step("comparison", pgettext("step", STEPS[1][1]), "done" if compared else "current" if declared else "todo"))
        if decision == "reject":
            steps.append(_step("audit", _("Rejected by the community/unit"), "failed"))
        elif decision == "auto_issue":
            steps.append(_step("audit", _("No opinion in time: issued automatically (R12)"), "done"))
        else:
            steps.append(_step("audit", pgettext("step", STEPS[2][1]), "done" if decision else audit_states.get(status, "current" if compared else "todo")))
        final = ("pass", pgettext("step", STEPS[3][1]))
    if colour == "red":
        steps.append(_step("pass", _("Red code"), "failed"))
    elif colour == "yellow" and final[0] == "green":
        steps.append(_step(*final, "todo"))  # the arrival's yellow code is the step above
    elif colour is not None:
        steps.append(_step("pass", _("{colour} code issued").format(colour=word(COLOUR_WORDS, colour)), "done"))
    elif revoked is not None:
        steps.append(_step("pass", _("Pass revoked"), "failed"))
    elif decision == "reject":
        steps.append(_step("pass", _("No pass issued"), "failed"))
    else:
        steps.append(_step(*final, "current" if decision else "todo"))
    return steps


def _outcome(view: dict[str, Any], colour: str | None) -> dict[str, Any] | None:
    """What happened, why and what to do, for the top of the page when the case went badly."""
    rejection, revoked = view["rejection"], view["revoked_pass"]
    if view["decision"] == "reject":
        code = (rejection or {}).get("reason_code")
        return {"kind": "rejected", "at": (rejection or {}).get("decided_at"), "why": REJECTION_WORDS.get(code), "explanation": (rejection or {}).get("explanation"), "red": colour == "red", "pass": revoked}
    if revoked is not None:
        reason = revoked["reason"] or ""
        return {"kind": "revoked", "at": revoked["revoked_at"], "why": REVOCATION_WORDS.get(reason), "explanation": None if reason in REVOCATION_WORDS else reason, "pass": revoked}
    if colour == "red":
        return {"kind": "red", "at": None, "why": None, "explanation": None}
    return None


def _community_contact(p: Page, code: str) -> Any:
    from cases.directory.models import DirectoryEntry

    return p.session.get(DirectoryEntry, code)


def _sla_left(session: Session, settings: Settings, app: Application, now: datetime) -> dict[str, Any] | None:
    from cases.services.views import task_view
    from cases.services import sla_service

    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    if task is None or app.sla_due_at is None:
        return None
    view = task_view(task, app, now, sla_service.calendar(session, settings), 0)
    return {"seconds": view["time_left_seconds"], "colour": view["sla_colour"]}


CASE_NOT_FOUND = (N_("Case not found"), N_("No case matches this number and access token. Check the link you received when you applied."))
CASE_DONE = ("reported", "reported_abnormal", "supplied", "amended")


def _applicant_token(p: Page, app: Application, access_token: str | None) -> str | None:
    """The access token if it opens this case (the viewer is the applicant), else None."""
    from cases.services.applications import token_matches

    return access_token if access_token and token_matches(app, access_token, settings=p.settings) else None


def _case_url(app: Application, access_token: str | None, **params: str) -> str:
    query = {"access_token": access_token, **params} if access_token else params
    return f"/cases/{quote(app.id, safe='')}" + ("?" + urlencode(query) if query else "")


def _observation_view(p: Page, app: Application, token: str | None) -> dict[str, Any] | None:
    """R8/R9 for the case page: the period, each day's status, and what the applicant can report now."""
    from cases.services import observation

    if _value(app.kind) != "arrival" or (app.observation_ends_at is None and app.status not in observation.REPORTABLE):
        return None
    view = observation.status(p.session, app, now=p.now, settings=p.settings)
    open_ = app.status in observation.REPORTABLE and p.now < view["period"]["ends_at"]
    today = next((d for d in view["days"] if d["today"]), None)
    can_report = token is not None and open_
    report_url = f"/cases/{quote(app.id, safe='')}/report?" + urlencode({"access_token": token}) if token else None
    view.update(
        open=open_,
        today_row=today,
        report_url=report_url,
        report_today=can_report and today is not None and today["report"] is None,
        # Missed days can still be reported (marked late); they count for the end of the period.
        late_days=[d for d in view["days"] if d["status"] == "missing"] if can_report else [],
    )
    return view


def _render_case(
    p: Page,
    app: Application,
    access_token: str | None,
    *,
    new: bool = False,
    done: str | None = None,
    supplement_errors: dict[str, str] | None = None,
    supplement_values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from cases.services.applications import AMENDABLE
    from cases.services.views import case_view

    view = case_view(p.session, app, p.settings, p.now)
    pass_ = view["pass"]
    q = ("?" + urlencode({"access_token": access_token})) if access_token else ""
    links = None
    if pass_ is not None:
        links = {
            "qr": pass_.qr_url + q,
            "card": pass_.card_url + q,
            "pdf": pass_.card_url + (q + "&" if q else "?") + "format=pdf",
            "seconds_left": (aware(pass_.valid_until) - p.now).total_seconds(),
        }
    county = p.session.get(Region, app.county_code)
    staff_task = None
    if p.user is not None and p.user.role == Role.issuer and view["audit"]:
        staff_task = view["audit"]["task_id"]
    status_key = _value(view["status"])
    token = _applicant_token(p, app, access_token)
    supplement = None
    if token and status_key == "awaiting_applicant" and view["audit"] and view["audit"]["missing_items"]:
        supplement = {
            "requested": list(view["audit"]["missing_items"]),
            "action": f"/cases/{quote(app.id, safe='')}/supplement?" + urlencode({"access_token": token}),
            "form_token": applicant_form_token(app.id, token, "supplement", p.settings),
            "errors": {k: v for k, v in (supplement_errors or {}).items() if k != "_form"},
            "answers": supplement_values or {},
        }
    colour = _value(pass_.colour) if pass_ is not None else None
    outcome = _outcome(view, colour)
    # The badge says what the applicant got, not that the flow finished: "Completed" is for a pass.
    badge = {"rejected": "rejected", "revoked": "revoked"}.get(outcome["kind"] if outcome else "", status_key)
    # R15: the applicant may correct the declaration until the case is decided, and is told when not.
    amend = None if token is None else {"url": f"/cases/{quote(app.id, safe='')}/amend?" + urlencode({"access_token": token}), "open": app.status in AMENDABLE}
    complaint_url = "/complaints/new?" + urlencode({"case": view["reference"], "region": app.community_code})
    return p.render(
        "case.html",
        status=status,
        c=view,
        pass_=pass_,
        colour=colour,
        status_key=status_key,
        badge=badge,
        outcome=outcome,
        complaint_url=complaint_url,
        amend=amend,
        contact=_community_contact(p, app.community_code),
        kind_key=_value(view["kind"]),
        channel_key=_value(view["channel"]),
        links=links,
        steps=_steps(view, colour, p.now),
        sla_left=_sla_left(p.session, p.settings, app, p.now),
        county=county,
        new=new,
        done=done if done in CASE_DONE else None,
        access_token=access_token,
        staff_task=staff_task,
        obs=_observation_view(p, app, token),
        supplement=supplement,
        supplement_notice=(supplement_errors or {}).get("_form"),
        words={"status": STATUS_WORDS, "colour": COLOUR_WORDS, "action": ACTION_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS, "sla": SLA_WORDS, "day": DAY_WORDS},
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, p: PageDep, access_token: str | None = None, new: str | None = None, done: str | None = None) -> HTMLResponse:
    from cases.services.access import load_case_for_reader

    try:
        app = load_case_for_reader(p.session, case_id, user=p.user, token=access_token, settings=p.settings)
    except NotFound:
        return p.render("error.html", status=404, title=_(CASE_NOT_FOUND[0]), message=_(CASE_NOT_FOUND[1]))
    return _render_case(p, app, access_token, new=new == "1", done=done)
