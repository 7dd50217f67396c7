"""Units (employers) apply for their employees in bulk and must give reasons to refuse (R17)."""
from __future__ import annotations

import contextlib
import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import NowDep, SessionDep, SettingsDep, require
from api.errors import domain_detail, invalid_response, validation_detail
from cases.declaration_schema import ApplicationCreate, MultilineText, PersonName
from cases.errors import DomainError
from cases.models import CaseStatus, Role, User
from cases.services import units as unit_service
from cases.scope import scope_for
from cases.services.applications import submit_application

router = APIRouter(prefix="/api/v1/units", tags=["units"])
UnitDep = Annotated[User, require(Role.unit)]
MAX_ROWS = unit_service.MAX_ROWS


def _bulk_examples() -> dict:
    from cases.clock import SHANGHAI, now
    from cases.declaration_schema import make_examples

    row = dict(make_examples(now().astimezone(SHANGHAI).date())["standard"]["value"])
    return {"one_employee": {"summary": "One employee (channel and unit are set from the account)", "value": [row]}}


def _submit_many(rows: list[dict | None], *, user: User, session, settings, now, savepoints: bool = True) -> list[dict[str, Any]]:
    """Each row becomes its own case and flow run; one bad row does not stop the others.
    The caller commits, or rolls back all rows (the CSV upload is all-or-nothing by default):
    that caller passes savepoints=False, because on SQLite (pysqlite's transaction handling)
    releasing the outermost savepoint commits, and a later rollback would not undo the row."""
    results = []
    for i, raw in enumerate(rows, start=1):
        if raw is None:  # a row the CSV reader already refused; its errors are reported there
            results.append({"row": i, "status": "invalid"})
            continue
        raw = {**raw, "channel": "unit", "unit_code": user.unit_code}
        try:
            payload = ApplicationCreate.model_validate(raw, context={"today": now})
            with session.begin_nested() if savepoints else contextlib.nullcontext():
                # A person with an open case outside this unit's scope: the row says so and names no case.
                result = submit_application(session=session, payload=payload, content=raw, settings=settings, at=now, idempotency_key=None, submitted_by=user.id, reader=scope_for(session, user))
            results.append({"row": i, "status": "created" if result.created else "existing", "id": result.application.id, "reference": result.application.reference, "access_token": result.access_token})
        except ValidationError as exc:
            results.append({"row": i, "status": "invalid", "errors": validation_detail(list(exc.errors()))})
        except DomainError as exc:
            results.append({"row": i, "status": "invalid", "errors": [domain_detail(exc)]})
    return results


