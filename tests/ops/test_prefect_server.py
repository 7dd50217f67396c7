"""The embedded Prefect server (ops/prefect_server.py) on SQLite: writes queue instead of colliding,
and a 503 that still happens carries a short Retry-After, so Prefect's client retries within a
second instead of after 2, 4, 8 s (issue 15, the embedded default's intake; R14: the flow runs
that carry every case)."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from ops.prefect_server import RETRY_AFTER_SECONDS, OneWriterAtATime, RetrySoonWhenBusy, is_sqlite


def _app(status: int, headers: list[tuple[bytes, bytes]] | None = None):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": headers or []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def _get(app) -> httpx.Response:
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://prefect") as client:
            return await client.get("/api/flow_runs/x")

    return asyncio.run(go())


def test_r14_a_busy_answer_says_retry_within_a_second():
    for _ in range(20):
        answer = _get(RetrySoonWhenBusy(_app(503)))
        assert answer.status_code == 503
        assert RETRY_AFTER_SECONDS[0] <= float(answer.headers["retry-after"]) <= RETRY_AFTER_SECONDS[1]


@pytest.mark.parametrize("status", [200, 201, 404, 409, 500])
def test_r14_other_answers_pass_unchanged(status):
    assert "retry-after" not in _get(RetrySoonWhenBusy(_app(status))).headers


def test_r14_a_retry_after_prefect_set_is_kept():
    answer = _get(RetrySoonWhenBusy(_app(503, [(b"retry-after", b"30")])))
    assert answer.headers.get_list("retry-after") == ["30"]


def test_r14_prefect_client_waits_what_the_header_says():
    """Prefect's own HTTP client, as the worker's runs use it: the second try comes after the
    header's delay (its default back-off would wait at least 1.6 s), and returns the second answer."""
    from prefect.client.base import PrefectHttpxAsyncClient

    tries: list[float] = []

    async def flaky(scope, receive, send):
        tries.append(asyncio.get_running_loop().time())
        await send({"type": "http.response.start", "status": 503 if len(tries) == 1 else 200, "headers": []})
        await send({"type": "http.response.body", "body": b"true"})

    async def go():
        app = RetrySoonWhenBusy(flaky, seconds=(0.05, 0.05))
        async with PrefectHttpxAsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://prefect/api") as client:
            return await client.get("/health")

    answer = asyncio.run(go())
    assert answer.status_code == 200 and len(tries) == 2
    assert tries[1] - tries[0] < 1.0


@pytest.mark.parametrize(("url", "wrapped"), [(None, True), ("sqlite+aiosqlite:////tmp/prefect.db", True), ("postgresql+asyncpg://postgres@127.0.0.1/prefect", False)])
def test_r14_only_a_sqlite_server_is_told_to_retry_soon(url, wrapped):
    # On PostgreSQL a 503 means the database is away: Prefect's own back-off is the right one.
    assert is_sqlite(url) is wrapped


def test_r14_writes_pass_one_at_a_time_and_reads_freely():
    """SQLite takes one writer: the embedded server queues mutating requests instead of letting
    them collide into 503s; reads (and the health probe) are not held behind them."""
    inside = {"now": 0, "most": 0}

    async def slow(scope, receive, send):
        inside["now"] += 1
        inside["most"] = max(inside["most"], inside["now"])
        await asyncio.sleep(0.02)
        inside["now"] -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def go(method: str) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=OneWriterAtATime(slow)), base_url="http://prefect") as client:
            answers = await asyncio.gather(*(client.request(method, f"/api/flow_runs/{i}/set_state") for i in range(10)))
        assert {a.status_code for a in answers} == {200}
        most, inside["most"] = inside["most"], 0
        return most

    assert asyncio.run(go("POST")) == 1
    assert asyncio.run(go("PATCH")) == 1
    assert asyncio.run(go("GET")) == 10


def _sessions(db_name: str) -> int:
    from sqlalchemy import text

    from tests.conftest import _pg_admin_engine

    with _pg_admin_engine().connect() as c:
        return int(c.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = :d"), {"d": db_name}).scalar())


@pytest.mark.slow
@pytest.mark.postgres
def test_r14_serves_prefect_on_postgresql_without_a_new_connection_per_burst(tmp_path, monkeypatch):
    """`healthpass serve`'s Prefect server on PostgreSQL, under bursts of 16 concurrent requests (a
    worker at limit 8 and its runs): after the first burst it opens no more database sessions. With
    Prefect's default pool (5 kept, up to 10 more closed as they come back) every burst opened new
    ones, and each new backend's start-up cost PostgreSQL more CPU than the application's own steps."""
    import os
    import subprocess
    import sys
    import uuid

    from sqlalchemy import text

    from ops.cli import prefect_env, wait_http
    from tests.conftest import PG_ADMIN_URL, _free_port, _pg_admin_engine, _pg_available

    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    db_name = f"hp_pool_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _pg_admin_engine().connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    port = _free_port()
    for name in ("PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE", "PREFECT_SQLALCHEMY_POOL_SIZE", "PREFECT_API_URL", "HEALTHPASS_PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEALTHPASS_PREFECT_PORT", str(port))
    monkeypatch.setenv("HEALTHPASS_DATA_DIR", str(tmp_path / "var"))
    from cases.settings import get_settings

    get_settings.cache_clear()
    env = prefect_env(get_settings()) | {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + "/" + db_name,
    }
    get_settings.cache_clear()
    api = f"http://127.0.0.1:{port}/api"
    with open(tmp_path / "prefect.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ops.prefect_server", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_http(api + "/health", seconds=180, proc=proc), (tmp_path / "prefect.log").read_text()[-3000:]

        async def burst(client: httpx.AsyncClient) -> None:
            answers = await asyncio.gather(*(client.post(f"{api}/{kind}/filter", json={"limit": 50}) for kind in ("flow_runs", "deployments", "task_runs", "work_pools") for _ in range(4)))
            assert {a.status_code for a in answers} == {200}

        async def bursts(n: int) -> None:
            async with httpx.AsyncClient(timeout=60) as client:
                for _ in range(n):
                    await burst(client)

        asyncio.run(bursts(3))  # the pool grows to what a burst needs
        before = _sessions(db_name)
        asyncio.run(bursts(10))
        assert _sessions(db_name) - before <= 2  # a straggler, not a connection per burst
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        with _pg_admin_engine().connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
