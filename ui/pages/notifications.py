"""/supervisor/notifications: the notifications of a supervisor's area, filtered and paged,
each linking to its case's staff view, with an acknowledge button; the same rows as CSV."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.clock import SHANGHAI
from cases.errors import DomainError
from cases.services import actions
from cases.services.staff_case import STAFF_ROLES
from ui.pages.common import SECURITY_HEADERS, redirect
from ui.pages.session import FormDep, Page, PageDep, PageRefused

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _filters(kind: str | None, state: str | None) -> tuple[str | None, bool | None, dict[str, str]]:
    kind = (kind or "").strip() or None
    if kind is not None and (len(kind) > 40 or not kind.replace("_", "").isalnum()):
        kind = None
    acknowledged = {"acknowledged": True, "open": False}.get(state or "")
    query = {k: v for k, v in (("kind", kind), ("state", state if acknowledged is not None else None)) if v}
    return kind, acknowledged, query


def _safe(p: Page, call):
    try:
        return call()
    except DomainError as exc:
        raise PageRefused(exc.status_code if exc.status_code in (403, 404) else 400, "Not available / 无法查看", exc.message, p) from None


@router.get("/supervisor/notifications", response_class=HTMLResponse)
def notifications_page(p: PageDep, kind: str | None = None, state: str | None = None, page: str | None = None, done: str | None = None) -> HTMLResponse:
    user = p.staff(*STAFF_ROLES)
    kind, acknowledged, query = _filters(kind, state)
    number = int(page) if page and page.isdigit() and 0 < int(page) < 100000 else 1
    result = _safe(p, lambda: actions.list_notifications(session=p.session, user=user, kind=kind, acknowledged=acknowledged, page=number, per_page=PER_PAGE))
    return p.render(
        "notifications.html",
        result=result,
        kind=kind or "",
        state=query.get("state", ""),
        query=urlencode(query),
        done=done == "acknowledged",
    )


@router.get("/supervisor/notifications.csv")
def notifications_csv(p: PageDep, kind: str | None = None, state: str | None = None) -> Response:
    user = p.staff(*STAFF_ROLES)
    kind, acknowledged, _ = _filters(kind, state)
    body = _safe(p, lambda: actions.notifications_csv(session=p.session, user=user, kind=kind, acknowledged=acknowledged))
    stamp = p.now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="notifications-{stamp}.csv"'})


@router.post("/supervisor/notifications/{notification_id}/acknowledge")
def acknowledge(notification_id: int, p: PageDep, form: FormDep) -> Response:
    user = p.staff(*STAFF_ROLES, form=form)
    _safe(p, lambda: actions.acknowledge(session=p.session, notification_id=notification_id, user=user, at=p.now))
    p.session.commit()
    back = str(form.get("back") or "")
    query = back if back and all(c.isalnum() or c in "=&_%" for c in back) else ""
    return redirect("/supervisor/notifications?" + (query + "&" if query else "") + "done=acknowledged")
