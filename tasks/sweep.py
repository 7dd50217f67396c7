import anyio
from prefect import task

from cases.clock import now
from cases.db import session_scope
from cases.services import sla_service
from cases.settings import get_settings
from tasks.sla_events import emit_firings


@task(name="fire_due_timers", retries=1, retry_delay_seconds=5, persist_result=False)
async def fire_due_timers() -> dict:
    """Escalations, breaches (R13), auto-issue (R12) and observation ends whose time has come;
    each SLA firing is also told to Prefect as an event (tasks/sla_events.py, best-effort)."""
    return await anyio.to_thread.run_sync(sweep_and_emit)


def sweep_and_emit() -> dict:
    """One sweep, then its events. The events of the batches that committed go out even when a
    later batch fails (the task then retries the rest); an event never goes out for a batch that
    rolled back, and a failed emission never fails the sweep."""
    firings: list[sla_service.SlaFiring] = []
    try:
        with session_scope() as session:
            return sla_service.sweep(session=session, now=now(), settings=get_settings(), fired_out=firings)
    finally:
        emit_firings(firings)
