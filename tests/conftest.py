"""Shared fixtures: a real store on SQLite and on PostgreSQL (one database per test session,
created and dropped here), an injected clock, and the API client."""
from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel

SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_ADMIN_URL = os.environ.get("HEALTHPASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("HEALTHPASS_REQUIRE_POSTGRES") == "1"


def _pg_admin_engine():
    from cases.db import make_engine

    engine = make_engine(PG_ADMIN_URL)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _pg_available() -> bool:
    try:
        with _pg_admin_engine().connect() as c:
            c.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = f"hp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin_engine()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    from cases.db import upgrade

    upgrade(url)
    yield url
    from cases.db import reset_engine

    reset_engine()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "healthpass.db"
    url = f"sqlite:///{path}"
    from cases.db import upgrade

    upgrade(url)
    return url


def _wipe(engine) -> None:
    import cases.models  # noqa: F401

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # caseevent is append-only (triggers, migration 0002): lift them for the wipe only.
            conn.execute(text("DROP TRIGGER IF EXISTS caseevent_no_delete"))
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.execute(text("CREATE TRIGGER caseevent_no_delete BEFORE DELETE ON caseevent BEGIN SELECT RAISE(ABORT, 'caseevent is append-only (DELETE refused)'); END"))


class Store:
    def __init__(self, engine, settings, kind: str):
        self.engine, self.settings, self.kind = engine, settings, kind

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def _make_store(url: str, kind: str, data_dir: Path, monkeypatch) -> Store:
    from cases import db, settings as settings_mod
    from cases.services import passes

    monkeypatch.setenv("HEALTHPASS_DATABASE_URL", url)
    monkeypatch.setenv("HEALTHPASS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HEALTHPASS_PREFECT_API_URL", os.environ.get("PREFECT_API_URL", "http://127.0.0.1:9/api"))
    settings_mod.get_settings.cache_clear()
    db.reset_engine()
    passes.keystore.cache_clear()
    engine = db.get_engine()
    _wipe(engine)
    return Store(engine, settings_mod.get_settings(), kind)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch):
    """The case store, migrated, empty, on each database kind."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield _make_store(url, request.param, tmp_path / "var", monkeypatch)
    from cases import db

    db.reset_engine()


@pytest.fixture
def sqlite_store(sqlite_url, tmp_path, monkeypatch):
    yield _make_store(sqlite_url, "sqlite", tmp_path / "var", monkeypatch)
    from cases import db

    db.reset_engine()


@pytest.fixture
def pg_store(pg_url, tmp_path, monkeypatch):
    yield _make_store(pg_url, "postgres", tmp_path / "var", monkeypatch)
    from cases import db

    db.reset_engine()


@pytest.fixture
def clock():
    """Simulated time: a Tuesday morning in Jinan (2026-03-03 09:00 +08:00)."""
    from cases import clock as clock_mod

    frozen = clock_mod.FrozenClock(datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI))
    previous = clock_mod.get_clock()
    clock_mod.set_clock(frozen)
    yield frozen
    clock_mod.set_clock(previous)


@pytest.fixture
def seeded(store, clock):
    from cases.seed import seed

    with store.session() as session:
        seed(session, at=clock.now(), hash_key=store.settings.secret("idhash"))
        session.commit()
    return store


@pytest.fixture
def api(seeded):
    from fastapi.testclient import TestClient

    from web.main import create_app

    with TestClient(create_app()) as client:
        # The pages speak Chinese unless asked (ui/i18n.py); the suite reads their English wording,
        # so its browser asks for English. tests/ui/test_i18n.py asks for each language itself.
        client.headers["Accept-Language"] = "en"
        yield client


def login(client, username: str, password: str = "demo-pass-2026") -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# ------------------------------------------------------------------ Prefect ---
# A real Prefect server for the end-to-end tests (marked slow), on PostgreSQL when it is
# reachable (SQLite Prefect servers answer 503 under concurrency), in its own PREFECT_HOME.

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"hp-prefect-home-{os.getpid()}"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    def __init__(self, home: Path, db_url: str | None):
        self.home, self.db_url = home, db_url
        self.port = _free_port()
        self.proc = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        import subprocess
        import sys

        from ops.cli import wait_http

        from ops.prefect_server import with_server_defaults

        env = with_server_defaults(os.environ.copy())  # as `healthpass serve` runs it (its pool on PostgreSQL)
        env.update(PREFECT_HOME=str(self.home), PREFECT_API_URL=self.api_url)
        if self.db_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.db_url
        self.log = open(self.home / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_http(self.api_url + "/health", seconds=120, proc=self.proc):
            self.stop()
            raise RuntimeError(f"Prefect server did not start; see {self.home / 'server.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except Exception:
                self.proc.kill()
        self.proc = None


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect")
    db_url, db_name = None, None
    if _pg_available():
        db_name = f"hp_prefect_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with _pg_admin_engine().connect() as c:
            c.execute(text(f'CREATE DATABASE "{db_name}"'))
        db_url = "postgresql+asyncpg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + "/" + db_name
    server = PrefectServer(home, db_url)
    server.start()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        os.environ["PREFECT_API_URL"] = server.api_url
        yield server
    os.environ.pop("PREFECT_API_URL", None)
    server.stop()
    if db_name:
        with _pg_admin_engine().connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))


class WorkerThread:
    """A real healthpass worker (workers/main.py: deployments, pool, housekeeping), run in a thread
    with its own event loop, as `healthpass worker` runs it in its own process."""

    def __init__(self, name: str):
        import threading

        self.name, self.loop, self.task = name, None, None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        import asyncio

        from workers.main import run_worker

        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(run_worker(name=self.name, sweep_interval=None))
        try:
            self.loop.run_until_complete(self.task)
        except BaseException:  # noqa: BLE001 -- cancelled at the end of the test
            pass

    def start(self) -> "WorkerThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        import time

        while self.loop is None or self.task is None:
            time.sleep(0.05)
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(30)

    def run(self, coro):
        """Run a coroutine (a Prefect client read) from the test, on a loop of its own."""
        import asyncio

        return asyncio.run(coro)

    def settle(self, store=None, *, seconds: float = 90.0) -> None:
        """Until the outbox has nothing due and the pool has no run waiting to start or running."""
        import asyncio
        import time
        from datetime import datetime, timezone

        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType
        from sqlmodel import Session, select

        from cases.db import get_engine
        from cases.models import FlowDispatch

        async def busy_runs() -> int:
            async with get_client() as client:
                runs = await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]))),
                    limit=50,
                )
                now = datetime.now(timezone.utc)
                return sum(1 for r in runs if not (r.state.is_scheduled() and r.state.state_details.scheduled_time and r.state.state_details.scheduled_time > now))

        deadline = time.monotonic() + seconds
        quiet = 0
        while time.monotonic() < deadline:
            with Session(get_engine()) as session:
                owed = session.exec(select(FlowDispatch.id).where(FlowDispatch.pending == True)).first()  # noqa: E712
            quiet = quiet + 1 if owed is None and asyncio.run(busy_runs()) == 0 else 0
            if quiet >= 2:  # twice in a row: a resume may be on its way between the two reads
                return
            time.sleep(0.3)
        raise AssertionError("the worker did not settle: outbox rows or flow runs still owed")


@pytest.fixture
def worker(prefect_server):
    """One healthpass worker on the `healthpass` pool of the test's Prefect server."""
    running = WorkerThread(f"test-worker-{uuid.uuid4().hex[:6]}").start()
    yield running
    running.stop()
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the runs' logs reach this server before it stops, not a dead port later
