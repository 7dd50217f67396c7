"""R23 municipal reporting: obligations (provincial office), the cities' reports (city
supervisors), per-city on time / late / missing. Thin: the work is in cases.reporting.service."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, NowDep, SessionDep
from cases.reporting import service
from cases.reporting.models import ImplementationStatus
from cases.reporting.service import ObligationDetail, ObligationPage, ReportState

router = APIRouter(prefix="/api/v1/reporting", tags=["reporting"])

CityCode = Annotated[Optional[str], Query(pattern=r"^\d{6}$", description="a city code, e.g. 370100")]
PageNo = Annotated[int, Query(ge=1, le=100000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
ObligationId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the obligation's id")]


class ObligationCreate(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"title": "Implementation of the health pass notice, second report", "due": "2027-03-06", "cities": ["370100", "370200"], "description": "Status of implementation and the complaint numbers announced."}]}}

    title: str = Field(min_length=1, max_length=200)
    due: str = Field(max_length=40, description="YYYY-MM-DD (end of that day, Asia/Shanghai) or an ISO date-time with its offset")
    cities: Optional[list[str]] = Field(default=None, max_length=16, description="city codes; omitted or empty: all 16 cities")
    description: str = Field(default="", max_length=4000)


class ObligationCreated(BaseModel):
    id: int
    title: str
    due_at: datetime
    cities: list[str]


class ReportSubmit(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"status": "implemented", "implementation": "All counties handle applications online and at the counter; issuers registered in every community.", "city_numbers": ["0531-12345"], "county_numbers": {"370102": ["0531-12346"]}}]}}

    status: ImplementationStatus
    implementation: str = Field(min_length=1, max_length=10000)
    city_numbers: list[str] = Field(min_length=1, max_length=20, description="complaint telephones announced at city level")
    county_numbers: dict[str, list[str]] = Field(default_factory=dict, description="per county code: the complaint telephones announced there")
    city: Optional[str] = Field(default=None, description="your city's code (optional: taken from your account)")


class ReportReceived(BaseModel):
    obligation_id: int
    city_code: str
    state: ReportState
    submitted_at: datetime
    version: int


@router.get("/obligations", summary="Reporting obligations with per-state counts over the cities you read (R23)")
def list_obligations(user: CurrentUser, session: SessionDep, now: NowDep, state: Optional[ReportState] = None, page: PageNo = 1, per_page: PerPage = 50) -> ObligationPage:
    return service.list_obligations(session=session, user=user, now=now, state=state, page=page, per_page=per_page)


@router.get("/obligations.csv", summary="Reporting obligations as CSV (same rows and filters as /obligations)", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def list_obligations_csv(user: CurrentUser, session: SessionDep, now: NowDep, state: Optional[ReportState] = None, page: PageNo = 1, per_page: PerPage = 50) -> Response:
    result = service.list_obligations(session=session, user=user, now=now, state=state, page=page, per_page=per_page)
    return Response(service.list_csv(result), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="reporting-obligations.csv"'})


@router.post("/obligations", status_code=201, summary="Set a reporting obligation: title, due date, cities (provincial office, admin)")
def create_obligation(body: ObligationCreate, user: CurrentUser, session: SessionDep, now: NowDep) -> ObligationCreated:
    obligation = service.create_obligation(session=session, user=user, title=body.title, due=body.due, cities=body.cities, description=body.description, at=now)
    cities = service.bound_cities(session, obligation.id)
    session.commit()
    return ObligationCreated(id=obligation.id, title=obligation.title, due_at=obligation.due_at, cities=cities)


@router.get("/obligations/{obligation_id}.csv", summary="Per-city states of one obligation as CSV (same rows and filters as the JSON)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def obligation_csv(obligation_id: ObligationId, user: CurrentUser, session: SessionDep, now: NowDep, state: Optional[ReportState] = None, city: CityCode = None,
                   page: PageNo = 1, per_page: PerPage = 100) -> Response:
    detail = service.obligation_detail(session=session, user=user, obligation_id=obligation_id, now=now, state=state, city=city, page=page, per_page=per_page)
    return Response(service.detail_csv(detail), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reporting-{obligation_id}.csv"'})


@router.get("/obligations/{obligation_id}", summary="One obligation: per city on time / late / missing / pending, the report and the directory check")
def obligation(obligation_id: ObligationId, user: CurrentUser, session: SessionDep, now: NowDep, state: Optional[ReportState] = None, city: CityCode = None,
               page: PageNo = 1, per_page: PerPage = 100) -> ObligationDetail:
    return service.obligation_detail(session=session, user=user, obligation_id=obligation_id, now=now, state=state, city=city, page=page, per_page=per_page)


@router.post("/obligations/{obligation_id}/reports", status_code=201, summary="A city supervisor submits (or amends) their city's report")
def submit_report(obligation_id: ObligationId, body: ReportSubmit, user: CurrentUser, session: SessionDep, now: NowDep) -> ReportReceived:
    report = service.submit_report(session=session, user=user, obligation_id=obligation_id, status=body.status, implementation=body.implementation,
                                   city_numbers=body.city_numbers, county_numbers=body.county_numbers, at=now, city=body.city)
    received = ReportReceived(obligation_id=obligation_id, city_code=report.city_code, submitted_at=report.submitted_at, version=report.version,
                              state=service.report_state(session, report, now=now))
    session.commit()
    return received
