"""One Prefect flow run per application (R14): declare -> compare -> assign_audit, the wait for
a human, then record_decision -> issue_pass. Each step is a Prefect task with its own retries.

A wait on a human never holds a process: the flow suspends (the run ends as Suspended, its
worker slot freed) and is resumed when the decision is in the store; a resumed run starts from
the top, and the store says which steps are done, so they are not executed again (the first
execution's task runs stay on the run). The store is the source of truth: a Resume pressed in
Prefect's UI with no decision in the store is refused by the run itself, which says why in its
log and waits again.
"""
from __future__ import annotations

from uuid import uuid4

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.artifacts import acreate_table_artifact
from prefect.flow_runs import suspend_flow_run
from prefect.settings import get_current_settings

from tasks._store import case_progress
from tasks.screening import assign_audit, compare, declare, issue_pass, record_decision


async def _comparison_artifact(case_id: str, comparison: dict) -> None:
    if comparison["hits"] or comparison["outcome"] != "clear":
        # Visible on the flow run in Prefect's UI; a clear case costs no extra API call.
        await acreate_table_artifact(
            table=[{k: h.get(k) for k in ("source", "source_version", "kind", "outcome", "record_key", "explanation")} for h in comparison["hits"]]
            or [{"outcome": comparison["outcome"], "sources": ", ".join(f"{s['name']}: {s['status']}" for s in comparison["sources"])}],
            description=f"Comparison of case {case_id}: {comparison['outcome']}",
        )


async def _wait_for(what: str) -> None:
    """Suspend until resumed. A fresh key each time: Prefect skips a suspension whose key it has
    seen, and a run resumed without a decision must really wait again."""
    await suspend_flow_run(timeout=None, key=f"{what}-{uuid4().hex[:12]}")


def _was_suspended() -> bool:
    """This execution follows a suspension of the same run (a Resume, or a Retry after one)."""
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.empirical_policy.pause_keys)


@flow(
    name="application",
    persist_result=False,
    # Prefect's own default place; nothing is written there (no result is persisted).
    result_storage=get_current_settings().results.local_storage_path,
    retries=2,
    retry_delay_seconds=10,
)
async def application(case_id: str) -> dict:
    log = get_run_logger()
    progress = await case_progress(case_id)
    if not progress["screened"]:
        declared = await declare(case_id)
        comparison = await compare(case_id)
        await _comparison_artifact(case_id, comparison)
        log.info("declared: %s v%s; compared: %s (%d hits)", declared["reference"], declared["declaration_version"], comparison["outcome"], len(comparison["hits"]))
    else:
        log.info("%s is %s: declaration and comparison are done (see the first execution's task runs)", progress["reference"], progress["status"])
    waiting_on = progress["waiting_on"]
    if not progress["routed"]:
        # Also an arrival whose observation ended in audit (R9): its audit task is assigned now.
        waiting_on = (await assign_audit(case_id))["waiting_on"]
    if waiting_on:
        if _was_suspended():
            log.warning(
                "Resume refused: the store has no decision for this case (it still waits on %s). "
                "The run waits again; it is resumed when the case is decided in healthpass.", waiting_on,
            )
        log.info("waiting on: %s", waiting_on)
        await _wait_for(waiting_on)  # the run ends here as Suspended; a resume starts it from the top
    decided = await record_decision(case_id)
    issued = await issue_pass(case_id)
    log.info("decision: %s; pass: %s", decided["decision"], issued["colour"] or "none")
    return {"case_id": case_id, **issued}
