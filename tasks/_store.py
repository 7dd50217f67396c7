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
