"""Helpers for the oversight tests: cases through the real services at a simulated time."""
from __future__ import annotations

from sqlmodel import select

from cases.models import ProvincialAuditItem, User
from cases.services import audit
from tests.sla_store.sla_support import local, open_case, sweep  # noqa: F401  (re-exported)


def user(session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def items(session, kind: str | None = None) -> list[ProvincialAuditItem]:
    query = select(ProvincialAuditItem).order_by(ProvincialAuditItem.id)
    if kind:
        query = query.where(ProvincialAuditItem.kind == kind)
    return list(session.exec(query))


def decide(store, clock, task_id: str, action: str, username: str = "qingdao-issuer", **kw) -> None:
    with store.session() as s:
        issuer = user(s, username)
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        audit.decide(session=s, task_id=task_id, user=issuer, action=action, at=clock.now(), settings=store.settings, **kw)
        s.commit()


def breached_case(store, clock, **changes) -> tuple[str, str]:
    """A Qingdao case submitted Tue 2026-03-03 09:00 and breached at 16:30 (swept then)."""
    app_id, task_id = open_case(store, clock, **changes)
    clock.set(local("2026-03-03 16:30"))
    sweep(store, clock)
    return app_id, task_id
