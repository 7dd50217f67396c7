from prefect import task
from prefect.runtime import task_run

from cases.services import workflow
from tasks._store import on_case, settings

RETRIES = 2


@task(name="compare", retries=RETRIES, retry_delay_seconds=5, persist_result=False)
async def compare(case_id: str) -> dict:
    """Step 2 (R14): big-data comparison. A source down or stale makes this task retry;
    the last attempt records 'incomplete' for the issuer instead of a silent clear."""
    last_attempt = task_run.get_run_count() > RETRIES
    return await on_case(case_id, workflow.compare, settings=settings(), accept_incomplete=last_attempt)
