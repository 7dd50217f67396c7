"""The applicant's own forms, authorised by the case's access token: the daily health report
(R8) and the answer to a supplement request (R19)."""
from __future__ import annotations

import hmac
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import select
from starlette.datastructures import FormData

from cases.clock import SHANGHAI
from cases.errors import DomainError, NotFound
from cases.models import Application, AuditTask
from ui.i18n import _
from ui.pages.apply import _friendly
from ui.pages.case import CASE_NOT_FOUND, _case_url, _render_case
from ui.pages.common import _number, _value, redirect
from ui.pages.session import FORM_TOKEN_FIELD, FormDep, Page, PageDep, PageRefused, applicant_form_token
from ui.pages.words import DAY_WORDS, SYMPTOM_WORDS

router = APIRouter(include_in_schema=False)


def _applicant_case(p: Page, case_id: str, access_token: str | None) -> tuple[Application, str]:
    """The case this access token opens. The session cookie is deliberately not consulted
    (see `applicant_form_token`): these pages act for the applicant only."""
    from cases.services.access import load_case_for_reader

    try:
        app = load_case_for_reader(p.session, case_id, user=None, token=access_token, settings=p.settings)
    except NotFound:
        raise PageRefused(404, *map(_, CASE_NOT_FOUND), p) from None
    return app, access_token or ""


def _check_applicant_form(p: Page, form: FormData, app: Application, token: str, purpose: str) -> None:
    p.check_csrf(form)  # a signed-in browser's POST carries its session token too, as everywhere
    sent = str(form.get(FORM_TOKEN_FIELD) or "")
    if not hmac.compare_digest(sent.encode(), applicant_form_token(app.id, token, purpose, p.settings).encode()):
        raise PageRefused(403, "Request refused / 请求被拒绝", "This form is missing its security token. Open it again from your case page and resend. 表单安全校验失败，请从案件页面重新打开表单后提交。", p)


REPORT_LABELS = {
    "day": "Day reported / 报告日期",
    "temperature": "Body temperature / 体温",
    "symptoms": "Symptoms / 症状",
    "location_confirmed": "Location / 所在地点",
}


def _report_message(exc: DomainError, day: date) -> tuple[str, str]:
    """A service error as (form field, bilingual message); unknown ones keep the service's words."""
    text = exc.message
    if "exists already" in text:
        return "day", f"A report for {day.isoformat()} was received already: one report a day (R8). {day.isoformat()} 已报告，每天只能报告一次。"
    if "not in isolation observation" in text:
        return "_form", "This case is not in isolation observation, so there is nothing to report. 本案不在隔离观察期，无需报告。"
    if "period ended" in text:
        return "_form", "The observation period has ended; reports are closed. 隔离观察期已结束，不再接收报告。"
    if "future day" in text:
        return "day", "You cannot report for a day that has not come yet. 不能报告未来日期。"
    if "observation period" in text:
        return "day", f"Choose a day of your observation period. 请选择观察期内的日期。 ({text})"
    return (exc.field if exc.field in REPORT_LABELS else "_form"), text


