"""One Prefect flow run per application (R14): declaration -> comparison -> audit -> pass.

Waits on a human never hold a process: the flow suspends (the run ends as Suspended) and
the dispatcher resumes it when the decision is in the store; the flow then re-runs from
the top, and every step, being idempotent against the store, skips what is done.

What each run costs the Prefect server was measured and cut (BENCHMARKS.md, intake):
- the screening steps run in the flow itself, in one store transaction, not as task runs:
  a task run costs the server three state events (~30 CPU-ms per application on the
  measured machine, more than the steps themselves), and the steps' own record is the case
  timeline; the run's log says what each step found;
- the run's name (`case-<id>`) is given when the dispatcher creates it, and the result
  storage is fixed here: otherwise each run renames itself and looks up the server's
  default storage, one request each.
"""
from __future__ import annotations

from functools import partial

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.flow_runs import suspend_flow_run
from prefect.settings import get_current_settings

from cases.clock import now
from cases.comparison.base import SourceUnavailable
from cases.events import chain_heads
from cases.services import workflow
from cases.services.applications import get_application
from cases.settings import get_settings
from tasks._store import in_store
from tasks.issue import issue_pass

COMPARISON_ATTEMPTS = 3
COMPARISON_RETRY_SECONDS = 5


def _screen(session, *, case_id: str, last_attempt: bool) -> dict:
    """Steps 1-3 up to the human, in one transaction: all of it commits or none."""
    application, at, settings = get_application(session, case_id), now(), get_settings()
    with chain_heads(session, [case_id]):  # the steps' events: one chain read, one INSERT at commit
        declared = workflow.declare(session=session, application=application, at=at)
        comparison = workflow.compare(session=session, application=application, at=at, settings=settings, accept_incomplete=last_attempt)
        audit = None
        if not workflow.open_observation(session=session, application=application, at=at, settings=settings):
            audit = workflow.assign_audit(session=session, application=application, at=at, settings=settings)
        return {"declared": declared, "comparison": comparison, "audit": audit, "waiting_on": workflow.waiting_on(application)}


async def screen(case_id: str) -> dict:
    """The signed declaration is intact (step 1), the big-data comparison runs (step 2), and
    the case is routed (step 3): arrivals to 14 days of observation (R8, R9), everyone else
    to the audit queue of their community or unit with the SLA clock started (R10, R11).

    A registry down or stale is retried; the last attempt records the comparison as
    'incomplete' for the issuer — never a silent clear (R15). Any other failure fails the
    run, and the dispatcher's outbox runs it again with back-off."""
    log = get_run_logger()
    for attempt in range(1, COMPARISON_ATTEMPTS + 1):
        try:
            routed = await in_store(partial(_screen, case_id=case_id, last_attempt=attempt == COMPARISON_ATTEMPTS))
            break
        except SourceUnavailable as exc:
            if attempt == COMPARISON_ATTEMPTS:
                raise
            log.warning("comparison attempt %d of %d: %s", attempt, COMPARISON_ATTEMPTS, exc)
            await anyio.sleep(COMPARISON_RETRY_SECONDS)
    comparison = routed["comparison"]
    log.info(
        "declared: %s v%s; compared: %s (%d hits); waiting on: %s",
        routed["declared"]["reference"], routed["declared"]["declaration_version"], comparison["outcome"], len(comparison["hits"]), routed["waiting_on"] or "nobody",
    )
    if comparison["hits"] or comparison["outcome"] != "clear":
        # Visible on the flow run in Prefect's UI; a clear case costs no extra API call.
        await acreate_table_artifact(
            table=[{k: h.get(k) for k in ("source", "source_version", "kind", "outcome", "record_key", "explanation")} for h in comparison["hits"]]
            or [{"outcome": comparison["outcome"], "sources": ", ".join(f"{s['name']}: {s['status']}" for s in comparison["sources"])}],
            description=f"Comparison of case {case_id}: {comparison['outcome']}",
        )
    return routed


@flow(
    name="application",
    persist_result=False,
    # Prefect's own default place; nothing is written there (no result is persisted).
    result_storage=get_current_settings().results.local_storage_path,
    log_prints=True,
)
async def application(case_id: str) -> dict:
    routed = await screen(case_id)
    if routed["waiting_on"]:
        # Observation (R9) or the issuer's audit; the key makes each wait happen once. A decision
        # that lands before the run is Suspended finds it Running: the dispatcher looks again.
        await suspend_flow_run(timeout=None, key=routed["waiting_on"])
    outcome = await issue_pass(case_id)
    return {"case_id": case_id, "comparison": routed["comparison"]["outcome"], **outcome}
