from prefect import task

from cases.services import workflow
from tasks._store import on_case, settings


@task(name="issue_pass", retries=2, retry_delay_seconds=2, persist_result=False)
async def issue_pass(case_id: str) -> dict:
    """Issue the pass the decision calls for (approve, auto-issue R12, observation R9)."""
    return await on_case(case_id, workflow.finish, settings=settings())
