"""Public pages: home, finding a case, the published rules and the issuer directory."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.clock import SHANGHAI
from cases.errors import NotFound
from cases.models import Region, Role
from ui.pages.common import redirect
from ui.pages.session import FormDep, PageDep, PageRefused
from ui.pages.words import COLOUR_WORDS, OUTCOME_WORDS

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(p: PageDep) -> HTMLResponse:
    return p.render("home.html")


@router.get("/cases", response_class=HTMLResponse)
def find_case(p: PageDep, case: str | None = None, access_token: str | None = None) -> Response:
    """Check my case: the case number (or reference) and the access token received when applying."""
    if case and case.strip() and (access_token or p.user):
        query = "?" + urlencode({"access_token": access_token.strip()}) if access_token else ""
        return redirect(f"/cases/{quote(case.strip(), safe='')}{query}")
    return p.render("find_case.html", case=case or "", error="Enter the case number and your access token. 请输入案件编号和查询码。" if case else None)


# ------------------------------------------------------- rules, directory ---

@router.get("/rules", response_class=HTMLResponse)
def rules_page(p: PageDep) -> HTMLResponse:
    from cases.comparison import rules as colour_rules

    published = colour_rules.to_public_dict(p.now.astimezone(SHANGHAI).date())
    current = next(r for r in published["rulesets"] if r["version"] == published["current"])
    return p.render("rules.html", published=published, current=current, words={"outcome": OUTCOME_WORDS, "colour": COLOUR_WORDS}, fever=p.settings.fever_threshold, validity=p.settings.pass_validity_days)


@router.get("/directory", response_class=HTMLResponse)
def directory_page(p: PageDep, county: str | None = None) -> HTMLResponse:
    from cases.directory import service as directory_service
    from cases.validation import load_regions

    province = load_regions()["province"]
    county = county if county and county.isdigit() and len(county) == 6 else None
    everything = directory_service.directory(session=p.session, province=province)
    error = None
    data = everything
    if county:
        try:
            data = directory_service.directory(session=p.session, province=province, county=county)
        except NotFound as exc:
            error = exc.message
    return p.render("directory.html", data=data, cities=_by_city(data.counties), all_counties=everything.counties, county=county, error=error)


def _by_city(counties: list) -> list[dict[str, Any]]:
    cities: dict[str, dict[str, Any]] = {}
    for c in counties:
        cities.setdefault(c.city.code, {"city": c.city, "counties": []})["counties"].append(c)
    return list(cities.values())


@router.get("/directory/manage", response_class=HTMLResponse)
def directory_manage(p: PageDep, county: str | None = None, page: int = 1, done: str | None = None) -> HTMLResponse:
    """Supervisors: the directory of the counties in their area and its change log; the
    county's own supervisor edits it (a city supervisor sees its counties)."""
    from cases.directory import service as directory_service
    from cases.validation import load_regions

    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    visible = directory_service.visible_counties(p.session, user)
    county = county if county and county.isdigit() and len(county) == 6 and (visible is None or county in visible) else None
    shown = {county} if county else visible
    data = directory_service.directory(session=p.session, province=load_regions()["province"], counties=shown)
    log = directory_service.changes(session=p.session, user=user, county=county, page=max(1, min(page, 100_000)), page_size=50)
    editable = {c.county.code for c in data.counties if directory_service.may_edit(p.session, user, c.county.code)}
    return p.render("directory_manage.html", data=data, cities=_by_city(data.counties), log=log, editable=editable, county=county, done=done == "saved")


@router.post("/directory/{region_code}/edit")
def directory_edit(region_code: str, p: PageDep, form: FormDep) -> Response:
    from cases.directory import service as directory_service
    from cases.errors import DomainError

    user = p.staff(Role.supervisor, Role.admin, form=form)
    fields = ("complaint_phone",) if len(region_code) == 6 else ("address", "phone", "hours")
    changes: dict[str, Any] = {f: str(form.get(f) or "").strip() or None for f in fields if f in form}
    if len(region_code) == 6:
        for key in ("service_account", "app"):
            if f"{key}.name_zh" in form:
                changes[key] = {k: str(form.get(f"{key}.{k}") or "") for k in directory_service.INFO_KEYS}
    try:
        directory_service.update_entry(session=p.session, user=user, region_code=region_code, changes=changes, at=p.now, note=str(form.get("note") or "").strip() or None)
    except DomainError as exc:
        raise PageRefused(exc.status_code, "Not saved / 未保存", exc.message, p) from None
    p.session.commit()
    county = region_code if len(region_code) == 6 else p.session.get(Region, region_code).parent_code
    return redirect(f"/directory/manage?county={county}&done=saved")
