"""Helpers for the SLA store tests: open a case the way the flow does, sweep at the
simulated time, and build many bare cases quickly (for concurrency and cost tests)."""
from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from cases.declaration_schema import ApplicationCreate
from cases.models import Applicant, Application, AuditTask, CaseEvent, CaseStatus, Notification, SlaTimer
from cases.services import sla_service, workflow
from cases.services.applications import submit_application
from tests.helpers import example

SH = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """'2026-03-03 16:30' in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def show(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def seed_store(store, clock) -> None:
    from cases.seed import seed

    with store.session() as session:
        seed(session, at=clock.now(), hash_key=store.settings.secret("idhash"))
        session.commit()


def open_case(store, clock, *, red_list: bool = False, **changes) -> tuple[str, str]:
    """Submit the standard example (Qingdao, community 370202001001) and run the flow's
    steps up to the audit; returns (application id, audit task id)."""
    body = {**example("standard", clock.now().astimezone(SH).date()), **changes}
    payload = ApplicationCreate.model_validate(body)
    with store.session() as s:
        result = submit_application(session=s, payload=payload, content=body, settings=store.settings, at=clock.now())
        s.commit()
        app = s.get(Application, result.application.id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=store.settings, accept_incomplete=True)
        if red_list:
            app.red_list = True
            s.add(app)
        task = workflow.assign_audit(session=s, application=app, at=clock.now(), settings=store.settings)
        s.commit()
        return app.id, task["task_id"]


def sweep(store, clock, *, batch: int = 500) -> dict[str, int]:
    with store.session() as s:
        return sla_service.sweep(session=s, now=clock.now(), settings=store.settings, batch=batch)


def timers(session: Session, application_id: str) -> dict[str, SlaTimer]:
    return {t.kind: t for t in session.exec(select(SlaTimer).where(SlaTimer.application_id == application_id))}


def notifications(session: Session, application_id: str, prefix: str = "sla_") -> list[Notification]:
    rows = session.exec(select(Notification).where(Notification.application_id == application_id).order_by(Notification.id))
    return [n for n in rows if n.kind.startswith(prefix)]


def actions(session: Session, application_id: str) -> list[str]:
    rows = session.exec(select(CaseEvent).where(CaseEvent.application_id == application_id).order_by(CaseEvent.seq))
    return [e.action for e in rows]


def bulk_cases(session: Session, n: int, *, at: datetime, community: str = "370202001001", county: str = "370202", city: str = "370200") -> list[str]:
    """n bare cases awaiting audit in one community, each with an open audit task and its
    clock started at `at` (no timers: the caller adds the ones it needs). Fast: no flow steps."""
    ids = []
    for _ in range(n):
        key = uuid.uuid4().hex
        applicant = Applicant(id_type="resident_id", id_hash=key, id_masked="3702**********0000", name="测试", phone_masked="139****0000", phone_hash=key, created_at=at)
        app = Application(
            reference=f"T-{key[:12]}", applicant_id=applicant.id, kind="standard", channel="app",
            community_code=community, county_code=county, city_code=city, status=CaseStatus.awaiting_audit,
            submitted_at=at, updated_at=at, access_token_hash="x", sla_started_at=at, sla_due_at=at,
        )
        session.add(applicant)
        session.add(app)
        session.add(AuditTask(application_id=app.id, holder_kind="community", holder_code=community, created_at=at))
        ids.append(app.id)
    session.flush()
    return ids
