"""Complaints (R20): the public intake (no login, rate-limited), the hotline's intake, the
complainant's status read (reference + access token) and the handlers' list, CSV and close."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ApplicantToken, NowDep, OptionalUser, SessionDep, SettingsDep, require
from cases.complaints import service
from cases.errors import NotFound
from cases.models import Role, User

INVALID: dict = {422: {"description": "Invalid field, named in `detail[].loc`"}}
router = APIRouter(prefix="/api/v1", tags=["complaints"])

Category = Literal["refused", "delayed", "extra_conditions", "rude", "other"]
Reference = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,32}$", description="the complaint's reference, e.g. CP20260303-ABCD-EFGH")]
HandlerDep = Annotated[User, require(Role.auditor, Role.hotline, Role.supervisor, Role.admin)]
HotlineDep = Annotated[User, require(Role.hotline)]


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category": "extra_conditions", "region_code": "370102001001", "case_reference": None, "contact_name": "王女士", "contact_phone": "13800001234",
        "description": "The community asked for a negative test certificate before accepting my declaration.",
    }]})
    category: Category = Field(description="refused, delayed, extra_conditions (conditions beyond the notice, R16), rude, other")
    region_code: str | None = Field(default=None, pattern=r"^\d{6}(\d{6})?$", description="the county or community complained about (may be left out when case_reference is given)")
    case_reference: str | None = Field(default=None, max_length=32, description="the case number, if the complaint is about a case")
    description: str = Field(min_length=10, max_length=4000, description="what happened")
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=32, description="to be called back; shown masked only")


class ComplaintReceived(BaseModel):
    reference: str
    access_token: str = Field(description="keep it: with the reference it opens the complaint's status page")
    status_url: str
    due_at: datetime
    complaint: service.ComplaintView


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"response": "We called the community: no certificate is required; your declaration was accepted on 4 March."}]})
    response: str = Field(min_length=10, max_length=4000, description="the answer the complainant reads")


def _received(r: service.Received, session, now) -> ComplaintReceived:
    view = service.public_view(session=session, reference=r.complaint.reference, token=r.access_token, now=now)
    return ComplaintReceived(reference=r.complaint.reference, access_token=r.access_token, due_at=r.complaint.due_at,
                             status_url=f"/complaints/{r.complaint.reference}?access_token={r.access_token}", complaint=view)


@router.post("/complaints", status_code=201, summary="File a complaint (no account needed; rate-limited per client) (R20)", response_model=ComplaintReceived, responses=INVALID)
def file_complaint(body: ComplaintIn, session: SessionDep, settings: SettingsDep, now: NowDep) -> ComplaintReceived:
    r = service.receive(session=session, settings=settings, at=now, **body.model_dump())
    session.commit()
    return _received(r, session, now)


@router.post("/hotline/complaints", status_code=201, summary="Record a caller's complaint (hotline operators) (R20)", response_model=ComplaintReceived, responses=INVALID)
def hotline_complaint(body: ComplaintIn, user: HotlineDep, session: SessionDep, settings: SettingsDep, now: NowDep) -> ComplaintReceived:
    r = service.receive(session=session, settings=settings, at=now, operator=user, **body.model_dump())
    session.commit()
    return _received(r, session, now)


@router.get("/complaints", summary="Complaints in your area, newest first (provincial office, hotline, supervisors)", response_model=service.ComplaintPage, responses=INVALID)
def list_complaints(
    user: HandlerDep,
    session: SessionDep,
    now: NowDep,
    status: Annotated[Literal["open", "closed", "overdue"] | None, Query()] = None,
    category: Annotated[Category | None, Query()] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> service.ComplaintPage:
    return service.listing(session=session, user=user, now=now, status=status, category=category, region=region, page=page, page_size=page_size)


@router.get("/complaints.csv", summary="Complaints as CSV (same rows and filters as /complaints)", response_class=Response, responses={**INVALID, 200: {"content": {"text/csv": {}}}})
def complaints_csv(
    user: HandlerDep,
    session: SessionDep,
    now: NowDep,
    status: Annotated[Literal["open", "closed", "overdue"] | None, Query()] = None,
    category: Annotated[Category | None, Query()] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}(\d{6})?$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 500,
) -> Response:
    data = service.listing(session=session, user=user, now=now, status=status, category=category, region=region, page=page, page_size=page_size)
    return Response(service.to_csv(data), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="complaints.csv"'})


@router.get("/complaints/{reference}", summary="A complaint: the complainant with its access token, or a handler in whose area it lies", response_model=service.StaffComplaintView | service.ComplaintView, responses=INVALID)
def read_complaint(reference: Reference, session: SessionDep, now: NowDep, user: OptionalUser, token: ApplicantToken) -> service.ComplaintView:
    if token:
        try:
            return service.public_view(session=session, reference=reference, token=token, now=now)
        except NotFound:
            if user is None:
                raise
    if user is None:
        raise NotFound(f"no complaint {reference} with this access token", field="reference")
    return service.staff_view(session=session, user=user, reference=reference, now=now)


@router.post("/complaints/{reference}/close", summary="Close a complaint with the response the complainant reads (evented)", response_model=service.StaffComplaintView, responses=INVALID)
def close_complaint(reference: Reference, body: CloseIn, user: HandlerDep, session: SessionDep, now: NowDep) -> service.StaffComplaintView:
    view = service.close(session=session, user=user, reference=reference, response=body.response, at=now)
    session.commit()
    return view
