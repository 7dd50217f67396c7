"""Builders for valid declarations (relative to the simulated day)."""
from __future__ import annotations

from datetime import date


def example(kind: str, today: date) -> dict:
    from cases.declaration_schema import make_examples

    return make_examples(today)[kind]["value"]


def tamper_event(session, event_id: int, **changes) -> None:
    """Edit a case event behind the application's back, as a database administrator could:
    the append-only triggers are bypassed, so only the hash chain can tell."""
    from sqlalchemy import text

    sets = ", ".join(f"{k} = :{k}" for k in changes)
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("SET LOCAL session_replication_role = replica"))
        session.exec(text(f"UPDATE caseevent SET {sets} WHERE id = :id"), params={**changes, "id": event_id})
    else:
        session.exec(text("DROP TRIGGER caseevent_no_update"))
        session.exec(text(f"UPDATE caseevent SET {sets} WHERE id = :id"), params={**changes, "id": event_id})
        session.exec(text("CREATE TRIGGER caseevent_no_update BEFORE UPDATE ON caseevent BEGIN SELECT RAISE(ABORT, 'caseevent is append-only (UPDATE refused)'); END"))
    session.commit()
    session.expire_all()  # the session must read the edited row, not its cached copy


def to_audit(store, clock, case_id: str) -> str:
    """Run the flow's first steps (declare, compare, assign_audit) without Prefect; returns the audit task id."""
    from cases.models import Application
    from cases.services import workflow

    with store.session() as s:
        app = s.get(Application, case_id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=store.settings, accept_incomplete=True)
        task = workflow.assign_audit(session=s, application=app, at=clock.now(), settings=store.settings)
        s.commit()
        return task["task_id"]
