"""Health reports (R8): the community's list of abnormal daily reports (fever, symptoms) waiting
for an outcome, and the form that records it (cleared: observation continues; referred to a
fever clinic: observation held). Issuers of the community record; supervisors in scope read."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.errors import DomainError, Invalid, NotFound
from cases.models import Application, DailyReport, Role
from cases.scope import scope_for
from cases.services import observation
from ui.i18n import N_, _
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused
from ui.pages.words import SYMPTOM_WORDS

router = APIRouter(include_in_schema=False)
READERS = (Role.issuer, Role.supervisor, Role.auditor, Role.admin)
DONE = {"cleared": N_("Outcome recorded: cleared, the observation continues."),
        "fever_clinic": N_("Outcome recorded: referred to a fever clinic, the observation stays held.")}


def _render(p: Page, *, errors: dict[int, dict[str, str]] | None = None, values: dict[int, dict[str, str]] | None = None, status: int = 200, done: str | None = None) -> HTMLResponse:
    reports = observation.open_abnormal_reports(p.session, scope=scope_for(p.session, p.user), user=p.user, settings=p.settings)
    return p.render(
        "observation_review.html", status=status, reports=reports, errors=errors or {}, values=values or {},
        done=_(DONE[done]) if done in DONE else None, results=observation.REPORT_RESULTS, symptom_words=SYMPTOM_WORDS,
        threshold=p.settings.fever_threshold,
    )


@router.get("/issuer/reports", response_class=HTMLResponse)
def health_reports(p: PageDep, done: str | None = None) -> HTMLResponse:
    p.staff(*READERS)
    return _render(p, done=done)


@router.post("/issuer/reports/{report_id}/outcome")
def health_report_outcome(report_id: int, p: PageDep, form: FormDep) -> Response:
    user = p.staff(Role.issuer, form=form)
    row = p.session.get(DailyReport, report_id)
    app = p.session.get(Application, row.application_id) if row is not None else None
    if app is None or not observation.may_record_outcome(user, app):
        raise PageRefused(404, _("Report not found"), _("No abnormal report with this number waits in your community."), p)
    result, note = str(form.get("result") or ""), str(form.get("note") or "").strip()
    values = {report_id: {"result": result, "note": note}}
    try:
        if len(note) > 2000:
            raise Invalid(_("The note is limited to 2000 characters."), field="note")
        observation.record_outcome(session=p.session, application=app, report_id=report_id, outcome=note, result=result, by=user.id, at=p.now)
        p.session.commit()
    except NotFound:
        raise PageRefused(404, _("Report not found"), _("No abnormal report with this number waits in your community."), p) from None
    except DomainError as exc:
        p.session.rollback()
        field = exc.field if exc.field in ("result", "note") else "form"
        if exc.field == "outcome":
            field = "note"
        return _render(p, errors={report_id: {field: exc.message}}, values=values, status=exc.status_code)
    return redirect(f"/issuer/reports?done={result}")
