"""Supervisors and the provincial office: at-risk and breached cases, notifications, issuer coverage."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import or_
from sqlmodel import Session, select

from cases.clock import SHANGHAI, aware
from cases.models import (
    Application,
    AuditTask,
    CaseStatus,
    IssuerSignIn,
    Notification,
    ProvincialAuditItem,
    Region,
    ResponsibilityRecord,
    Role,
    Unit,
    User,
)
from cases.scope import scope_for
from cases.settings import Settings
from ui.pages.session import PageDep
from ui.pages.words import CHANNEL_WORDS, SLA_WORDS, STATUS_WORDS

router = APIRouter(include_in_schema=False)


def supervisor_overview(session: Session, user: User, *, now: datetime, settings: Settings) -> dict[str, Any]:
    """At-risk and breached cases, notifications and issuer coverage for a supervisor's area,
    scoped by `cases.scope` like every case read (province-wide for the provincial office)."""
    from api.routers.issuers import task_view
    from cases.services import sla_service

    area = scope_for(session, user)
    province_wide = area.everything
    scope = user.region_code or ""

    def scoped(query):
        return query.where(area.case_filter())

    cal = sla_service.calendar(session, settings)
    open_rows = session.exec(scoped(
        select(AuditTask, Application).join(Application, Application.id == AuditTask.application_id)
        .where(Application.status.in_([CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant]), Application.sla_due_at != None, Application.breached_at == None)  # noqa: E711
    )).all()
    at_risk = []
    for task, app in open_rows:
        view = task_view(task, app, now, cal, 0)
        if view["sla_colour"] in ("amber", "red"):
            at_risk.append(view)
    at_risk.sort(key=lambda v: v["time_left_seconds"] or 0)

    breached = []
    for app, record in session.exec(scoped(
        select(Application, ResponsibilityRecord).join(ResponsibilityRecord, ResponsibilityRecord.application_id == Application.id, isouter=True)
        .where(Application.breached_at != None)  # noqa: E711
    ).order_by(Application.breached_at.desc()).limit(200)).all():
        holder = None
        if record is not None:
            holder = session.get(Region, record.responsible_code) or session.get(Unit, record.responsible_code)
        breached.append({"app": app, "record": record, "holder": holder, "late_seconds": (now - aware(app.breached_at)).total_seconds()})

    if province_wide:
        notes_q = select(Notification).where(or_(Notification.recipient_level == "province", Notification.recipient_code == "370000"))
    else:
        notes_q = select(Notification).where(Notification.recipient_code == scope)
    notifications = list(session.exec(notes_q.order_by(Notification.created_at.desc()).limit(50)))

    # R18: communities in the area with no registered issuer, or none signed in today.
    day = now.astimezone(SHANGHAI).date()
    communities = area.communities()
    issuers = list(session.exec(select(User).where(User.role == Role.issuer, User.active == True, area.code_filter(User.region_code))))  # noqa: E712
    signed = {row.user_id for row in session.exec(select(IssuerSignIn).where(IssuerSignIn.work_date == day))}
    registered: dict[str, int] = {}
    present: dict[str, int] = {}
    for u in issuers:
        registered[u.region_code] = registered.get(u.region_code, 0) + 1
        if u.id in signed:
            present[u.region_code] = present.get(u.region_code, 0) + 1
    uncovered = [{"region": r, "registered": registered.get(r.code, 0)} for r in communities if not present.get(r.code)]

    audit_items = []
    if user.role in (Role.auditor, Role.admin):
        audit_items = list(session.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.closed_at == None).order_by(ProvincialAuditItem.created_at.desc()).limit(50)))  # noqa: E711
    region = session.get(Region, scope) if scope else None
    return {"at_risk": at_risk, "breached": breached, "notifications": notifications, "uncovered": uncovered, "communities": len(communities), "audit_items": audit_items, "region": region, "province_wide": province_wide}


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(p: PageDep) -> HTMLResponse:
    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    data = supervisor_overview(p.session, user, now=p.now, settings=p.settings)
    return p.render("supervisor.html", **data, words={"sla": SLA_WORDS, "status": STATUS_WORDS, "channel": CHANNEL_WORDS})
