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
from ui.pages.common import _value
from ui.pages.session import Page, PageDep, applicant_form_token
from ui.pages.words import ACTION_WORDS, CHANNEL_WORDS, COLOUR_WORDS, DAY_WORDS, OUTCOME_WORDS, SLA_WORDS, STATUS_WORDS, STEP_OF_STATUS, STEPS

router = APIRouter(include_in_schema=False)


def _steps(status: str) -> list[dict[str, Any]]:
    current = STEP_OF_STATUS.get(status, 0)
    return [{"key": k, "en": en, "zh": zh, "state": "done" if i < current else "current" if i == current else "todo"} for i, (k, en, zh) in enumerate(STEPS)]


def _sla_left(session: Session, settings: Settings, app: Application, now: datetime) -> dict[str, Any] | None:
    from cases.services.views import task_view
    from cases.services import sla_service

    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    if task is None or app.sla_due_at is None:
        return None
    view = task_view(task, app, now, sla_service.calendar(session, settings), 0)
    return {"seconds": view["time_left_seconds"], "colour": view["sla_colour"]}


CASE_NOT_FOUND = ("Case not found / 未找到案件", "No case matches this number and access token. Check the link you received when you applied. 未找到与该编号和查询码对应的案件，请核对申请时获得的链接。")
CASE_DONE = ("reported", "reported_abnormal", "supplied")


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
    return p.render(
        "case.html",
        status=status,
        c=view,
        pass_=pass_,
        colour=_value(pass_.colour) if pass_ is not None else None,
        status_key=status_key,
        kind_key=_value(view["kind"]),
        channel_key=_value(view["channel"]),
        links=links,
        steps=_steps(status_key),
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
        return p.render("error.html", status=404, title=CASE_NOT_FOUND[0], message=CASE_NOT_FOUND[1])
    return _render_case(p, app, access_token, new=new == "1", done=done)
