"""Published rules and the public directory (R20): nothing here needs an account."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import NowDep, SessionDep, require
from cases.clock import SHANGHAI
from cases.comparison import rules as colour_rules
from cases.directory import service as directory_service
from cases.errors import Invalid
from cases.models import Region, RegionLevel, Role, User
from cases.validation import load_regions

INVALID: dict = {422: {"description": "Invalid field, named in `detail[].loc`"}}
router = APIRouter(prefix="/api/v1", tags=["public"])


@router.get("/rules", summary="The colour rules in force (versioned, with effective dates)")
def rules(now: NowDep) -> dict[str, Any]:
    today = now.astimezone(SHANGHAI).date()
    return colour_rules.to_public_dict(today)


@router.get("/directory", summary="Per county: service account, app, complaint telephone, handling communities, last updated (R20)", response_model=directory_service.Directory, responses=INVALID)
def directory(session: SessionDep, county: Annotated[str | None, Query(pattern=r"^\d{6}$", description="a county code, e.g. 370102")] = None) -> directory_service.Directory:
    return directory_service.directory(session=session, province=load_regions()["province"], county=county)


class DirectoryUpdate(BaseModel):
    """The fields to change (others stay): a county's complaint_phone, service_account, app;
    a community's address, phone, hours. `null` clears a field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"complaint_phone": "0531-86081234", "note": "announced by the county on 1 March"}]})
    complaint_phone: str | None = Field(default=None, max_length=32)
    service_account: directory_service.Info | None = None
    app: directory_service.Info | None = None
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    hours: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=500, description="why (kept in the change log)")


EditorDep = Annotated[User, require(Role.supervisor, Role.admin)]
ReaderDep = Annotated[User, require(Role.supervisor, Role.auditor, Role.admin)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=500)]
CountyQuery = Annotated[str | None, Query(pattern=r"^\d{6}$", description="a county code")]


@router.get("/directory/changes", summary="The directory's change log in your area, newest first (R20)", response_model=directory_service.ChangePage, responses=INVALID)
def directory_changes(user: ReaderDep, session: SessionDep, county: CountyQuery = None, page: Page = 1, page_size: PageSize = 50) -> directory_service.ChangePage:
    return directory_service.changes(session=session, user=user, county=county, page=page, page_size=page_size)


@router.get("/directory/changes.csv", summary="The directory's change log as CSV (same rows as /directory/changes)", response_class=Response, responses={**INVALID, 200: {"content": {"text/csv": {}}}})
def directory_changes_csv(user: ReaderDep, session: SessionDep, county: CountyQuery = None, page: Page = 1, page_size: PageSize = 500) -> Response:
    data = directory_service.changes(session=session, user=user, county=county, page=page, page_size=page_size)
    return Response(directory_service.changes_csv(data), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="directory-changes.csv"'})


@router.put("/directory/{region_code}", summary="Change a county's or community's directory entry (its county's supervisor; evented)", response_model=directory_service.CountyEntry, responses=INVALID)
def update_directory(
    region_code: Annotated[str, Path(pattern=r"^\d{6}(\d{6})?$", description="a county or community code")],
    body: DirectoryUpdate,
    user: EditorDep,
    session: SessionDep,
    now: NowDep,
) -> directory_service.CountyEntry:
    fields = body.model_dump(exclude_unset=True, exclude={"note"}, mode="json")
    if not fields:
        raise Invalid("give at least one field to change", field="body")
    directory_service.update_entry(session=session, user=user, region_code=region_code, changes=fields, at=now, note=body.note)
    session.commit()
    region = session.get(Region, region_code)
    county = region.code if region.level == RegionLevel.county else region.parent_code
    return directory_service.directory(session=session, province=load_regions()["province"], county=county).counties[0]
