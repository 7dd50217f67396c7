"""The outbox of orchestration work: rows committed with the case, drained by the healthpass workers."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from cases.models import Application, FlowDispatch, RunLease


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


def claim(session: Session, *, now: datetime, limit: int, lease_seconds: float = 30.0) -> list[tuple[FlowDispatch, Application]]:
    """Take up to `limit` due rows for this drainer, each with its case, and commit the claim.

    Any number of drainers may run at once, on any machine: on PostgreSQL rows another drainer
    is claiming are skipped (`SKIP LOCKED`), and everywhere a row is claimed by a conditional
    UPDATE that moves it out of the due range for `lease_seconds` — a drainer that dies with it
    leaves it to the next once the lease runs out (its work, a run created by idempotency key or
    a resume of a Suspended run, is safe to do twice)."""
    query = (
        select(FlowDispatch.id)
        .where(FlowDispatch.pending == True, FlowDispatch.next_attempt_at <= now)  # noqa: E712
        .order_by(FlowDispatch.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.exec(query))
    if not ids:
        session.commit()
        return []
    claimed = [
        row_id
        for (row_id,) in session.execute(
            update(FlowDispatch)
            .where(FlowDispatch.id.in_(ids), FlowDispatch.pending == True, FlowDispatch.next_attempt_at <= now)  # noqa: E712
            .values(next_attempt_at=now + timedelta(seconds=lease_seconds))
            .returning(FlowDispatch.id)
        )
    ]
    session.commit()
    if not claimed:
        return []
    rows = list(session.exec(select(FlowDispatch).where(FlowDispatch.id.in_(claimed))))
    cases = {a.id: a for a in session.exec(select(Application).where(Application.id.in_([r.application_id for r in rows])))}
    return [(r, cases[r.application_id]) for r in rows if r.application_id in cases]


def take_run_lease(session: Session, *, flow_run_id: str, holder: str, now: datetime, seconds: float) -> bool:
    """True when `holder` alone may act on the flow run for `seconds`: the lease is new, its own,
    or run out. One statement, so of two workers asking at once (any machines) one gets it."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = insert(RunLease).values(flow_run_id=flow_run_id, holder=holder, expires_at=now + timedelta(seconds=seconds))
    taken = session.execute(
        values.on_conflict_do_update(
            index_elements=[RunLease.flow_run_id],
            set_={"holder": values.excluded.holder, "expires_at": values.excluded.expires_at},
            where=(RunLease.expires_at <= now) | (RunLease.holder == holder),
        ).returning(RunLease.flow_run_id)
    ).first() is not None  # a row back: inserted, or taken over
    session.execute(delete(RunLease).where(RunLease.expires_at < now - timedelta(hours=1)))  # kept small
    session.commit()
    return taken


def retry_soon(session: Session, *, dispatch_id: int, at: datetime, seconds: float = 2.0) -> None:
    """Not an error: the run is not where the row can act yet (still running toward its wait)."""
    row = session.get(FlowDispatch, dispatch_id)
    if row and row.pending:
        row.next_attempt_at = at + timedelta(seconds=seconds)
        session.add(row)


def note_flow_run(session: Session, *, application_id: str, flow_run_id: str, state: str, at: datetime, message: str | None = None) -> None:
    """The case's Prefect run and its last known state. A run cancelled in Prefect is said on the
    case's timeline once: the case waits for an operator to Retry it there."""
    from cases.events import record_event

    application = session.get(Application, application_id)
    if application is None:
        return
    before = application.flow_state
    application.flow_run_id, application.flow_state = flow_run_id, state
    session.add(application)
    if state == "Cancelled" and before != "Cancelled":
        record_event(
            session, application_id=application_id, actor="prefect", action="flow_run_cancelled", at=at,
            reason=message or "the case's flow run was cancelled in Prefect; Retry it there to go on",
            data={"flow_run_id": flow_run_id},
        )
