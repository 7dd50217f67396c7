"""Units (employers, R17): apply for employees from a CSV file, one case per row; record a
refusal to apply with its reason; list the unit's cases by state.

The CSV columns are those of `POST /api/v1/units/applications.csv`. On the unit's page every
good row is stored and every bad row reported (row number, column, reason): one bad row does
not stop the others."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, select

from cases.admin.log import record_admin_event
from cases.declaration_schema import ApplicationCreate
from cases.errors import DomainError, Invalid
from cases.events import record_event
from cases.models import Applicant, Application, CaseStatus, ProvincialAuditItem, User
from cases.scope import scope_for
from cases.services import oversight
from cases.services.applications import submit_application
from cases.settings import Settings

CSV_HEADER = ("kind", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code", "residence_history", "temperature")
REQUIRED_COLUMNS = ("name", "id_number", "phone", "address", "community_code", "temperature")
MAX_ROWS = 500
MAX_CSV_BYTES = 1_000_000
REFUSAL_KIND = "unit_refusal"


def template_csv(example: dict[str, Any] | None = None) -> str:
    """The header and one example row, for units to fill in."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    e = example or {}
    history = json.dumps(e.get("residence_history") or [], ensure_ascii=False, default=str)
    writer.writerow([e.get("kind", "standard"), e.get("name", "张三"), "resident_id", e.get("id_number", "370102198001010016"), e.get("phone", "13800000001"),
                     "CHN", e.get("address", "青岛市市南区花园路1号"), e.get("community_code", "370202001001"), history, "36.5"])
    return out.getvalue()


@dataclass
class RowResult:
    row: int  # 1 = the first line after the header
    person: str
    reference: str | None = None  # accepted: the case
    existing: bool = False  # the person's open case, returned instead of a new one
    errors: list[tuple[str | None, str]] = field(default_factory=list)  # refused: (column, reason)


@dataclass
class BulkResult:
    rows: list[RowResult]

    @property
    def accepted(self) -> int:
        return sum(r.reference is not None for r in self.rows)

    @property
    def refused(self) -> int:
        return sum(r.reference is None for r in self.rows)


def column_of(loc: tuple | list) -> str | None:
    top = str(loc[0]) if loc else ""
    if top == "health":
        return "temperature"
    return top if top in CSV_HEADER else None


def parse_line(line: dict[str, str | None]) -> tuple[dict[str, Any] | None, list[tuple[str | None, str]]]:
    """One CSV line as a declaration, or the cells that cannot be read (column, reason)."""
    errors: list[tuple[str | None, str]] = []
    if None in line:  # more cells than the header has columns
        errors.append((None, f"{len(line[None])} cells more than the header's {len(CSV_HEADER)} columns"))  # type: ignore[arg-type]
    try:
        history = json.loads(line.get("residence_history") or "[]")
    except ValueError:
        history = None
        errors.append(("residence_history", 'not JSON: write e.g. [{"place": "370202", "from_date": "2026-03-01", "to_date": "2026-03-03"}]'))
    cell = (line.get("temperature") or "").strip()
    temperature = None
    try:
        temperature = float(cell.replace(",", "."))
    except ValueError:
        errors.append(("temperature", "required: the body temperature in °C, e.g. 36.5" if not cell else f"not a number: {cell[:20]!r}"))
    else:
        if not math.isfinite(temperature):
            errors.append(("temperature", f"not a finite number: {cell[:20]!r}"))
    if errors:
        return None, errors
    return {
        "kind": line.get("kind") or "standard", "name": line.get("name"), "id_type": line.get("id_type") or "resident_id",
        "id_number": line.get("id_number"), "phone": line.get("phone"), "nationality": line.get("nationality") or "CHN",
        "address": line.get("address"), "community_code": line.get("community_code"), "residence_history": history,
        "close_contact": {"had_contact": False}, "health": {"symptoms": [], "temperature": temperature},
    }, []


def read_csv(raw: bytes, *, max_bytes: int = MAX_CSV_BYTES) -> list[dict[str, str | None]]:
    """The file's lines, or `Invalid` on field `file` (size, encoding, header, row count)."""
    if not raw.strip():
        raise Invalid("file: choose a CSV file (the template has the columns)", field="file")
    if len(raw) > max_bytes:
        raise Invalid(f"file: at most {max_bytes // 1000} kB per upload", field="file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8", field="file") from None
    if "\x00" in text:
        raise Invalid("file: contains a NUL byte; save it as CSV UTF-8", field="file")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise Invalid(f"file: the header lacks the columns {', '.join(missing)} (columns: {','.join(CSV_HEADER)})", field="file")
    try:
        lines = []
        for i, line in enumerate(reader, start=1):
            if i > MAX_ROWS:
                raise Invalid(f"file: at most {MAX_ROWS} rows per upload", field="file")
            lines.append(line)
    except csv.Error as exc:
        raise Invalid(f"file: not readable as CSV ({exc})", field="file") from None
    if not lines:
        raise Invalid("file: no rows after the header", field="file")
    return lines


