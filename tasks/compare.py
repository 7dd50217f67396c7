from prefect import task
from prefect.artifacts import acreate_table_artifact
from prefect.runtime import task_run

from cases.services import workflow
from tasks._store import on_case, settings

RETRIES = 2


@task(name="compare", retries=RETRIES, retry_delay_seconds=5, persist_result=False)
async def compare(case_id: str) -> dict:
    """Step 2 (R14): big-data comparison. A source down or stale makes this task retry;
    the last attempt records 'incomplete' for the issuer instead of a silent clear."""
    last_attempt = task_run.get_run_count() > RETRIES
    result = await on_case(case_id, workflow.compare, settings=settings(), accept_incomplete=last_attempt)
    if result["hits"] or result["outcome"] != "clear":
        # Visible on the flow run in Prefect's UI; a clear case costs no extra API call.
        await acreate_table_artifact(
            table=[{k: h.get(k) for k in ("source", "source_version", "kind", "outcome", "record_key", "explanation")} for h in result["hits"]]
            or [{"outcome": result["outcome"], "sources": ", ".join(f"{s['name']}: {s['status']}" for s in result["sources"])}],
            description=f"Comparison of case {case_id}: {result['outcome']}",
        )
    return result
