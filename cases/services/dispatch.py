"""The outbox of orchestration work: rows committed with the case, drained by the dispatcher."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from cases.models import FlowDispatch


def enqueue(session: Session, *, application_id: str, action: str, at: datetime, new_case: bool = False) -> FlowDispatch:
    """Ask for a flow run to be started or resumed. Idempotent: one pending row per (case, action)."""
    existing = None if new_case else session.exec(
        select(FlowDispatch).where(
            FlowDispatch.application_id == application_id,
            FlowDispatch.action == action,
            FlowDispatch.pending == True,  # noqa: E712
        )
    ).first()
    if existing:
        return existing
    row = FlowDispatch(application_id=application_id, action=action, created_at=at, next_attempt_at=at)
    session.add(row)
    if not new_case:
        session.flush()
    return row


def due(session: Session, *, now: datetime, limit: int) -> list[FlowDispatch]:
    return list(
        session.exec(
            select(FlowDispatch)
            .where(FlowDispatch.pending == True, FlowDispatch.next_attempt_at <= now)  # noqa: E712
            .order_by(FlowDispatch.next_attempt_at)
            .limit(limit)
        )
    )


def mark_done(session: Session, *, dispatch_id: int, at: datetime) -> None:
    row = session.get(FlowDispatch, dispatch_id)
    if row and row.pending:
        row.pending = False
        row.done_at = at
        session.add(row)


def mark_failed(session: Session, *, dispatch_id: int, at: datetime, error: str) -> None:
    """Back off (capped at 60 s) so a Prefect outage is retried, not lost."""
    row = session.get(FlowDispatch, dispatch_id)
    if row and row.pending:
        row.attempts += 1
        row.last_error = error[:500]
        row.next_attempt_at = at + timedelta(seconds=min(60, 2 ** min(row.attempts, 6)))
        session.add(row)
