"""Executes application flow runs inside this long-lived process.

Why not a Prefect worker or `serve()`: both spawn one Python process per flow run
(~1.6 s each here) and an application runs at least twice (before and after its
suspension). The dispatcher creates each run from the `application` deployment (so it
shows in the Prefect UI and can be suspended), executes it in-process as an async flow,
and drains the store's outbox (`flowdispatch`): a case committed while Prefect was down
is started once Prefect answers again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Self
from uuid import UUID

import anyio
import prefect.flow_engine
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Scheduled
from sqlmodel import select

from cases.db import session_scope
from cases.models import Application, FlowDispatch
from cases.services import dispatch, heartbeat
from cases.services.workflow import waiting_on
from cases.settings import Settings, get_settings
from flows.application import application
from flows.sla_sweep import sla_sweep

log = logging.getLogger("healthpass.dispatcher")


@contextlib.contextmanager
def _no_external_suspension_watch(*_args, **_kwargs):
    yield


@contextlib.contextmanager
def lean_runs():
    """What Prefect does per deployment run that these runs do not need, switched off for
    this process (measured in BENCHMARKS.md, intake):

    - the suspension observer: for every run of a deployment the engine starts a thread
      with its own event loop and a websocket subscription to the server, and blocks the
      event loop until it is connected, so that a suspension proposed from *outside* the
      run is noticed. These runs suspend only themselves and last well under a second.
    - the heartbeat thread and its event: a run left Running by a dead dispatcher is found
      by the dispatcher itself (`Dispatcher._stale`), not by a Prefect automation.
    """
    saved = prefect.flow_engine.observe_flow_run_suspension
    prefect.flow_engine.observe_flow_run_suspension = _no_external_suspension_watch
    try:
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
    finally:
        prefect.flow_engine.observe_flow_run_suspension = saved


async def register_deployments(*, sweep_interval: int | None = 60) -> dict[str, UUID]:
    """Create or update the deployments; idempotent."""
    app_dep = await application.to_deployment(name="application", description="One run per case (R14).")
    sweep_dep = await sla_sweep.to_deployment(name="sla-sweep", interval=sweep_interval, description="Fires due SLA timers.")
    return {"application": await app_dep.apply(), "sla-sweep": await sweep_dep.apply()}


class Dispatcher:
    def __init__(self, settings: Settings | None = None, *, concurrency: int | None = None):
        self.settings = settings or get_settings()
        self.concurrency = concurrency or self.settings.dispatcher_concurrency
        self.limit = anyio.Semaphore(self.concurrency)
        self.deployments: dict[str, UUID] = {}
        self._busy: set[int] = set()
        self._next_sweep_check = 0.0
        self.heartbeat: Beating | None = None

    async def setup(self, *, sweep_interval: int | None = 60) -> None:
        self.deployments = await register_deployments(sweep_interval=sweep_interval)

    # -------------------------------------------------------------- outbox ---
    def _due_rows(self, limit: int) -> list[tuple[FlowDispatch, Application]]:
        """Due outbox rows not already being driven, each with its case (one query)."""
        with session_scope() as session:
            rows = dispatch.due(session, now=datetime.now(timezone.utc), limit=limit + len(self._busy))
            rows = [r for r in rows if r.id not in self._busy][:limit]
            cases = {a.id: a for a in session.exec(select(Application).where(Application.id.in_([r.application_id for r in rows])))} if rows else {}
            return [(r, cases[r.application_id]) for r in rows if r.application_id in cases]

    async def drain_once(self) -> int:
        """Drive due outbox rows until none is left due; returns how many were taken.

        A rolling window: more rows are read as soon as fewer are waiting than can run, so
        the concurrency slots stay full instead of emptying at the end of each batch."""
        taken = 0
        waiting = 0  # rows handed to the task group that have not got a slot yet
        more = anyio.Event()

        async def drive_row(row: FlowDispatch, case: Application) -> None:
            nonlocal waiting, more
            try:
                async with self.limit:
                    waiting -= 1
                    if waiting < self.concurrency:
                        more.set()
                    await self._drive_row(row, case)
            finally:
                self._busy.discard(row.id)

        # One Prefect client (sync and async) for the whole drain: a new client per run loads the
        # TLS trust store every time, which was half of the dispatcher's CPU (BENCHMARKS.md).
        with lean_runs(), SyncClientContext.get_or_create():
            async with AsyncClientContext.get_or_create():
                async with anyio.create_task_group() as tg:
                    while True:
                        batch = await anyio.to_thread.run_sync(self._due_rows, 64)
                        if not batch:
                            break
                        for row, case in batch:
                            self._busy.add(row.id)
                            waiting += 1
                            tg.start_soon(drive_row, row, case)
                        taken += len(batch)
                        more = anyio.Event()
                        if waiting >= self.concurrency:
                            await more.wait()
        return taken

    async def _drive_row(self, row: FlowDispatch, case: Application) -> None:
        try:
            flow_run_id, state = await self.drive(row.application_id, case=case)
            await anyio.to_thread.run_sync(self._finish_row, row.id, None, case.id, flow_run_id, state)
        except Exception as exc:  # Prefect down, network, a flow crash: retried with backoff
            log.warning("dispatch of %s failed: %s", row.application_id, exc)
            await anyio.to_thread.run_sync(self._finish_row, row.id, f"{type(exc).__name__}: {exc}")

    def _finish_row(self, row_id: int, error: str | None, case_id: str | None = None, flow_run_id: str | None = None, state: str | None = None) -> None:
        """The outbox row and the case's run id and state, in one transaction."""
        with session_scope() as session:
            at = datetime.now(timezone.utc)
            if error is None:
                dispatch.mark_done(session, dispatch_id=row_id, at=at)
            else:
                dispatch.mark_failed(session, dispatch_id=row_id, at=at, error=error)
            if case_id is not None:
                app = session.get(Application, case_id)
                app.flow_run_id, app.flow_state = flow_run_id or app.flow_run_id, state or app.flow_state
                session.add(app)

    # ---------------------------------------------------------------- runs ---
    def _case(self, case_id: str) -> Application:
        with session_scope() as session:
            return session.get(Application, case_id)

    async def drive(self, case_id: str, *, case: Application | None = None) -> tuple[str, str]:
        """Bring the case's flow run forward as far as the store allows; returns the run's id and state.
        `case`: the case as just read from the store (the outbox row's), else it is read here."""
        case = case or await anyio.to_thread.run_sync(self._case, case_id)
        async with get_client() as client:
            if case.flow_run_id is None:
                # The idempotency key makes a retried start find the run it created before, so the
                # run's id is stored only with the outcome (one transaction per run, not two).
                flow_run = await client.create_flow_run_from_deployment(
                    self.deployments["application"],
                    parameters={"case_id": case_id},
                    idempotency_key=f"case-{case_id}",
                    name=f"case-{case_id}",
                    tags=[f"community:{case.community_code}", f"kind:{case.kind}"],
                )
            else:
                flow_run = await client.read_flow_run(UUID(case.flow_run_id))

            state = flow_run.state
            if state.is_completed():
                return str(flow_run.id), state.name
            if state.is_paused():
                if waiting_on(case) is not None:
                    return str(flow_run.id), state.name  # still waiting on a human or a timer
                await client.resume_flow_run(flow_run.id)
            elif state.is_running():
                if not await self._stale(flow_run):
                    raise RuntimeError("flow run is still running; will look again")
                await client.set_flow_run_state(flow_run.id, Scheduled(), force=True)
            elif state.is_final():  # failed, crashed, cancelled: run it again, its steps are idempotent
                await client.set_flow_run_state(flow_run.id, Scheduled(), force=True)
            if not state.is_scheduled():  # its state changed above: the engine needs the new one
                flow_run = await client.read_flow_run(flow_run.id)
        return str(flow_run.id), await self._execute(flow_run)

    async def _stale(self, flow_run) -> bool:
        """A run left Running by a dispatcher that died (nobody else executes these runs)."""
        started = flow_run.state.timestamp
        return started is None or (datetime.now(timezone.utc) - started) > timedelta(minutes=5) or flow_run.id not in _RUNNING

    async def _execute(self, flow_run) -> str:
        _RUNNING.add(flow_run.id)
        try:
            state = await run_flow(application, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
            return state.name
        except Pause:
            return "Suspended"
        finally:
            _RUNNING.discard(flow_run.id)

    # --------------------------------------------------------------- sweep ---
    async def run_scheduled_sweeps(self) -> int:
        """Execute the sla-sweep runs Prefect's scheduler created, in this process."""
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.deployments["sla-sweep"]])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                    expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(timezone.utc)),
                ),
                limit=5,
            )
        for run in runs:
            await run_flow(sla_sweep, flow_run=run, parameters={}, return_type="state")
        return len(runs)

    async def run_forever(self, stop: anyio.Event | None = None) -> None:
        """Drive cases until `stop`. Prefect not answering (still starting, restarted, away) is
        waited for, never a reason to exit: the outbox keeps what is owed meanwhile."""
        stop = stop or anyio.Event()
        with Beating(self.settings) as self.heartbeat:
            while not stop.is_set():
                if not await self.wait_for_prefect(stop):
                    return
                try:
                    # Entering the client contexts checks the server's version: it fails if
                    # Prefect went away again since it answered.
                    with lean_runs(), SyncClientContext.get_or_create():
                        async with AsyncClientContext.get_or_create():
                            self.heartbeat.state = heartbeat.RUNNING
                            await self._loop(stop)
                except _PrefectAway as away:
                    log.warning("Prefect stopped answering (%s); the outbox keeps the cases until it is back", away)
                except Exception as exc:  # noqa: BLE001 -- whatever it was, wait for Prefect and go on
                    log.warning("dispatcher: %s (waiting for Prefect again)", exc)

    async def wait_for_prefect(self, stop: anyio.Event, *, log_every: float = 15.0) -> bool:
        """Until Prefect's /health answers (True) or `stop` (False); says so in the heartbeat and the log."""
        url = self._health_url()
        since, said = time.monotonic(), 0.0
        while not stop.is_set():
            if await self._prefect_answers():
                if said:
                    log.warning("Prefect answers at %s after %.0f s", url, time.monotonic() - since)
                return True
            if self.heartbeat is not None:
                self.heartbeat.state = f"waiting for Prefect at {url}"
            if time.monotonic() - since >= said:
                log.warning("waiting for Prefect at %s (%.0f s so far)", url, time.monotonic() - since)
                said += log_every
            with anyio.move_on_after(1.0):
                await stop.wait()
        return False

    def _health_url(self) -> str:
        return self.settings.effective_prefect_api_url.rstrip("/") + "/health"

    async def _prefect_answers(self) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(self._health_url())).status_code == 200
        except httpx.HTTPError:
            return False

    async def _loop(self, stop: anyio.Event) -> None:
        while True:
            try:
                if not self.deployments:
                    await self.setup()
                taken = await self.drain_once()
                if anyio.current_time() >= self._next_sweep_check:
                    self._next_sweep_check = anyio.current_time() + 5
                    await self.run_scheduled_sweeps()
            except Exception as exc:
                if not await self._prefect_answers():  # back to waiting (and saying so), not a warning a second
                    raise _PrefectAway(f"{type(exc).__name__}: {exc}") from exc
                log.warning("dispatcher loop: %s (retrying)", exc)
                self.deployments = {} if "deploy" in str(exc).lower() else self.deployments
                taken = 0
            if stop.is_set():
                return
            if not taken:
                with anyio.move_on_after(self.settings.dispatcher_poll_seconds):
                    await stop.wait()


_RUNNING: set = set()


class _PrefectAway(Exception):
    pass


class Beating:
    """The dispatcher's heartbeat row (cases.services.heartbeat), written from a thread of its
    own every few seconds, so that a long flow run or a slow store call does not look like death.
    `state` is what /healthz shows: "running", or what the dispatcher waits for."""

    def __init__(self, settings: Settings, *, every: float = heartbeat.BEAT_SECONDS, name: str = "dispatcher"):
        self.settings, self.every, self.name = settings, every, name
        self.started_at = datetime.now(timezone.utc)
        self._state = "starting"
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self._wake.set()  # a change is written at once, not at the next beat

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                with session_scope() as session:
                    heartbeat.beat(session, name=self.name, state=self._state, started_at=self.started_at, at=datetime.now(timezone.utc))
            except Exception as exc:  # noqa: BLE001 -- the store is away: /healthz says so itself; keep beating
                log.warning("heartbeat not written: %s", exc)
            self._wake.wait(self.every)
            self._wake.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    log.setLevel(logging.INFO)
    asyncio.run(Dispatcher().run_forever())
