"""Units (employers) apply for their employees in bulk and must give reasons to refuse (R17)."""
from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, UploadFile
from pydantic import BaseModel, Field, ValidationError

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.declaration_schema import ApplicationCreate
from cases.errors import DomainError
from cases.models import Role, User
from cases.services import oversight
from cases.scope import scope_for
from cases.services.applications import submit_application

router = APIRouter(prefix="/api/v1/units", tags=["units"])
UnitDep = Annotated[User, require(Role.unit)]
MAX_ROWS = 500


def _bulk_examples() -> dict:
    from cases.clock import SHANGHAI, now
    from cases.declaration_schema import make_examples

    row = dict(make_examples(now().astimezone(SHANGHAI).date())["standard"]["value"])
    return {"one_employee": {"summary": "One employee (channel and unit are set from the account)", "value": [row]}}


def _submit_many(rows: list[dict], *, user: User, session, settings, now) -> list[dict[str, Any]]:
    """Each row becomes its own case and flow run; one bad row does not stop the others."""
    results = []
    for i, raw in enumerate(rows, start=1):
        raw = {**raw, "channel": "unit", "unit_code": user.unit_code}
        try:
            payload = ApplicationCreate.model_validate(raw)
            with session.begin_nested():
                # A person with an open case outside this unit's scope: the row says so and names no case.
                result = submit_application(session=session, payload=payload, content=raw, settings=settings, at=now, idempotency_key=None, submitted_by=user.id, reader=scope_for(session, user))
            results.append({"row": i, "status": "created" if result.created else "existing", "id": result.application.id, "reference": result.application.reference, "access_token": result.access_token})
        except ValidationError as exc:
            results.append({"row": i, "status": "invalid", "errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]})
        except DomainError as exc:
            results.append({"row": i, "status": "invalid", "errors": [exc.to_dict()]})
    session.commit()
    return results


@router.post("/applications", summary="Apply for employees in bulk (JSON list); each row is its own case")
def bulk_json(rows: Annotated[list[dict[str, Any]], Body(max_length=MAX_ROWS, openapi_examples=_bulk_examples())], user: UnitDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    results = _submit_many(rows, user=user, session=session, settings=settings, now=now)
    return {"submitted": sum(r["status"] == "created" for r in results), "results": results}


CSV_COLUMNS = "kind,name,id_type,id_number,phone,nationality,address,community_code,residence_history (JSON),temperature"


@router.post("/applications.csv", summary=f"Apply for employees in bulk from a CSV upload (columns: {CSV_COLUMNS})")
async def bulk_csv(file: UploadFile, user: UnitDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    text = (await file.read(2_000_000)).decode("utf-8-sig", errors="replace")
    rows = []
    for line in csv.DictReader(io.StringIO(text)):
        try:
            history = json.loads(line.get("residence_history") or "[]")
        except ValueError:
            history = "not JSON"
        rows.append({
            "kind": line.get("kind") or "standard", "name": line.get("name"), "id_type": line.get("id_type") or "resident_id",
            "id_number": line.get("id_number"), "phone": line.get("phone"), "nationality": line.get("nationality") or "CHN",
            "address": line.get("address"), "community_code": line.get("community_code"), "residence_history": history,
            "close_contact": {"had_contact": False}, "health": {"symptoms": [], "temperature": float(line.get("temperature") or 36.5)},
        })
        if len(rows) > MAX_ROWS:
            raise HTTPException(413, f"at most {MAX_ROWS} rows per upload")
    results = _submit_many(rows, user=user, session=session, settings=settings, now=now)
    return {"submitted": sum(r["status"] == "created" for r in results), "results": results}


class RefusalIn(BaseModel):
    employee_name: str = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=20, max_length=2000, description="a justifiable reason, in full sentences (R17)")

    model_config = {"json_schema_extra": {"examples": [{"employee_name": "张三", "reason": "He left the company on 1 March and no longer works here."}]}}


@router.post("/refusals", status_code=201, summary="Record a refusal to apply for an employee (reason required; audited by the province)")
def refuse(body: RefusalIn, user: UnitDep, session: SessionDep, now: NowDep) -> dict[str, Any]:
    item = oversight.raise_item(
        session=session, kind="unit_refusal", source_key=None, at=now, responsible_kind="unit", responsible_code=user.unit_code,
        summary=f"Unit {user.unit_code} declined to apply for {body.employee_name}: {body.reason}",
    )
    session.commit()
    return {"id": item.id, "kind": item.kind, "summary": item.summary}
