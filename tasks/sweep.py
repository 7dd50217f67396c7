import anyio
from prefect import task

from cases.clock import now
from cases.db import session_scope
from cases.services import sla_service
from cases.settings import get_settings


@task(name="fire_due_timers", retries=1, retry_delay_seconds=5, persist_result=False)
async def fire_due_timers() -> dict:
    """Escalations, breaches (R13), auto-issue (R12) and observation ends whose time has come."""

    def run() -> dict:
        with session_scope() as session:
            return sla_service.sweep(session=session, now=now(), settings=get_settings())

    return await anyio.to_thread.run_sync(run)
