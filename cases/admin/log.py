"""Append to the administration log (in the caller's transaction: the change and its event commit together)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from cases.admin.models import AdminEvent


def record_admin_event(session: Session, *, actor: str, action: str, target: str, at: datetime, data: dict[str, Any] | None = None) -> AdminEvent:
    event = AdminEvent(actor=actor, action=action, target=target, at=at, data=data or {})
    session.add(event)
    return event


def recent_events(session: Session, *, actions: tuple[str, ...] | None = None, target: str | None = None, limit: int = 50) -> list[AdminEvent]:
    query = select(AdminEvent)
    if actions:
        query = query.where(AdminEvent.action.in_(actions))
    if target is not None:
        query = query.where(AdminEvent.target == target)
    return list(session.exec(query.order_by(AdminEvent.id.desc()).limit(limit)))
