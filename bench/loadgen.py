"""A small HTTP/1.1 load generator on raw asyncio streams (keep-alive), for 127.0.0.1.

httpx costs ~0.3-0.5 ms of CPU per request on the client side, which on 2 shared cores
would be charged to the server under test; prebuilt request bytes and a minimal response
parser keep the generator cheap. Two modes:

- ``closed_loop``: C connections each send the next request when the answer arrives
  (throughput, as wrk does);
- ``open_loop``: requests are due at a fixed rate whatever happens; the latency of each is
  counted from the moment it was due (not from when a connection was free), so a
  stalled server shows in the percentiles (no coordinated omission). The generator's own
  lateness (due -> the request task running) is kept apart in ``lag_ms``, so a tail that
  the generator made shows as such.

Both run on uvloop when it is installed (uvicorn[standard] brings it) with the garbage
collector off for the run: a full collection over the growing latency list is a
several-ms pause that would land in the measured tail.
"""
from __future__ import annotations

import asyncio
import gc
import json
import time
from dataclasses import dataclass, field
from itertools import cycle
from typing import Iterable


def build(method: str, path: str, *, port: int, body: dict | bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    data = b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive", "Accept: */*"]
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Conn:
    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader and self.writer
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    offered_rate: float | None = None
    lag_ms: list[float] = field(default_factory=list)  # open loop: generator lateness per request

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        from bench.common import percentile

        return percentile(self.latencies_ms, p)


async def _closed(port: int, requests: Iterable[bytes], connections: int, duration: float, warmup: float) -> Result:
    res = Result()
    source = cycle(list(requests))
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker() -> None:
        conn = Conn(port)
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                status, _ = await conn.send(next(source))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                if t0 >= measure_from:
                    res.errors += 1
                await asyncio.sleep(0.01)
                continue
            t1 = time.perf_counter()
            if t0 >= measure_from:
                res.requests += 1
                res.latencies_ms.append((t1 - t0) * 1000)
                res.statuses[status] = res.statuses.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    res.elapsed = duration
    return res


async def _open(port: int, requests: Iterable[bytes], rate: float, duration: float, connections: int, warmup: float) -> Result:
    res = Result(offered_rate=rate)
    source = cycle(list(requests))
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Conn(port))
    total = int(rate * (duration + warmup))
    skip = int(rate * warmup)
    start = time.perf_counter() + 0.05
    tasks = []

    async def one(i: int, due: float, raw: bytes) -> None:
        if i >= skip:
            res.lag_ms.append((time.perf_counter() - due) * 1000)
        conn = await idle.get()
        try:
            status, _ = await conn.send(raw)
            ok = True
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            ok, status = False, 0
        finally:
            idle.put_nowait(conn)
        done = time.perf_counter()
        if i >= skip:
            if ok:
                res.requests += 1
                res.latencies_ms.append((done - due) * 1000)  # from when it was due
                res.statuses[status] = res.statuses.get(status, 0) + 1
            else:
                res.errors += 1

    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due, next(source))))
    await asyncio.gather(*tasks)
    res.elapsed = time.perf_counter() - (start + skip / rate)
    while not idle.empty():
        idle.get_nowait().close()
    return res


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _run(coro):
    if uvloop_available():
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    else:
        runner = asyncio.Runner()
    gc.collect()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        with runner:
            return runner.run(coro)
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


def closed_loop(port: int, requests: Iterable[bytes], *, connections: int = 32, duration: float = 5.0, warmup: float = 1.0) -> Result:
    return _run(_closed(port, requests, connections, duration, warmup))


def open_loop(port: int, requests: Iterable[bytes], *, rate: float, duration: float = 5.0, connections: int = 64, warmup: float = 1.0) -> Result:
    return _run(_open(port, requests, rate, duration, connections, warmup))


async def _fire(port: int, requests: list[bytes], connections: int) -> list[tuple[int, bytes, float]]:
    out: list[tuple[int, bytes, float] | None] = [None] * len(requests)
    todo = iter(range(len(requests)))

    async def worker() -> None:
        conn = Conn(port)
        for i in todo:
            t0 = time.perf_counter()
            status, body = await conn.send(requests[i])
            out[i] = (status, body, (time.perf_counter() - t0) * 1000)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, len(requests)) or 1)))
    return out  # type: ignore[return-value]


def fire(port: int, requests: list[bytes], *, connections: int = 8) -> list[tuple[int, bytes, float]]:
    """Send each request once (as fast as ``connections`` allow): [(status, body, ms)] in order."""
    return asyncio.run(_fire(port, requests, connections))
