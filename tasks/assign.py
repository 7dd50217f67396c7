from prefect import task

from cases.services import workflow
from tasks._store import on_case, settings


@task(name="assign_audit", retries=2, retry_delay_seconds=2, persist_result=False)
async def assign_audit(case_id: str) -> dict | None:
    """Step 3 begins (R14): the audit goes to the community or unit and its SLA clock starts."""
    return await on_case(case_id, workflow.assign_audit, settings=settings())
