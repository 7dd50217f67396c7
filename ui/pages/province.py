"""The provincial office's pages (R21, R22): the audit queue and an item with its evidence
(claim, outcome, re-open), the league table, and the threshold notices. Each table has a CSV
link with the same rows. Provincial auditors and admins only; case links open the staff view."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from cases.clock import SHANGHAI
from cases.errors import DomainError
from cases.models import Role
from cases.services import oversight
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep

router = APIRouter(include_in_schema=False)
STAFF = (Role.auditor, Role.admin)
PAGE = 50

Area = Annotated[str | None, Query(pattern=r"^(\d{6}(\d{6})?)?$")]
Day = Annotated[date | None, Query(alias="from")]
ToDay = Annotated[date | None, Query(alias="to")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _blank(value: str | None) -> str | None:
    return value or None


def _period(p: Page, start: date | None, end: date | None, *, optional: bool) -> tuple[datetime | None, datetime | None, date | None, date | None]:
    return oversight.period_bounds(today=p.now.astimezone(SHANGHAI).date(), start=start, end=end, optional=optional)


def _csv(body: str, name: str, p: Page) -> Response:
    stamp = p.now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'})


def _query(**params) -> str:
    return urlencode({k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items() if v not in (None, "")})


# ---------------------------------------------------------------- audit queue ---

def _queue(p: Page, kind, status, thin, outcome, area, start, end, offset, limit):
    since, until, start, end = _period(p, start, end, optional=True)
    page = oversight.list_items(session=p.session, kind=_blank(kind), status=_blank(status), thin=None if thin in (None, "") else thin == "yes",
                                outcome=_blank(outcome), area=_blank(area), since=since, until=until, offset=offset, limit=limit)
    filters = {"kind": kind, "status": status, "thin": thin, "outcome": outcome, "area": area, "from": start, "to": end}
    return page, filters


@router.get("/province/audit", response_class=HTMLResponse)
def audit_page(
    p: PageDep, kind: Annotated[str | None, Query(pattern=r"^[a-z_]{0,40}$")] = None, status: Literal["", "open", "claimed", "closed"] | None = None,
    thin: Literal["", "yes", "no"] | None = None, outcome: Literal["", "justified", "prevarication", "refusal_without_reason", "disapproval_without_reason"] | None = None,
    area: Area = None, from_: Day = None, to: ToDay = None, offset: Offset = 0,
) -> HTMLResponse:
    p.staff(*STAFF)
    try:
        page, filters = _queue(p, kind, status, thin, outcome, area, from_, to, offset, PAGE)
    except DomainError as exc:
        return p.render("province_audit.html", status=exc.status_code, page=None, filters={}, error=exc.message, sources=oversight.SOURCES, outcomes=[o.value for o in oversight.AuditOutcome], q="")
    q = _query(**filters)
    return p.render("province_audit.html", page=page, filters=filters, error=None, sources=oversight.SOURCES, outcomes=[o.value for o in oversight.AuditOutcome], q=q,
                    prev=_query(**filters, offset=max(offset - PAGE, 0)) if offset else None, next=_query(**filters, offset=offset + PAGE) if offset + PAGE < page.total else None)


@router.get("/province/audit.csv")
def audit_csv(
    p: PageDep, kind: Annotated[str | None, Query(pattern=r"^[a-z_]{0,40}$")] = None, status: Literal["", "open", "claimed", "closed"] | None = None,
    thin: Literal["", "yes", "no"] | None = None, outcome: Literal["", "justified", "prevarication", "refusal_without_reason", "disapproval_without_reason"] | None = None,
    area: Area = None, from_: Day = None, to: ToDay = None,
) -> Response:
    p.staff(*STAFF)
    try:
        page, _ = _queue(p, kind, status, thin, outcome, area, from_, to, 0, 0)
    except DomainError as exc:
        return Response(exc.message, status_code=exc.status_code, media_type="text/plain")
    return _csv(oversight.to_csv(page.items, oversight.ITEM_COLUMNS), "audit-items", p)


def _item(p: Page, item_id: int, *, errors: dict | None = None, status: int = 200, done: str | None = None) -> HTMLResponse:
    detail = oversight.item_detail(session=p.session, item_id=item_id)
    return p.render("province_item.html", status=status, d=detail, errors=errors or {}, done=done, outcomes=[o.value for o in oversight.AuditOutcome])


@router.get("/province/audit/{item_id}", response_class=HTMLResponse)
def item_page(item_id: ItemId, p: PageDep, done: Annotated[str | None, Query(pattern=r"^[a-z_]{0,20}$")] = None) -> HTMLResponse:
    p.staff(*STAFF)
    try:
        return _item(p, item_id, done=done)
    except DomainError as exc:
        return p.render("error.html", status=exc.status_code, title="Not found / 未找到", message=exc.message)


def _act(item_id: int, p: Page, form, action: str) -> Response:
    user = p.staff(*STAFF, form=form)
    note = str(form.get("note") or "").strip()
    try:
        if action == "claim":
            oversight.claim_item(session=p.session, item_id=item_id, user=user, at=p.now)
        elif action == "outcome":
            oversight.record_outcome(session=p.session, item_id=item_id, user=user, outcome=str(form.get("outcome") or ""), note=note, at=p.now)
        else:
            oversight.reopen_item(session=p.session, item_id=item_id, user=user, note=note, at=p.now)
    except DomainError as exc:
        p.session.rollback()
        try:
            return _item(p, item_id, errors={action: exc.message}, status=exc.status_code)
        except DomainError:
            return p.render("error.html", status=exc.status_code, title="Not found / 未找到", message=exc.message)
    return redirect(f"/province/audit/{item_id}?done={action}")


@router.post("/province/audit/{item_id}/claim")
def item_claim(item_id: ItemId, p: PageDep, form: FormDep) -> Response:
    return _act(item_id, p, form, "claim")


@router.post("/province/audit/{item_id}/outcome")
def item_outcome(item_id: ItemId, p: PageDep, form: FormDep) -> Response:
    return _act(item_id, p, form, "outcome")


@router.post("/province/audit/{item_id}/reopen")
def item_reopen(item_id: ItemId, p: PageDep, form: FormDep) -> Response:
    return _act(item_id, p, form, "reopen")


# ---------------------------------------------------------------- league ---

Level = Literal["city", "county", "community", "unit"]
Sort = Literal[oversight.SORT_KEYS]  # type: ignore[valid-type]


@router.get("/province/league", response_class=HTMLResponse)
def league_page(p: PageDep, level: Level = "city", sort: Sort = "breach_rate", order: Literal["asc", "desc"] = "desc", area: Area = None, from_: Day = None, to: ToDay = None, offset: Offset = 0) -> HTMLResponse:
    p.staff(*STAFF)
    try:
        since, until, start, end = _period(p, from_, to, optional=False)
        filters = {"level": level, "area": area, "from": start, "to": end}
        table = oversight.league_table(session=p.session, level=level, since=since, until=until, sort=sort, descending=order == "desc", area=_blank(area), offset=offset, limit=PAGE * 4)
    except DomainError as exc:
        return p.render("error.html", status=exc.status_code, title="Invalid / 无效", message=exc.message)
    sort_links = {c: _query(**filters, sort=c, order="asc" if sort == c and order == "desc" else "desc") for c in oversight.SORT_KEYS}
    return p.render("province_league.html", table=table, filters=filters, sort=sort, order=order, columns=oversight.LEAGUE_COLUMNS, sort_links=sort_links,
                    q=_query(**filters, sort=sort, order=order),
                    prev=_query(**filters, sort=sort, order=order, offset=max(offset - PAGE * 4, 0)) if offset else None,
                    next=_query(**filters, sort=sort, order=order, offset=offset + PAGE * 4) if offset + PAGE * 4 < table.total else None)


@router.get("/province/league.csv")
def league_csv(p: PageDep, level: Level = "city", sort: Sort = "breach_rate", order: Literal["asc", "desc"] = "desc", area: Area = None, from_: Day = None, to: ToDay = None) -> Response:
    p.staff(*STAFF)
    try:
        since, until, _, _ = _period(p, from_, to, optional=False)
        table = oversight.league_table(session=p.session, level=level, since=since, until=until, sort=sort, descending=order == "desc", area=_blank(area), limit=0)
    except DomainError as exc:
        return Response(exc.message, status_code=exc.status_code, media_type="text/plain")
    return _csv(oversight.to_csv(table.rows, oversight.LEAGUE_COLUMNS), f"league-{level}", p)


# ---------------------------------------------------------------- thresholds ---

Rule = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{0,40}$")]


@router.get("/province/thresholds", response_class=HTMLResponse)
def thresholds_page(p: PageDep, rule: Rule = None, area: Area = None, offset: Offset = 0) -> HTMLResponse:
    p.staff(*STAFF)
    try:
        alerts = oversight.list_alerts(session=p.session, rule=_blank(rule), area=_blank(area), offset=offset, limit=PAGE)
    except DomainError as exc:
        return p.render("error.html", status=exc.status_code, title="Invalid / 无效", message=exc.message)
    rules = [{"key": r.key, "title": r.title, "days": r.days, "limit": getattr(p.settings, r.setting), "unit": r.unit, "setting": f"HEALTHPASS_{r.setting.upper()}"} for r in oversight.THRESHOLD_RULES]
    filters = {"rule": rule, "area": area}
    return p.render("province_thresholds.html", alerts=alerts, rules=rules, filters=filters, q=_query(**filters), levels=p.settings.threshold_levels, min_cases=p.settings.threshold_min_cases,
                    prev=_query(**filters, offset=max(offset - PAGE, 0)) if offset else None, next=_query(**filters, offset=offset + PAGE) if offset + PAGE < alerts.total else None)


@router.get("/province/thresholds.csv")
def thresholds_csv(p: PageDep, rule: Rule = None, area: Area = None) -> Response:
    p.staff(*STAFF)
    try:
        alerts = oversight.list_alerts(session=p.session, rule=_blank(rule), area=_blank(area), limit=0)
    except DomainError as exc:
        return Response(exc.message, status_code=exc.status_code, media_type="text/plain")
    return _csv(oversight.to_csv(alerts.items, oversight.ALERT_COLUMNS), "threshold-alerts", p)
