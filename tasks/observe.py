from prefect import task

from cases.services import workflow
from tasks._store import on_case, settings


@task(name="open_observation", retries=2, retry_delay_seconds=2, persist_result=False)
async def open_observation(case_id: str) -> bool:
    """Arrivals hold a yellow code through 14 days of observation (R8, R9)."""
    return await on_case(case_id, workflow.open_observation, settings=settings())
