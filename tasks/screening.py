"""The application's steps as Prefect tasks (R14): thin wrappers over case services, each in one
store transaction and idempotent against the store, so a retried task or a re-run flow changes
nothing that is already done. Results are not persisted: the store is the record."""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from cases.services import workflow
from tasks._store import on_case, settings

# The registries are queried again after a pause; the last attempt records the comparison as
# 'incomplete' for the issuer to see, never a silent clear (R15).
COMPARE_RETRIES = 2
COMPARE_RETRY_SECONDS = 5

_steps = dict(persist_result=False, cache_policy=NO_CACHE)


@task(name="declare", retries=2, retry_delay_seconds=2, **_steps)
async def declare(case_id: str) -> dict:
    """Step 1: the signed declaration is intact (its hash re-checked) and the case is declared."""
    return await on_case(case_id, workflow.declare)


@task(name="compare", retries=COMPARE_RETRIES, retry_delay_seconds=COMPARE_RETRY_SECONDS, **_steps)
async def compare(case_id: str) -> dict:
    """Step 2: the big-data comparison against the registries (R15). A registry down or stale
    raises SourceUnavailable and the task is retried; its last attempt records 'incomplete'."""
    last_attempt = task_run.run_count > COMPARE_RETRIES
    return await on_case(case_id, workflow.compare, settings=settings(), accept_incomplete=last_attempt)


@task(name="assign_audit", retries=2, retry_delay_seconds=2, **_steps)
async def assign_audit(case_id: str) -> dict:
    """Step 3 begins: arrivals open their 14 days of observation (R8, R9); everyone else gets an
    audit task in their community or unit, with the SLA clock started (R10, R11)."""
    return await on_case(case_id, workflow.route, settings=settings())


@task(name="record_decision", retries=2, retry_delay_seconds=2, **_steps)
async def record_decision(case_id: str) -> dict:
    """After the wait: the decision as the store has it (the issuer's, R12's auto-issue, or the
    observation's end). `decision` is None when the run was resumed with nothing decided."""
    return await on_case(case_id, workflow.decision_of)


@task(name="issue_pass", retries=2, retry_delay_seconds=2, **_steps)
async def issue_pass(case_id: str) -> dict:
    """Issue the pass the decision calls for (approve, auto-issue R12, observation R9)."""
    return await on_case(case_id, workflow.finish, settings=settings())
