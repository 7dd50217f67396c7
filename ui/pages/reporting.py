"""R23 pages: the provincial office's view of reporting obligations (on time / late / missing per
city, CSV, new obligations) and a city supervisor's form to submit their city's report."""
from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from cases.errors import DomainError
from cases.models import Region, RegionLevel, Role
from cases.reporting import service
from cases.reporting.models import ImplementationStatus
from cases.reporting.service import ReportState
from cases.scope import scope_for
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused
from ui.pages.words import Word

router = APIRouter(include_in_schema=False)

STATE_WORDS = {
    "on_time": Word("reporting", "On time"),
    "late": Word("reporting", "Late"),
    "missing": Word("reporting", "Missing"),
    "pending": Word("reporting", "Not yet due"),
}
STATUS_WORDS = {
    "implemented": Word("implementation", "Implemented"),
    "partially_implemented": Word("implementation", "Partially implemented"),
    "not_implemented": Word("implementation", "Not implemented"),
}
MISMATCH_WORDS = {
    "not_in_directory": "announced, not in the public directory",
    "not_announced": "in the directory, not announced",
    "no_directory_entry": "no complaint number in the directory",
    "county_not_reported": "no number reported for this county",
}


def _state(value: str | None) -> ReportState | None:
    return ReportState(value) if value in {s.value for s in ReportState} else None


def _int(value: str | None, default: int | None = None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else default


def _province_user(p: Page):
    user = p.staff(Role.auditor, Role.admin, Role.supervisor)
    if not scope_for(p.session, user).everything:
        raise PageRefused(403, "For the provincial office / 仅限省级", "This page is for the provincial office; city supervisors report on /city/reporting.", p)
    return user


def _render_province(p: Page, *, errors: dict[str, str] | None = None, form_values: dict[str, str] | None = None, status: int = 200, done: str | None = None) -> HTMLResponse:
    user = _province_user(p)
    q = p.request.query_params
    state = _state(q.get("state"))
    listing = service.list_obligations(session=p.session, user=user, now=p.now, state=state, page=_int(q.get("page"), 1), per_page=20)
    selected = _int(q.get("obligation")) or (listing.items[0].id if listing.items else None)
    detail = None
    if selected is not None:
        try:
            detail = service.obligation_detail(session=p.session, user=user, obligation_id=selected, now=p.now, state=_state(q.get("city_state")), per_page=500)
        except DomainError:
            detail = None
    cities = [(r.code, r.name_en, r.name_zh) for r in p.session.exec(select(Region).where(Region.level == RegionLevel.city).order_by(Region.code))]
    return p.render(
        "province_reporting.html", status=status, listing=listing, detail=detail, state=state.value if state else "",
        city_state=q.get("city_state") or "", words=STATE_WORDS, status_words=STATUS_WORDS, mismatch_words=MISMATCH_WORDS,
        can_create=user.role in (Role.auditor, Role.admin), cities=cities, errors=errors or {}, form_values=form_values or {}, done=done or q.get("done"),
    )


@router.get("/province/reporting", response_class=HTMLResponse)
def province_reporting(p: PageDep) -> HTMLResponse:
    return _render_province(p)


@router.post("/province/reporting/obligations")
def province_create(p: PageDep, form: FormDep) -> Response:
    user = p.staff(Role.auditor, Role.admin, form=form)
    values = {k: str(form.get(k) or "") for k in ("title", "due", "description")}
    cities = [str(c) for c in form.getlist("cities") if str(c)]
    try:
        obligation = service.create_obligation(session=p.session, user=user, title=values["title"], due=values["due"], cities=cities or None,
                                               description=values["description"], at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        key = (exc.field or "title").split(".")[0]
        return _render_province(p, errors={key: exc.message}, form_values=values, status=exc.status_code)
    return redirect(f"/province/reporting?obligation={obligation.id}&done=created")


def _city_user(p: Page):
    user = p.staff(Role.supervisor)
    scope = scope_for(p.session, user)
    if scope.root is None or scope.root.level != RegionLevel.city:
        raise PageRefused(403, "For city supervisors / 仅限市级", "Only a city supervisor submits the city's report.", p)
    return user, scope.root


def _render_city(p: Page, *, errors: dict[str, str] | None = None, form_values: dict[str, Any] | None = None, status: int = 200, selected: int | None = None) -> HTMLResponse:
    user, city = _city_user(p)
    q = p.request.query_params
    listing = service.list_obligations(session=p.session, user=user, now=p.now, state=_state(q.get("state")), page=_int(q.get("page"), 1), per_page=20)
    rows = []
    for item in listing.items:
        detail = service.obligation_detail(session=p.session, user=user, obligation_id=item.id, now=p.now)
        rows.append((item, detail.cities[0]))
    chosen = selected or _int(q.get("obligation")) or (rows[0][0].id if rows else None)
    current = next(((o, c) for o, c in rows if o.id == chosen), None)
    counties = [(r.code, r.name_en, r.name_zh) for r in p.session.exec(select(Region).where(Region.parent_code == city.code, Region.level == RegionLevel.county).order_by(Region.code))]
    values: dict[str, Any] = form_values or {}
    if not values and current and current[1].submitted_at:
        c = current[1]
        values = {"status": c.status.value if c.status else "", "implementation": c.implementation or "", "city_numbers": ", ".join(c.city_numbers),
                  **{f"county_{code}": ", ".join(nums) for code, nums in c.county_numbers.items()}}
    return p.render(
        "city_reporting.html", status=status, city=city, rows=rows, current=current, counties=counties, words=STATE_WORDS, status_words=STATUS_WORDS,
        statuses=[s.value for s in ImplementationStatus], errors=errors or {}, form_values=values, done=q.get("done"), total=listing.total,
    )


@router.get("/city/reporting", response_class=HTMLResponse)
def city_reporting(p: PageDep) -> HTMLResponse:
    return _render_city(p)


def _numbers(text: str) -> list[str]:
    return [n.strip() for n in re.split(r"[,，;；\n]", text) if n.strip()]


@router.post("/city/reporting/{obligation_id}")
def city_submit(obligation_id: Annotated[int, Path(ge=1, le=2_147_483_647)], p: PageDep, form: FormDep) -> Response:
    user = p.staff(Role.supervisor, form=form)
    _, city = _city_user(p)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    county_numbers = {k.removeprefix("county_"): _numbers(v) for k, v in values.items() if k.startswith("county_") and _numbers(v)}
    try:
        service.submit_report(session=p.session, user=user, obligation_id=obligation_id, status=values.get("status", ""), implementation=values.get("implementation", ""),
                              city_numbers=_numbers(values.get("city_numbers", "")), county_numbers=county_numbers, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        if exc.status_code == 404:
            raise PageRefused(404, "Obligation not found / 未找到报送事项", "No such reporting obligation for your city.", p) from None
        key = (exc.field or "implementation").split(".")[0]
        if key == "county_numbers" and exc.field and "." in exc.field:
            key = "county_" + exc.field.split(".")[1]
        return _render_city(p, errors={key: exc.message}, form_values=values, status=exc.status_code, selected=obligation_id)
    return redirect(f"/city/reporting?obligation={obligation_id}&done=submitted")