def submit_csv(*, session: Session, user: User, raw: bytes, settings: Settings, at: datetime, max_bytes: int = MAX_CSV_BYTES) -> BulkResult:
    """Each good row becomes its own case (and flow run); each bad row is reported. Every row
    runs in its own savepoint, so a row refused by the store leaves the others. The caller commits."""
    lines = read_csv(raw, max_bytes=max_bytes)
    reader = scope_for(session, user)
    results = []
    for i, line in enumerate(lines, start=1):
        person = str(line.get("name") or "").strip()[:50] or "—"
        row, bad = parse_line(line)
        if row is None:
            results.append(RowResult(i, person, errors=bad))
            continue
        content = {**row, "channel": "unit", "unit_code": user.unit_code}
        try:
            payload = ApplicationCreate.model_validate(content, context={"today": at})
            with session.begin_nested():
                submitted = submit_application(session=session, payload=payload, content=content, settings=settings, at=at,
                                               idempotency_key=None, submitted_by=user.id, reader=reader)
            results.append(RowResult(i, person, reference=submitted.application.reference, existing=not submitted.created))
        except ValidationError as exc:
            errs = [(column_of(e["loc"]), str(e["msg"])) for e in exc.errors()[:10]]
            results.append(RowResult(i, person, errors=errs))
        except DomainError as exc:
            results.append(RowResult(i, person, errors=[(column_of((exc.field or "").split(".")), exc.message)]))
    return BulkResult(results)


# ------------------------------------------------------------------ refusals ---

def record_refusal(*, session: Session, user: User, employee_name: str, reason: str, at: datetime, case_reference: str | None = None) -> ProvincialAuditItem:
    """R17: a unit declines to apply for an employee; the reason is required and the refusal goes
    to the provincial audit queue (R21). With a case of the unit's, its timeline records it too."""
    name = " ".join(employee_name.split())
    reason = reason.strip()
    if not name:
        raise Invalid("employee_name: the employee's name is required", field="employee_name")
    if len(name) > 50:
        raise Invalid("employee_name: at most 50 characters", field="employee_name")
    if len(reason) < 20:
        raise Invalid("reason: a justifiable reason, in full sentences (at least 20 characters; R17)", field="reason")
    if len(reason) > 2000:
        raise Invalid("reason: at most 2000 characters", field="reason")
    application = None
    reference = (case_reference or "").strip()
    if reference:
        application = session.exec(select(Application).where(Application.reference == reference, Application.unit_code == user.unit_code)).first()
        if application is None:
            raise Invalid(f"case_reference: {reference[:40]} is not a case of your unit", field="case_reference")
    item = oversight.raise_item(
        session=session, kind=REFUSAL_KIND, source_key=None, at=at, responsible_kind="unit", responsible_code=user.unit_code,
        application_id=application.id if application else None,
        summary=f"Unit {user.unit_code} declined to apply for {name}: {reason}",
    )
    if application is not None:
        record_event(session, application_id=application.id, actor=user.username, action="unit_refusal", at=at, reason=reason, data={"employee_name": name})
    record_admin_event(session, actor=user.username, action="unit_refusal", target=user.unit_code or "", at=at,
                       data={"employee_name": name, "reason": reason, "case_reference": reference or None})
    session.flush()
    return item


def refusals(*, session: Session, unit_code: str | None, limit: int = 100) -> list[ProvincialAuditItem]:
    return list(session.exec(
        select(ProvincialAuditItem).where(ProvincialAuditItem.kind == REFUSAL_KIND, ProvincialAuditItem.responsible_code == unit_code)
        .order_by(ProvincialAuditItem.created_at.desc(), ProvincialAuditItem.id.desc()).limit(limit)
    ))


# --------------------------------------------------------------- the cases ---

@dataclass
class UnitCase:
    reference: str
    name: str
    status: str
    submitted_at: datetime
    community_code: str
    sla_due_at: datetime | None
    decision: str | None


def unit_cases(*, session: Session, unit_code: str | None, status: CaseStatus | None = None, page: int = 1, per_page: int = 50) -> tuple[list[UnitCase], int]:
    """The unit's cases, newest first, one page; and how many there are in all."""
    where = [Application.unit_code == unit_code]
    if status is not None:
        where.append(Application.status == status)
    total = session.exec(select(func.count()).select_from(Application).where(*where)).one()
    rows = session.exec(
        select(Application, Applicant.name).join(Applicant, Applicant.id == Application.applicant_id).where(*where)
        .order_by(Application.submitted_at.desc(), Application.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return [UnitCase(a.reference, name, a.status.value, a.submitted_at, a.community_code, a.sla_due_at, a.decision) for a, name in rows], total


def unit_cases_csv(*, session: Session, unit_code: str | None, status: CaseStatus | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["reference", "name", "status", "submitted_at", "community_code", "sla_due_at", "decision"])
    page = 1
    while True:
        rows, total = unit_cases(session=session, unit_code=unit_code, status=status, page=page, per_page=500)
        for r in rows:
            # A leading =, +, - or @ would make a spreadsheet run the cell as a formula.
            name = "'" + r.name if r.name[:1] in "=+-@" else r.name
            writer.writerow([r.reference, name, r.status, r.submitted_at.isoformat(), r.community_code, r.sla_due_at.isoformat() if r.sla_due_at else "", r.decision or ""])
        if page * 500 >= total:
            break
        page += 1
    return out.getvalue()