@router.post("/applications", summary="Apply for employees in bulk (JSON list); each row is its own case")
def bulk_json(rows: Annotated[list[dict[str, Any]], Body(max_length=MAX_ROWS, openapi_examples=_bulk_examples())], user: UnitDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    results = _submit_many(rows, user=user, session=session, settings=settings, now=now)
    session.commit()
    return {"submitted": sum(r["status"] == "created" for r in results), "results": results}


CSV_HEADER = unit_service.CSV_HEADER
CSV_COLUMNS = ",".join(CSV_HEADER)
MAX_CSV_BYTES = unit_service.MAX_CSV_BYTES
_column = unit_service.column_of


def _csv_row(line: dict[str, str | None]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One CSV line as a declaration, or the cells that cannot be read (column and reason);
    the unit's page reads the lines the same way (cases/services/units.py)."""
    row, bad = unit_service.parse_line(line)
    return row, [{"column": column, "reason": reason} for column, reason in bad]


@router.post(
    "/applications.csv",
    summary=f"Apply for employees in bulk from a CSV upload (columns: {CSV_COLUMNS})",
    description="UTF-8 (a BOM is accepted), one header line, at most "
    f"{MAX_ROWS} rows. Every bad row is reported with its row number (1 = the first line after the header), "
    "its column and the reason. All or nothing by default: if any row is bad, no row is stored "
    "(422, `stored: 0`). With `?partial=true` the good rows are stored and the bad ones reported (200).",
    responses={422: invalid_response("Bad rows (nothing stored): `errors` lists each as row, column and reason; `detail` has them in the common error shape"), 413: {"description": f"More than {MAX_ROWS} rows or {MAX_CSV_BYTES} bytes"}},
)
def bulk_csv(
    file: UploadFile,
    user: UnitDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    partial: Annotated[bool, Query(description="store the good rows even if some rows are bad (default: all or nothing)")] = False,
) -> Any:
    # A plain def route: the store work runs in the threadpool, not on the event loop.
    data = file.file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise HTTPException(413, f"at most {MAX_CSV_BYTES} bytes per upload")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestValidationError([{"type": "csv_encoding", "loc": ("body", "file"), "msg": f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"}]) from None
    if "\x00" in text:
        raise RequestValidationError([{"type": "csv_nul", "loc": ("body", "file"), "msg": "the file contains a NUL byte; save it as CSV UTF-8"}])
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("name", "id_number", "phone", "address", "community_code", "temperature") if c not in (reader.fieldnames or ())]
    if missing:
        raise RequestValidationError([{"type": "csv_header", "loc": ("body", "file"), "msg": f"the header lacks the columns {', '.join(missing)} (columns: {CSV_COLUMNS})"}])
    rows: list[dict[str, Any] | None] = []
    errors: list[dict[str, Any]] = []
    for i, line in enumerate(reader, start=1):
        if i > MAX_ROWS:
            raise HTTPException(413, f"at most {MAX_ROWS} rows per upload")
        row, bad = _csv_row(line)
        rows.append(row)
        errors += [{"row": i, **e} for e in bad]
    results = _submit_many(rows, user=user, session=session, settings=settings, now=now, savepoints=partial)
    for r in results:
        for e in r.get("errors", ()):
            errors.append({"row": r["row"], "column": _column(e["loc"][1:] if e["loc"][:1] == ["body"] else e["loc"]), "reason": e["msg"]})
    errors.sort(key=lambda e: e["row"])
    good = [r for r in results if r["status"] != "invalid"]
    if errors and not partial:
        session.rollback()  # all or nothing: the good rows are not stored either
        shown = errors[:200]
        detail = [{"type": "csv_row", "loc": ["body", "file", e["row"], *([e["column"]] if e["column"] else [])], "msg": e["reason"]} for e in shown]
        return JSONResponse(status_code=422, content={"detail": detail, "stored": 0, "submitted": 0, "partial": False, "errors": shown, "error_count": len(errors)})
    session.commit()
    return {"stored": len(good), "submitted": sum(r["status"] == "created" for r in results), "partial": partial, "errors": errors[:200], "error_count": len(errors), "results": good}


class RefusalIn(BaseModel):
    employee_name: PersonName = Field(min_length=1, max_length=50)
    reason: MultilineText = Field(min_length=20, max_length=2000, description="a justifiable reason, in full sentences (R17)")
    case_reference: str | None = Field(default=None, max_length=40, description="the employee's case of this unit, if there is one: its timeline records the refusal")

    model_config = {"json_schema_extra": {"examples": [{"employee_name": "张三", "reason": "He left the company on 1 March and no longer works here."}]}}


class RefusalOut(BaseModel):
    id: int
    kind: str
    summary: str
    created_at: datetime | None = None
    application_id: str | None = None


@router.post("/refusals", status_code=201, response_model=RefusalOut, summary="Record a refusal to apply for an employee (reason required; audited by the province)")
def refuse(body: RefusalIn, user: UnitDep, session: SessionDep, now: NowDep) -> Any:
    item = unit_service.record_refusal(session=session, user=user, employee_name=body.employee_name, reason=body.reason, at=now, case_reference=body.case_reference)
    session.commit()
    return item


@router.get("/refusals", response_model=list[RefusalOut], summary="The unit's recorded refusals, newest first (R17)")
def list_refusals(user: UnitDep, session: SessionDep) -> Any:
    return unit_service.refusals(session=session, unit_code=user.unit_code)


class UnitCaseOut(BaseModel):
    reference: str
    name: str
    status: str
    submitted_at: datetime
    community_code: str
    sla_due_at: datetime | None
    decision: str | None


class UnitCasePage(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[UnitCaseOut]


@router.get("/cases", response_model=UnitCasePage, summary="The unit's cases and their states, newest first")
def list_cases(user: UnitDep, session: SessionDep, status: CaseStatus | None = None, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
               per_page: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
    items, total = unit_service.unit_cases(session=session, unit_code=user.unit_code, status=status, page=page, per_page=per_page)
    return {"total": total, "page": page, "per_page": per_page, "items": [vars(i) for i in items]}


@router.get("/cases.csv", summary="The unit's cases as CSV (every page; same filter)", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def cases_csv(user: UnitDep, session: SessionDep, status: CaseStatus | None = None) -> Response:
    body = unit_service.unit_cases_csv(session=session, unit_code=user.unit_code, status=status)
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="unit-cases.csv"'})
