"""The supervisor dashboard (issue 13): open work by SLA state with drill-down, breaches with
responsibility (R13), auto-issues (R12), roster gaps (R18). A thin caller of the read models in
`cases.services.supervision`; each table filters, pages and links its CSV (the API's twin)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import or_
from sqlmodel import Session, select

from cases.errors import DomainError
from cases.models import Notification, ProvincialAuditItem, Region, Role, User
from cases.scope import scope_for
from cases.services import supervision
from cases.settings import Settings
from ui.pages.session import PageDep, PageRefused
from ui.pages.words import CHANNEL_WORDS, SLA_WORDS, STATUS_WORDS, Word

router = APIRouter(include_in_schema=False)
PER_PAGE = 25
STATE_WORDS = {
    "on_time": Word("sla_state", "On time"),
    "at_risk": Word("sla_state", "At risk"),
    "breached": Word("sla_state", "Breached"),
    "paused": Word("sla_state", "Paused (waiting for the applicant)"),
}


def _int(value: str | None, default: int = 1) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) <= 100_000 else default


def _region(value: str | None) -> str | None:
    return value if value and re.fullmatch(r"\d{6}(\d{6})?", value) else None


def supervisor_overview(session: Session, user: User, *, now: datetime, settings: Settings, query: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, from the read models (scope: cases.scope)."""
    q = query or {}
    region = _region(q.get("region"))
    state = q.get("state") if q.get("state") in STATE_WORDS else None
    gap = q.get("gap") if q.get("gap") in ("no_registered_issuer", "no_issuer_signed_in") else None
    summary = supervision.open_work_summary(session=session, user=user, settings=settings, now=now, region=region)
    common = {"session": session, "user": user, "region": region, "per_page": PER_PAGE}
    work = supervision.open_work(**common, settings=settings, now=now, state=supervision.SlaState(state) if state else None, page=_int(q.get("page")))
    breaches = supervision.breaches(**common, now=now, page=_int(q.get("breach_page")))
    autos = supervision.auto_issues(**common, page=_int(q.get("auto_page")))
    gaps = supervision.roster_gaps(**common, settings=settings, now=now, gap=gap, page=_int(q.get("gap_page")))

    scope = scope_for(session, user)
    # Breadcrumb of the drill-down: from the supervisor's own region down to the one shown.
    trail: list[Region] = []
    if summary.region:
        top = None if scope.everything else scope.root.code
        for code in reversed(scope.ancestors(summary.region)):
            if top is None or trail or code == top:
                trail.append(session.get(Region, code))
    if scope.everything:
        notes_q = select(Notification).where(or_(Notification.recipient_level == "province", Notification.recipient_code == "370000"))
    else:
        notes_q = select(Notification).where(Notification.recipient_code == user.region_code)
    notifications = list(session.exec(notes_q.order_by(Notification.created_at.desc()).limit(10)))
    audit_items = []
    if user.role in (Role.auditor, Role.admin):
        audit_items = list(session.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.closed_at == None).order_by(ProvincialAuditItem.created_at.desc()).limit(20)))  # noqa: E711

    def link(**changes: Any) -> str:
        params = {k: v for k, v in {**q, **changes}.items() if v not in (None, "")}
        return "/supervisor" + ("?" + urlencode(params) if params else "")

    def csv_link(table: str, **params: Any) -> str:
        params = {k: v for k, v in {"region": region, **params}.items() if v}
        return f"/api/v1/supervision/{table}.csv" + ("?" + urlencode(params) if params else "")

    return {
        "summary": summary, "work": work, "breaches": breaches, "autos": autos, "gaps": gaps, "state": state, "gap": gap,
        "trail": trail, "province_wide": scope.everything, "notifications": notifications, "audit_items": audit_items,
        "link": link, "csv_link": csv_link, "state_words": STATE_WORDS, "region_code": region,
    }


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(p: PageDep) -> HTMLResponse:
    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    try:
        data = supervisor_overview(p.session, user, now=p.now, settings=p.settings, query=dict(p.request.query_params))
    except DomainError as exc:  # a region outside the area, or unknown
        raise PageRefused(exc.status_code, "Not in your area / 不在辖区内", exc.message, p) from exc
    return p.render("supervisor.html", **data, words={"sla": SLA_WORDS, "status": STATUS_WORDS, "channel": CHANNEL_WORDS})
