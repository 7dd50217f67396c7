from prefect import task

from cases.services import workflow
from tasks._store import on_case


@task(name="declare", retries=2, retry_delay_seconds=2, persist_result=False)
async def declare(case_id: str) -> dict:
    """Step 1 (R14): the applicant's signed statement is on file and intact."""
    return await on_case(case_id, workflow.declare)
