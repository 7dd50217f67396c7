"""Administration: accounts (disable, enable, reset a password), the working calendar (coverage,
import a year, one day's change) and the pass signing keys (list, rotate). Admins only; every
change is written to the administration log."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, UploadFile
from pydantic import BaseModel, Field

from api.deps import NowDep, SessionDep, SettingsDep, require
from cases.admin import keys as key_service
from cases.models import Role, User
from cases.services import calendar_service
from cases.services import users as user_service
from cases.services.passes import keystore

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
AdminDep = Annotated[User, require(Role.admin)]
UserId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class AccountOut(BaseModel):
    id: str
    username: str
    role: Role
    full_name: str
    region_code: str | None
    unit_code: str | None
    active: bool


class PasswordReset(BaseModel):
    new_password: str | None = Field(default=None, min_length=8, max_length=128, description="omit: a temporary password is generated and returned once")

    model_config = {"json_schema_extra": {"examples": [{}, {"new_password": "a-long-passphrase"}]}}


class PasswordResetOut(BaseModel):
    username: str
    temporary_password: str | None = Field(description="shown once; None when new_password was given")


@router.post("/users/{user_id}/disable", response_model=AccountOut, summary="Disable an account: it cannot sign in and its sessions stop working")
def disable(user_id: UserId, admin: AdminDep, session: SessionDep, now: NowDep) -> Any:
    user = user_service.set_active(session=session, by=admin, user_id=user_id, active=False, at=now)
    session.commit()
    return user


@router.post("/users/{user_id}/enable", response_model=AccountOut, summary="Enable a disabled account")
def enable(user_id: UserId, admin: AdminDep, session: SessionDep, now: NowDep) -> Any:
    user = user_service.set_active(session=session, by=admin, user_id=user_id, active=True, at=now)
    session.commit()
    return user


@router.post("/users/{user_id}/password", response_model=PasswordResetOut, summary="Reset a password (a given one, or a one-time temporary one)")
def reset_password(user_id: UserId, body: PasswordReset, admin: AdminDep, session: SessionDep, now: NowDep) -> Any:
    user, temporary = user_service.reset_password(session=session, by=admin, user_id=user_id, at=now, new_password=body.new_password)
    session.commit()
    return {"username": user.username, "temporary_password": temporary}


class YearOut(BaseModel):
    year: int
    state: str = Field(description="imported (State Council schedule imported), library (chinesecalendar), provisional")
    imported_at: datetime | None
    imported_by: str | None
    source_name: str | None
    holidays: int
    workdays: int


class CalendarOut(BaseModel):
    years: list[YearOut]
    missing: list[int] = Field(description="years whose official schedule is needed now and missing")


@router.get("/calendar", response_model=CalendarOut, summary="The working calendar's coverage by year")
def calendar_coverage(admin: AdminDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> Any:
    years, missing = calendar_service.coverage(session=session, settings=settings, now=now)
    return {"years": [vars(y) for y in years], "missing": missing}


class ImportOut(BaseModel):
    year: int
    holidays: int
    workdays: int
    replaced: bool
    recomputed: int


@router.post("/calendar/import", response_model=ImportOut, summary="Import a year's official schedule (the file `healthpass calendar import` reads)")
def calendar_import(file: UploadFile, admin: AdminDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> Any:
    raw = file.file.read(calendar_service.MAX_SCHEDULE_BYTES + 1)
    result = calendar_service.import_file(session=session, raw=raw, source_name=(file.filename or "upload")[:100], by=admin.username, at=now, settings=settings)
    session.commit()
    return {"year": result.year, "holidays": result.holidays, "workdays": result.workdays, "replaced": result.replaced, "recomputed": len(result.recomputed)}


class DayIn(BaseModel):
    working: bool
    note: str = Field(min_length=1, max_length=200)

    model_config = {"json_schema_extra": {"examples": [{"working": False, "note": "provincial extension of the Spring Festival"}]}}


class DayOut(BaseModel):
    day: date
    working: bool
    note: str
    recomputed: int


@router.put("/calendar/days/{day}", response_model=DayOut, summary="Make one day a working day or a holiday (a provincial change); open deadlines are recomputed")
def calendar_day(day: date, body: DayIn, admin: AdminDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> Any:
    recomputed = calendar_service.set_day(session=session, day=day, working=body.working, note=body.note, by=admin.username, at=now, settings=settings)
    session.commit()
    return {"day": day, "working": body.working, "note": body.note.strip(), "recomputed": len(recomputed)}


class KeyOut(BaseModel):
    kid: str
    created_at: datetime
    retired_at: datetime | None
    status: str = Field(description="active | published (retired, still in the JWKS) | retired")
    published_until: datetime | None


@router.get("/keys", response_model=list[KeyOut], summary="The pass signing keys, newest first")
def list_keys(admin: AdminDep, settings: SettingsDep, now: NowDep) -> Any:
    store = keystore(str(settings.keys_dir))
    store.ensure_active(now=now)
    return [vars(k) for k in key_service.key_rows(store=store, now=now, validity=timedelta(days=settings.pass_validity_days))]


class RotatedOut(BaseModel):
    active: str


@router.post("/keys/rotate", response_model=RotatedOut, summary="Rotate: a new key signs; the old one stays published until its passes expire")
def rotate_keys(admin: AdminDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> Any:
    kid = key_service.rotate(session=session, store=keystore(str(settings.keys_dir)), by=admin.username, at=now)
    session.commit()
    return {"active": kid}
