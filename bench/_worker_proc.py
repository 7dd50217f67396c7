"""The healthpass worker as the intake benchmark runs it: its own process (so its CPU is its
own), the real ``workers.inprocess.HealthpassWorker`` on the ``healthpass`` pool (deployments
registered as ``workers.main.run_worker`` does), with every HTTP request to the Prefect API and
every event sent over its websocket counted.

The worker polls the pool from the start; its housekeeping (``workers.housekeeping.Housekeeper``,
which turns the store's outbox into flow runs) runs only when told, so applications POSTed
before an order wait in the outbox as a backlog.

Commands on stdin, one per line; answers on stdout as ``BENCH {json}``:
  ``drain N``   drain the outbox until N flow runs were executed to their end or their
                suspension in this process (or 300 s pass)
  ``forever``   drain the outbox like ``healthpass worker`` until ``stop``
  ``stop``      end ``forever``
  ``quit``
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import time
from collections import Counter

import anyio
import httpx

REQUESTS: Counter = Counter()
EVENTS: Counter = Counter()
FAILED: list[str] = []
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _route(request: httpx.Request) -> str:
    path = _ID.sub("{id}", request.url.path)
    return f"{request.method} {path.split('/api', 1)[-1]}"


def _count_requests() -> None:
    send_async, send_sync = httpx.AsyncClient.send, httpx.Client.send

    async def counted_async(self, request, **kw):
        REQUESTS[_route(request)] += 1
        return await send_async(self, request, **kw)

    def counted_sync(self, request, **kw):
        REQUESTS[_route(request)] += 1
        return send_sync(self, request, **kw)

    httpx.AsyncClient.send = counted_async  # type: ignore[method-assign]
    httpx.Client.send = counted_sync  # type: ignore[method-assign]
    try:
        from prefect.events.clients import PrefectEventsClient

        emit = PrefectEventsClient._emit

        async def counted_emit(self, event):
            EVENTS[event.event] += 1
            return await emit(self, event)

        PrefectEventsClient._emit = counted_emit  # type: ignore[method-assign]
    except Exception:  # pragma: no cover - a Prefect without this client
        pass


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _say(payload: dict) -> None:
    sys.stdout.write("BENCH " + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


async def main(concurrency: int, *, shared_observer: bool = True) -> None:
    _count_requests()
    from prefect.settings import PREFECT_WORKER_QUERY_SECONDS, temporary_settings

    from cases.settings import get_settings
    from flows.deployments import POOL, register_deployments
    from workers.housekeeping import Housekeeper
    from workers.inprocess import HealthpassWorker

    class CountingHousekeeper(Housekeeper):
        def _failed(self, row_id: int, error: str) -> None:
            FAILED.append(error[:200])
            super()._failed(row_id, error)

    settings = get_settings()
    poll = float(os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "0.5"))
    with temporary_settings(updates={PREFECT_WORKER_QUERY_SECONDS: poll}):
        await register_deployments(pool=POOL, sweep_interval=None)
        worker = HealthpassWorker(POOL, housekeeping=False, shared_suspension_observer=shared_observer, limit=concurrency, heartbeat_interval_seconds=settings.worker_heartbeat_seconds)
        started = anyio.Event()

        def printer(*args, **_kw) -> None:
            _log(*args)
            if args and "started!" in str(args[0]):
                started.set()

        running = asyncio.create_task(worker.start(printer=printer))
        with anyio.fail_after(120):
            while not started.is_set():
                if running.done():
                    running.result()  # raises what stopped it
                await anyio.sleep(0.05)
        _say({"ready": True, "pid": os.getpid(), "worker": worker.name, "limit": concurrency, "query_seconds": poll})

        keeping: asyncio.Task | None = None
        scope = anyio.CancelScope()

        def keep_house() -> asyncio.Task:
            nonlocal scope
            scope = anyio.CancelScope()
            return asyncio.create_task(CountingHousekeeper(worker).run(scope))

        async def stop_keeping() -> None:
            nonlocal keeping
            if keeping is not None:
                scope.cancel()
                await keeping
                keeping = None

        while True:
            line = (await anyio.to_thread.run_sync(sys.stdin.readline)).strip()
            if not line or line == "quit":
                break
            if line == "forever":
                keeping = keep_house()
                _say({"forever": True})
                continue
            if line == "stop":
                await stop_keeping()
                _say({"stopped": True})
                continue
            if line.startswith("drain"):
                want = int(line.split()[1])
                REQUESTS.clear()
                EVENTS.clear()
                FAILED.clear()
                seen = len(worker.executed)
                cpu0, t0 = _cpu(), time.perf_counter()
                deadline = t0 + 300
                keeping = keep_house()
                while len(worker.executed) - seen < want and time.perf_counter() < deadline:
                    await anyio.sleep(0.01)
                elapsed = time.perf_counter() - t0
                await stop_keeping()
                done = worker.executed[seen:]
                states = Counter(state for _, state in done)
                FAILED.extend(f"{run_id}: {state}" for run_id, state in done if state not in ("Suspended", "Completed"))
                _say({
                    "taken": len(done),
                    "elapsed": elapsed,
                    "cpu_s": _cpu() - cpu0,
                    "states": dict(states),
                    "requests": dict(REQUESTS),
                    "events": dict(EVENTS),
                    "failed": list(FAILED),
                })
        await stop_keeping()
        running.cancel()
        try:
            await running
        except BaseException:  # noqa: BLE001 -- cancelled on the way out
            pass


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--concurrency", type=int, default=4, help="the worker's limit (flow runs at once)")
    p.add_argument("--per-run-observer", action="store_true", help="Prefect's suspension observer per run, not the worker's one (the A/B of bench/intake.py)")
    args = p.parse_args()
    asyncio.run(main(args.concurrency, shared_observer=not args.per_run_observer))
