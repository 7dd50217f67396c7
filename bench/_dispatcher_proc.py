"""The dispatcher as the intake benchmark runs it: its own process (so its CPU is its
own), the real ``flows.dispatcher.Dispatcher``, with every HTTP request to the Prefect
API and every event sent over its websocket counted.

Commands on stdin, one per line; answers on stdout as ``BENCH {json}``:
  ``drain N``   drive outbox rows until N were taken (or 300 s pass)
  ``forever``   drive the outbox like ``healthpass worker`` until ``stop``
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


async def main(concurrency: int) -> None:
    _count_requests()
    from flows.dispatcher import Dispatcher

    class Counting(Dispatcher):
        def _finish_row(self, row_id: int, error: str | None, *args) -> None:
            if error:
                FAILED.append(error[:200])
            super()._finish_row(row_id, error, *args)

    d = Counting(concurrency=concurrency)
    await d.setup(sweep_interval=None)
    _say({"ready": True, "pid": os.getpid()})
    forever: asyncio.Task | None = None
    stop = anyio.Event()

    async def loop_forever() -> None:
        while not stop.is_set():
            if not await d.drain_once():
                await anyio.sleep(d.settings.dispatcher_poll_seconds)

    while True:
        line = (await anyio.to_thread.run_sync(sys.stdin.readline)).strip()
        if not line or line == "quit":
            break
        if line == "forever":
            stop = anyio.Event()
            forever = asyncio.create_task(loop_forever())
            _say({"forever": True})
            continue
        if line == "stop":
            stop.set()
            if forever:
                await forever
            _say({"stopped": True})
            continue
        if line.startswith("drain"):
            want = int(line.split()[1])
            REQUESTS.clear()
            EVENTS.clear()
            FAILED.clear()
            cpu0, t0, taken = _cpu(), time.perf_counter(), 0
            deadline = t0 + 300
            while taken < want and time.perf_counter() < deadline:
                got = await d.drain_once()
                taken += got
                if not got:
                    await anyio.sleep(0.02)
            _say({
                "taken": taken,
                "elapsed": time.perf_counter() - t0,
                "cpu_s": _cpu() - cpu0,
                "requests": dict(REQUESTS),
                "events": dict(EVENTS),
                "failed": list(FAILED),
            })


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args()
    asyncio.run(main(args.concurrency))
