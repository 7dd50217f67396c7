"""Run a case service in its own transaction from a Prefect task, off the event loop."""
from __future__ import annotations

from typing import Any, Callable

import anyio

from cases.clock import now
from cases.db import session_scope
from cases.services.applications import get_application
from cases.settings import get_settings


async def on_case(case_id: str, step: Callable[..., Any], **kwargs: Any) -> Any:
    def run() -> Any:
        with session_scope() as session:
            application = get_application(session, case_id)
            return step(session=session, application=application, at=now(), **kwargs)

    return await anyio.to_thread.run_sync(run)


def settings():
    return get_settings()
