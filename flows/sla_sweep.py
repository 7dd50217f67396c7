"""The SLA sweep (deployment `sla-sweep`, every minute): fire the timers that are due,
then report communities without a signed-in issuer (R18), then evaluate the provincial
thresholds (R22; at most once per `threshold_check_minutes`), then roll up the trends of the
days that ended (once each) and of today (at most every 10 minutes).

One run a minute is ~1,440 runs a day: each is named `sla-sweep-<scheduled minute, Asia/Shanghai>`
and its task runs are tagged `healthpass:sweep` (the deployment puts the same tag on the flow
runs: `@flow` has no tags), so the Prefect UI can filter them out of the case runs."""
from datetime import datetime

import anyio
from prefect import flow, tags, task

from cases.clock import SHANGHAI, now
from cases.db import session_scope
from cases.services import oversight, roster, trends
from cases.settings import get_settings
from tasks.sweep import fire_due_timers


@task(name="check_roster", retries=1, retry_delay_seconds=5, persist_result=False)
async def check_roster() -> int:
    def run() -> int:
        with session_scope() as session:
            return roster.notify_gaps(session=session, at=now(), settings=get_settings())

    return await anyio.to_thread.run_sync(run)


@task(name="rollup_trends", retries=1, retry_delay_seconds=5, persist_result=False)
async def rollup_trends() -> int:
    def run() -> int:
        with session_scope() as session:
            return len(trends.rollup_pending(session=session, settings=get_settings(), now=now()))

    return await anyio.to_thread.run_sync(run)


@task(name="check_thresholds", retries=1, retry_delay_seconds=5, persist_result=False)
async def check_thresholds() -> int:
    def run() -> int:
        with session_scope() as session:
            return oversight.thresholds_if_due(session=session, now=now(), settings=get_settings())

    return await anyio.to_thread.run_sync(run)


SWEEP_TAG = "healthpass:sweep"


def sweep_run_name() -> str:
    from prefect.runtime import flow_run

    # A run made without a schedule may carry no expected start: name it by its start then.
    return run_name_for(flow_run.scheduled_start_time or now())


def run_name_for(scheduled: datetime) -> str:
    """`sla-sweep-2026-03-03 09:01`: the minute the run was scheduled for, in Asia/Shanghai (the
    wall clock the SLA rules speak), so a sweep is found by the time it covered."""
    return f"sla-sweep-{scheduled.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


# The name costs one API call per run (the engine renames the run when it starts): once a minute.
@flow(name="sla-sweep", flow_run_name=sweep_run_name, persist_result=False)
async def sla_sweep() -> dict:
    with tags(SWEEP_TAG):
        fired = await fire_due_timers()
        return {"fired": fired, "roster_gaps_notified": await check_roster(), "threshold_alerts": await check_thresholds(), "trend_days_rolled_up": await rollup_trends()}
