"""The SLA sweep (deployment `sla-sweep`, every minute): fire the timers that are due."""
from prefect import flow

from tasks.sweep import fire_due_timers


@flow(name="sla-sweep", persist_result=False)
async def sla_sweep() -> dict:
    return await fire_due_timers()
