"""Complaint pages (R20): the public form (optionally prefilled with a case reference), the
hotline operator's form, the complainant's status page (reference + access token), and the
handlers' list with the close form. The contact is shown masked everywhere."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from cases.complaints import service
from cases.complaints.models import CATEGORIES
from cases.errors import DomainError, NotFound
from cases.models import Region, RegionLevel, Role
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused

router = APIRouter(include_in_schema=False)
HANDLERS = (Role.auditor, Role.hotline, Role.supervisor, Role.admin)
FIELDS = ("category", "region_code", "case_reference", "description", "contact_name", "contact_phone")


def _regions(p: Page) -> list[dict[str, Any]]:
    """Counties with their communities, for the form's choice."""
    counties = p.session.exec(select(Region).where(Region.level == RegionLevel.county).order_by(Region.code)).all()
    cities = {r.code: r for r in p.session.exec(select(Region).where(Region.level == RegionLevel.city))}
    communities: dict[str, list[Region]] = {}
    for m in p.session.exec(select(Region).where(Region.level == RegionLevel.community).order_by(Region.code)):
        communities.setdefault(m.parent_code, []).append(m)
    return [{"county": c, "city": cities.get(c.parent_code), "communities": communities.get(c.code, [])} for c in counties]


def _form(p: Page, *, hotline: bool, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    return p.render("complaint_new.html", status=status, hotline=hotline, values=values, errors=errors or {}, regions=_regions(p),
                    categories=[(c, service.CATEGORY_WORDS[c]) for c in CATEGORIES])


def _submit(p: Page, form, *, hotline: bool) -> Response:
    values = {f: str(form.get(f) or "") for f in FIELDS}
    try:
        received = service.receive(
            session=p.session, settings=p.settings, at=p.now, operator=p.user if hotline else None,
            category=values["category"], region_code=values["region_code"] or None, description=values["description"],
            case_reference=values["case_reference"] or None, contact_name=values["contact_name"] or None, contact_phone=values["contact_phone"] or None,
        )
    except DomainError as exc:
        return _form(p, hotline=hotline, values=values, errors={exc.field or "form": exc.message}, status=exc.status_code)
    p.session.commit()
    view = service.public_view(session=p.session, reference=received.complaint.reference, token=received.access_token, now=p.now)
    link = f"/complaints/{quote(view.reference)}?" + urlencode({"access_token": received.access_token})
    return p.render("complaint.html", status=201, complaint=view, staff=False, received=True, token=received.access_token, link=link,
                    words=service.CATEGORY_WORDS)


@router.get("/complaints/new", response_class=HTMLResponse)
def complaint_form(p: PageDep, case: str | None = None, region: str | None = None) -> HTMLResponse:
    values = {f: "" for f in FIELDS}
    values["case_reference"] = (case or "").strip()[:32]
    values["region_code"] = (region or "").strip()[:12]
    return _form(p, hotline=False, values=values)


@router.post("/complaints/new")
def complaint_submit(p: PageDep, form: FormDep) -> Response:
    if p.user is not None:
        p.check_csrf(form)
    return _submit(p, form, hotline=False)


@router.get("/hotline", response_class=HTMLResponse)
def hotline_form(p: PageDep, case: str | None = None) -> HTMLResponse:
    p.staff(Role.hotline)
    values = {f: "" for f in FIELDS}
    values["case_reference"] = (case or "").strip()[:32]
    return _form(p, hotline=True, values=values)


@router.post("/hotline")
def hotline_submit(p: PageDep, form: FormDep) -> Response:
    p.staff(Role.hotline, form=form)
    return _submit(p, form, hotline=True)


@router.get("/complaints", response_class=HTMLResponse)
def complaints_list(p: PageDep, status: str | None = None, category: str | None = None, region: str | None = None, page: int = 1) -> HTMLResponse:
    user = p.staff(*HANDLERS)
    status = status if status in ("open", "closed", "overdue") else None
    category = category if category in CATEGORIES else None
    region = region if region and region.isdigit() and len(region) in (6, 12) else None
    try:
        data = service.listing(session=p.session, user=user, now=p.now, status=status, category=category, region=region, page=max(1, min(page, 100_000)))
    except DomainError as exc:
        raise PageRefused(exc.status_code, "Not in your area / 不在辖区", exc.message, p) from None
    query = urlencode({k: v for k, v in (("status", status), ("category", category), ("region", region)) if v})
    return p.render("complaints.html", data=data, status_filter=status, category=category, region=region, query=query,
                    categories=[(c, service.CATEGORY_WORDS[c]) for c in CATEGORIES], words=service.CATEGORY_WORDS)


@router.get("/complaints/{reference}", response_class=HTMLResponse)
def complaint_page(reference: str, p: PageDep, access_token: str | None = None, done: str | None = None) -> HTMLResponse:
    reference = reference[:40]
    if access_token:
        try:
            view = service.public_view(session=p.session, reference=reference, token=access_token.strip(), now=p.now)
        except NotFound:
            pass
        else:
            return p.render("complaint.html", complaint=view, staff=False, received=False, words=service.CATEGORY_WORDS)
    if p.user is not None and p.user.role in HANDLERS:
        try:
            view = service.staff_view(session=p.session, user=p.user, reference=reference, now=p.now)
        except NotFound:
            pass
        else:
            return p.render("complaint.html", complaint=view, staff=True, received=False, done=done == "closed", words=service.CATEGORY_WORDS, errors={})
    raise PageRefused(404, "Complaint not found / 未找到投诉", "Check the reference and the access token you received when you filed it. 请核对投诉编号和查询码。", p)


@router.post("/complaints/{reference}/close")
def complaint_close(reference: str, p: PageDep, form: FormDep) -> Response:
    user = p.staff(*HANDLERS, form=form)
    try:
        service.close(session=p.session, user=user, reference=reference[:40], response=str(form.get("response") or ""), at=p.now)
    except NotFound:
        raise PageRefused(404, "Complaint not found / 未找到投诉", "No such complaint in your area.", p) from None
    except DomainError as exc:
        view = service.staff_view(session=p.session, user=user, reference=reference[:40], now=p.now)
        return p.render("complaint.html", status=exc.status_code, complaint=view, staff=True, received=False, words=service.CATEGORY_WORDS,
                        errors={"response": exc.message}, response_value=str(form.get("response") or ""))
    p.session.commit()
    return redirect(f"/complaints/{quote(reference[:40])}?done=closed")
