"""The case timeline: append-only events, hash-chained per case so an edit is detectable."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session, func, select

from cases.models import CaseEvent

GENESIS = "0" * 64


def _digest(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _body(event: CaseEvent) -> dict[str, Any]:
    return {
        "application_id": event.application_id,
        "seq": event.seq,
        "at": event.at.astimezone(timezone.utc).isoformat(),  # as the store gives it back
        "actor": event.actor,
        "action": event.action,
        "reason": event.reason,
        "before": event.before,
        "after": event.after,
        "data": event.data,
    }


def record_event(
    session: Session,
    *,
    application_id: str,
    actor: str,
    action: str,
    at: datetime,
    reason: str | None = None,
    before: str | None = None,
    after: str | None = None,
    data: dict[str, Any] | None = None,
    first: bool = False,
) -> CaseEvent:
    """Append an event in the caller's transaction (state change and event commit together).
    `first=True` for a case created in this transaction: there is nothing to chain to yet."""
    last = None if first else session.exec(
        select(CaseEvent).where(CaseEvent.application_id == application_id).order_by(CaseEvent.seq.desc()).limit(1)
    ).first()
    seq = (last.seq + 1) if last else 1
    event = CaseEvent(
        application_id=application_id,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        reason=reason,
        before=before,
        after=after,
        data=data or {},
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    event.hash = _digest(event.prev_hash, _body(event))
    session.add(event)
    if not first:
        session.flush()  # the next event of this transaction must see this one
    return event


def verify_chain(session: Session, application_id: str | None = None) -> list[str]:
    """Return the problems found (empty = intact)."""
    problems: list[str] = []
    query = select(CaseEvent).order_by(CaseEvent.application_id, CaseEvent.seq)
    if application_id:
        query = query.where(CaseEvent.application_id == application_id)
    prev: dict[str, str] = {}
    for event in session.exec(query):
        expected_prev = prev.get(event.application_id, GENESIS)
        if event.prev_hash != expected_prev:
            problems.append(f"{event.application_id}#{event.seq}: chain broken (prev hash differs)")
        if _digest(event.prev_hash, _body(event)) != event.hash:
            problems.append(f"{event.application_id}#{event.seq}: content altered (hash mismatch)")
        prev[event.application_id] = event.hash
    return problems


def timeline(session: Session, application_id: str) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.application_id == application_id).order_by(CaseEvent.seq)))


def count(session: Session, application_id: str) -> int:
    return session.exec(select(func.count()).select_from(CaseEvent).where(CaseEvent.application_id == application_id)).one()