def _render_report(p: Page, app: Application, token: str, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    from cases.declaration_schema import SYMPTOMS
    from cases.services import observation

    obs = observation.status(p.session, app, now=p.now, settings=p.settings)
    today = p.now.astimezone(SHANGHAI).date()
    days = [d for d in obs["days"] if d["day"] <= today]
    open_ = app.status in observation.REPORTABLE and p.now < obs["period"]["ends_at"]
    if values is None:
        wanted = p.request.query_params.get("day", "")
        chosen = wanted if any(d["day"].isoformat() == wanted for d in days) else today.isoformat()
        values = {"day": chosen, "temperature": "", "symptoms": [], "location": ""}
    errors = errors or {}
    return p.render(
        "report.html",
        status=status,
        reference=app.reference,
        obs=obs,
        days=days,
        open=open_,
        today=today,
        v=values,
        errors=errors,
        error_labels={k: REPORT_LABELS.get(k, k) for k in errors},
        symptoms=[(s, SYMPTOM_WORDS.get(s, (s, s))) for s in SYMPTOMS],
        action=f"/cases/{quote(app.id, safe='')}/report?" + urlencode({"access_token": token}),
        form_token=applicant_form_token(app.id, token, "report", p.settings),
        case_url=_case_url(app, token),
        fever=p.settings.fever_threshold,
        words={"day": DAY_WORDS},
    )


def _arrival_case(p: Page, case_id: str, access_token: str | None) -> tuple[Application, str]:
    app, token = _applicant_case(p, case_id, access_token)
    if _value(app.kind) != "arrival":
        raise PageRefused(404, "No isolation observation / 无隔离观察", "Daily health reports are for arrivals in isolation observation; this case has none. 每日健康报告仅适用于隔离观察中的来鲁人员。", p)
    return app, token


@router.get("/cases/{case_id}/report", response_class=HTMLResponse)
def report_form(case_id: str, p: PageDep, access_token: str | None = None) -> HTMLResponse:
    """R8: the daily health report of an arrival in isolation observation (mobile first, no script)."""
    app, token = _arrival_case(p, case_id, access_token)
    return _render_report(p, app, token)


@router.post("/cases/{case_id}/report", response_class=HTMLResponse)
def report_submit(case_id: str, p: PageDep, form: FormDep, access_token: str | None = None) -> Response:
    from cases.declaration_schema import ReportIn
    from cases.services import observation

    app, token = _arrival_case(p, case_id, access_token)
    _check_applicant_form(p, form, app, token, "report")
    values = {
        "day": str(form.get("day") or "").strip() or p.now.astimezone(SHANGHAI).date().isoformat(),  # default today
        "temperature": str(form.get("temperature") or "").strip(),
        "symptoms": [str(s) for s in form.getlist("symptoms")],
        "location": str(form.get("location_confirmed") or ""),
    }
    data = {
        "day": values["day"],
        "temperature": _number(values["temperature"]),
        "symptoms": values["symptoms"],
        "location_confirmed": {"yes": True, "no": False}.get(values["location"]),
    }
    try:
        body = ReportIn.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = err.get("loc") or ("_form",)
            key = str(loc[0]) if str(loc[0]) in REPORT_LABELS else "_form"
            errors.setdefault(key, _friendly(err))
        return _render_report(p, app, token, values=values, errors=errors, status=422)
    day = body.day
    try:
        row = observation.report(session=p.session, application=app, day=day, temperature=body.temperature, symptoms=body.symptoms, location_confirmed=body.location_confirmed, at=p.now, settings=p.settings)
        abnormal = row.abnormal
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        key, message = _report_message(exc, day)
        return _render_report(p, app, token, values=values, errors={key: message}, status=exc.status_code)
    return redirect(_case_url(app, token, done="reported_abnormal" if abnormal else "reported"))


MAX_SUPPLEMENT_ITEMS = 20  # as many as an issuer can request


@router.post("/cases/{case_id}/supplement", response_class=HTMLResponse)
def supplement_submit(case_id: str, p: PageDep, form: FormDep, access_token: str | None = None) -> Response:
    """R19: the applicant answers the items the issuer asked for; the deadline clock resumes."""
    from cases.services.audit import supply

    app, token = _applicant_case(p, case_id, access_token)
    _check_applicant_form(p, form, app, token, "supplement")
    task = p.session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    requested = list(task.missing_items) if task is not None else []
    # Each field names its item (hidden), so a form rendered before the issuer changed the request
    # cannot answer the wrong item; names not requested now are dropped, never stored.
    values: dict[str, str] = {}
    for i in range(MAX_SUPPLEMENT_ITEMS):
        name = form.get(f"item_name_{i}")
        if name is None:
            continue
        if str(name) in requested:
            values[str(name)] = str(form.get(f"item_{i}") or "").strip()
    uploads, errors = _supplement_uploads(form, requested)
    for upload in uploads:  # a file alone answers its item
        if not values.get(upload.item):
            values[upload.item] = FILE_ONLY_ANSWER
    for name in requested:
        if name in errors:
            continue
        if name in values and not values[name]:
            errors[name] = "Required. 必填。"
        elif len(values.get(name, "")) > 2000:
            errors[name] = "At most 2000 characters. 不超过2000字。"
    if errors:
        return _render_case(p, app, token, supplement_errors=errors, supplement_values=values, status=422)
    try:
        supply(session=p.session, application=app, items=values, at=p.now, settings=p.settings, uploads=uploads)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        item = next((u.item for u in uploads if u.field == exc.field), None)
        if item is not None:
            return _render_case(p, app, token, supplement_errors={item: f"{exc.message}. 文件须为PDF、JPEG或PNG，每个不超过5 MB，每次最多5个。"}, supplement_values=values, status=exc.status_code)
        if exc.status_code == 409:
            message = "Nothing is requested from you now (perhaps you have sent it already). 目前无需补充材料（可能已经提交）。"
        else:
            message = f"{exc.message}. Please answer every requested item. 请填写所有要求补充的材料。"
        return _render_case(p, app, token, supplement_errors={"_form": message}, supplement_values=values, status=exc.status_code)
    return redirect(_case_url(app, token, done="supplied"))


FILE_ONLY_ANSWER = "(see the attached file / 见附件)"


def _supplement_uploads(form: FormData, requested: list[str]) -> tuple[list, dict[str, str]]:
    """The files sent with the answer (field file_<i>, the item named by item_name_<i>), read up
    to one byte over the limit; and the errors naming the item a bad file was sent for."""
    from starlette.datastructures import UploadFile

    from cases.attachments import service as attachments

    uploads: list[attachments.Upload] = []
    errors: dict[str, str] = {}
    for i in range(MAX_SUPPLEMENT_ITEMS):
        name = str(form.get(f"item_name_{i}") or "")
        if name not in requested:
            continue
        for f in form.getlist(f"file_{i}"):
            if not isinstance(f, UploadFile) or not (f.filename or "").strip():
                continue  # an empty file input
            uploads.append(attachments.Upload(field=f"file_{i}", item=name, filename=f.filename, data=f.file.read(attachments.MAX_BYTES + 1)))
    try:
        attachments.check(uploads)
    except DomainError as exc:
        item = next((u.item for u in uploads if u.field == exc.field), requested[0] if requested else "_form")
        errors[item] = f"{exc.message}. 文件须为PDF、JPEG或PNG，每个不超过5 MB，每次最多5个。"
    return uploads, errors


@router.get("/cases/{case_id}/supplement/files", response_class=HTMLResponse)
def supplement_files(case_id: str, p: PageDep, access_token: str | None = None) -> HTMLResponse:
    """The files the applicant sent with their answers (what the issuer sees)."""
    from cases.attachments import service as attachments

    app, token = _applicant_case(p, case_id, access_token)
    return p.render("supplement_files.html", app=app, files=attachments.of_case(p.session, app.id), q=urlencode({"access_token": token}), case_url=_case_url(app, token))


@router.get("/cases/{case_id}/attachments/{attachment_id}")
def applicant_attachment(case_id: str, attachment_id: str, p: PageDep, access_token: str | None = None) -> Response:
    from cases.attachments import service as attachments
    from ui.pages.issuer import attachment_headers

    app, _ = _applicant_case(p, case_id, access_token)
    row = attachments.get(p.session, app.id, attachment_id)
    if row is None:
        raise PageRefused(404, "File not found / 未找到文件", "No such file on this case.", p)
    return Response(content=row.data, media_type=row.content_type, headers=attachment_headers(row.filename))
