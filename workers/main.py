"""`healthpass worker`: one healthpass worker on the `healthpass` pool, as
`prefect worker start --pool healthpass --type healthpass` would start it, plus what a newcomer
needs: it waits for Prefect to answer, registers the deployments, and beats in the store for
/healthz. Any number may run, on any number of machines."""
from __future__ import annotations

import asyncio
import logging
import os
import time

import httpx

from cases.settings import get_settings
from workers.heartbeat import Beating
from workers.inprocess import HealthpassWorker, default_name

log = logging.getLogger("healthpass.worker")


async def wait_for_prefect(beating: Beating, *, log_every: float = 15.0) -> None:
    """Until Prefect's /health answers; says so in the heartbeat and the log (never exits)."""
    url = get_settings().effective_prefect_api_url.rstrip("/") + "/health"
    since, said = time.monotonic(), 0.0
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            beating.state = f"waiting for Prefect at {url}"
            if time.monotonic() - since >= said:
                log.warning("waiting for Prefect at %s (%.0f s so far)", url, time.monotonic() - since)
                said += log_every
            await asyncio.sleep(1)


async def run_worker(*, name: str | None = None, limit: int | None = None, sweep_interval: int | None = 60) -> None:
    from prefect.settings import PREFECT_WORKER_QUERY_SECONDS, temporary_settings

    from flows.deployments import POOL, register_deployments

    settings = get_settings()
    name = name or default_name()
    # A run created from a case waits for the next poll: Prefect's default is 10 s.
    poll = float(os.environ.get("PREFECT_WORKER_QUERY_SECONDS", settings.worker_poll_seconds))
    with Beating(name=f"worker:{name}") as beating, temporary_settings(updates={PREFECT_WORKER_QUERY_SECONDS: poll}):
        while True:
            await wait_for_prefect(beating)
            try:
                await register_deployments(pool=POOL, sweep_interval=sweep_interval)
                beating.state = "running"
                worker = HealthpassWorker(POOL, name=name, limit=limit or settings.dispatcher_concurrency, heartbeat_interval_seconds=settings.worker_heartbeat_seconds)
                await worker.start()
            except Exception as exc:  # noqa: BLE001 -- Prefect went away again: wait for it, never exit
                log.warning("worker: %s: %s (waiting for Prefect again)", type(exc).__name__, exc)
                await asyncio.sleep(1)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(run_worker())
