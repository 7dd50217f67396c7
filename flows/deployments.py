"""The deployments of healthpass on the `healthpass` work pool (deploy/prefect.yaml says the same
for `prefect deploy`). Registering is idempotent: every worker does it when it starts."""
from __future__ import annotations

from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from flows.application import application
from flows.sla_sweep import sla_sweep

POOL = "healthpass"
WORKER_TYPE = "healthpass"
CASE_TAG = "healthpass:case"
SWEEP_TAG = "healthpass:sweep"  # filter the sweep's 1,440 runs a day out of the run list with it


async def ensure_pool(name: str = POOL) -> None:
    async with get_client() as client:
        try:
            await client.read_work_pool(name)
        except ObjectNotFound:
            from workers.inprocess import HealthpassWorker

            try:
                await client.create_work_pool(WorkPoolCreate(name=name, type=WORKER_TYPE, base_job_template=HealthpassWorker.get_default_base_job_template()))
            except ObjectAlreadyExists:  # another worker created it meanwhile
                pass


async def register_deployments(*, pool: str = POOL, sweep_interval: int | None = 60) -> dict[str, UUID]:
    """Create or update both deployments on `pool`; idempotent."""
    await ensure_pool(pool)
    app_dep = await application.to_deployment(
        name="application", work_pool_name=pool, tags=[CASE_TAG],
        description="One run per case (R14): declare, compare, assign_audit, the wait, record_decision, issue_pass. Runs are created from the store's outbox.",
    )
    sweep_dep = await sla_sweep.to_deployment(
        name="sla-sweep", work_pool_name=pool, interval=sweep_interval, tags=[SWEEP_TAG],
        description="Fires due SLA timers: escalations, breaches and responsibility (R13), auto-issue (R12), observation ends.",
    )
    return {"application": await app_dep.apply(), "sla-sweep": await sweep_dep.apply()}
