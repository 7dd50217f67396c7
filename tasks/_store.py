"""Run case services in one store transaction from a Prefect task, off the event loop."""
from __future__ import annotations

from typing import Any, Callable

import anyio

from cases.clock import now
from cases.db import session_scope
from cases.services.applications import get_application
from cases.settings import get_settings


async def in_store(steps: Callable[..., Any]) -> Any:
    """`steps(session)` in one transaction: all of it commits, or none (then the task retries)."""

    def run() -> Any:
        with session_scope() as session:
            return steps(session)

    return await anyio.to_thread.run_sync(run)


async def on_case(case_id: str, step: Callable[..., Any], **kwargs: Any) -> Any:
    return await in_store(lambda session: step(session=session, application=get_application(session, case_id), at=now(), **kwargs))


def settings():
    return get_settings()


async def case_progress(case_id: str) -> dict:
    """What the store says is done (one short read; not a task: it changes nothing)."""
    from sqlmodel import select

    from cases.models import AuditTask, ComparisonRecord
    from cases.services import workflow

    def read(session) -> dict:
        application = get_application(session, case_id)
        has_comparison = session.exec(select(ComparisonRecord.id).where(ComparisonRecord.application_id == application.id)).first() is not None
        has_task = session.exec(select(AuditTask.id).where(AuditTask.application_id == application.id)).first() is not None
        return workflow.progress(application, has_comparison=has_comparison, has_audit_task=has_task)

    return await in_store(read)
