"""The unit's pages (R17): bulk application from a CSV file with a per-row result, the template
file, refusals with their reasons, and the unit's cases by state (paged, CSV)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.errors import DomainError
from cases.models import CaseStatus, Role
from cases.services import units as service
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep
from ui.pages.words import STATUS_WORDS, Word

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
# Below the server's request body limit (settings.max_body_bytes, 1 MB, answered 413 by the
# middleware before any page runs), so a file a little too big gets the form's error instead.
MAX_FILE_BYTES = 900_000
COLUMN_WORDS = {
    None: Word("column", "the row"), "kind": Word("column", "kind"), "name": Word("column", "name"), "id_type": Word("column", "ID type"), "id_number": Word("column", "ID number"),
    "phone": Word("column", "phone"), "nationality": Word("column", "nationality"), "address": Word("column", "address"), "community_code": Word("column", "community code"),
    "residence_history": Word("column", "residence history"), "temperature": Word("column", "temperature"),
}


def _home(p: Page, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None, result: service.BulkResult | None = None, status: int = 200) -> HTMLResponse:
    user = p.staff(Role.unit)
    return p.render("unit_home.html", status=status, errors=errors or {}, values=values or {}, result=result, column_words=COLUMN_WORDS,
                    refusals=service.refusals(session=p.session, unit_code=user.unit_code), done=p.request.query_params.get("done"),
                    max_rows=service.MAX_ROWS, max_kb=MAX_FILE_BYTES // 1000, columns=",".join(service.CSV_HEADER))


@router.get("/unit", response_class=HTMLResponse)
def unit_home(p: PageDep) -> HTMLResponse:
    return _home(p)


@router.get("/unit/template.csv")
def unit_template(p: PageDep) -> Response:
    p.staff(Role.unit)
    # A BOM, so spreadsheet programs open the Chinese text as UTF-8.
    return Response("\ufeff" + service.template_csv(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="employees-template.csv"'})


@router.post("/unit/upload", response_class=HTMLResponse)
def unit_upload(p: PageDep, form: FormDep) -> HTMLResponse:
    user = p.staff(Role.unit, form=form)
    upload = form.get("file")
    raw = upload.file.read(MAX_FILE_BYTES + 1) if hasattr(upload, "file") else b""
    try:
        result = service.submit_csv(session=p.session, user=user, raw=raw, settings=p.settings, at=p.now, max_bytes=MAX_FILE_BYTES)
    except DomainError as exc:
        p.session.rollback()
        return _home(p, errors={exc.field or "file": exc.message}, status=exc.status_code)
    p.session.commit()
    # The result is shown once, in the answer to the upload: the accepted rows are stored, and
    # reloading the page does not re-send the file.
    return _home(p, result=result)


@router.post("/unit/refusals")
def unit_refuse(p: PageDep, form: FormDep) -> Response:
    user = p.staff(Role.unit, form=form)
    values = {k: str(form.get(k) or "") for k in ("employee_name", "case_reference", "reason")}
    try:
        service.record_refusal(session=p.session, user=user, employee_name=values["employee_name"], reason=values["reason"],
                               case_reference=values["case_reference"] or None, at=p.now)
    except DomainError as exc:
        p.session.rollback()
        return _home(p, errors={exc.field or "reason": exc.message}, values=values, status=exc.status_code)
    p.session.commit()
    return redirect("/unit?done=refused#refusals")


def _status(value: str | None) -> CaseStatus | None:
    return CaseStatus(value) if value in {s.value for s in CaseStatus} else None


@router.get("/unit/cases", response_class=HTMLResponse)
def unit_cases(p: PageDep, status: str | None = None, page: str | None = None) -> HTMLResponse:
    user = p.staff(Role.unit)
    state = _status(status)
    number = int(page) if page and page.isdigit() and len(page) < 7 else 1
    rows, total = service.unit_cases(session=p.session, unit_code=user.unit_code, status=state, page=max(number, 1), per_page=PER_PAGE)
    query = urlencode({"status": state.value} if state else {})
    return p.render("unit_cases.html", rows=rows, total=total, page=max(number, 1), per_page=PER_PAGE, state=state.value if state else "",
                    statuses=[s.value for s in CaseStatus], status_words=STATUS_WORDS, query=query)


@router.get("/unit/cases.csv")
def unit_cases_csv(p: PageDep, status: str | None = None) -> Response:
    user = p.staff(Role.unit)
    body = service.unit_cases_csv(session=p.session, unit_code=user.unit_code, status=_status(status))
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="unit-cases.csv"'})
