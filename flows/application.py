"""One Prefect flow run per application (R14): declaration -> comparison -> audit -> pass.

Waits on a human never hold a process: the flow suspends (the run ends as Suspended) and
the dispatcher resumes it when the decision is in the store; the flow then re-runs from
the top and its idempotent tasks skip what is done."""
from __future__ import annotations

import anyio
from prefect import flow
from prefect.flow_runs import suspend_flow_run

from cases.db import session_scope
from cases.services.applications import get_application
from cases.services.workflow import waiting_on
from tasks.assign import assign_audit
from tasks.compare import compare
from tasks.declare import declare
from tasks.issue import issue_pass
from tasks.observe import open_observation


async def wait_for(case_id: str, stage: str) -> None:
    """Suspend unless the store says the stage is over; the key makes each wait happen once."""

    def pending() -> str | None:
        with session_scope() as session:
            return waiting_on(get_application(session, case_id))

    if await anyio.to_thread.run_sync(pending) == stage:
        await suspend_flow_run(timeout=None, key=stage)


@flow(name="application", flow_run_name="case-{case_id}", persist_result=False, log_prints=True)
async def application(case_id: str) -> dict:
    await declare(case_id)
    comparison = await compare(case_id)
    if await open_observation(case_id):
        await wait_for(case_id, "observation")
    await assign_audit(case_id)
    await wait_for(case_id, "audit")
    outcome = await issue_pass(case_id)
    return {"case_id": case_id, "comparison": comparison["outcome"], **outcome}
