"""Public pages: home, finding a case, the published rules and the issuer directory."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.clock import SHANGHAI
from cases.errors import NotFound
from ui.pages.common import redirect
from ui.pages.session import PageDep
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
    from api.routers.public import directory

    county = county if county and county.isdigit() and len(county) == 6 else None
    try:
        data = directory(session=p.session, county=county)
    except NotFound as exc:
        data, error = directory(session=p.session, county=None), exc.message
    else:
        error = None
    all_counties = directory(session=p.session, county=None)["counties"] if county else data["counties"]
    cities: dict[str, dict[str, Any]] = {}
    for c in data["counties"]:
        cities.setdefault(c["city"]["code"], {"city": c["city"], "counties": []})["counties"].append(c)
    return p.render("directory.html", data=data, cities=list(cities.values()), all_counties=all_counties, county=county, error=error)
