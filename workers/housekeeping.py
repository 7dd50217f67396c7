"""What every healthpass worker does beside executing runs, safe with any number of workers on
any number of machines:

- drain the store's outbox: a case committed is given its flow run (created by idempotency key,
  so two workers create one run), a decided case has its Suspended run resumed;
- find runs left Running or Pending by a worker that died (its Prefect heartbeats stopped):
  Crashed, then rescheduled, so another worker runs them again (their steps are idempotent);
- reschedule a case's run that crashed before it ran: Prefect's worker marks a run Crashed when
  submitting it fails (a 503 from a busy Prefect server, its retries spent), and nothing else
  would ever run it again: the case would wait in `submitted` for ever. The first time on the next
  tick (waiting a minute made a burst on `make run` take 90 s instead of 25 s), then a minute apart;
- stop a run it is executing when it is cancelled in Prefect's UI (Cancelling), and tell the store
  about runs cancelled there, so the case's timeline says so.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from uuid import UUID

import anyio

from cases.db import session_scope
from cases.models import Application, FlowDispatch
from cases.services import dispatch
from cases.services.workflow import waiting_on
from cases.settings import get_settings

if TYPE_CHECKING:
    from workers.inprocess import HealthpassWorker

log = logging.getLogger("healthpass.worker")

DEAD_AFTER_BEATS = 3  # missed heartbeats before a worker's runs are taken for orphans
REAP_EVERY = 10.0
ORPHAN_GRACE_SECONDS = 60  # a run's state this old, with no live worker executing it, is an orphan
# Crashed before executing: Prefect's worker when submitting failed, or this module between its
# Crashed and its AwaitingRetry (the worker stopped in between).
NEVER_RAN = ("Failed to submit flow run to infrastructure", "worker ")
MAX_CRASHES = 5  # a run that keeps crashing before it runs is left Crashed, and said so
# How long one worker alone may act on a run it requeues: its re-read and two proposals take well
# under this, and a run requeued can only be an orphan again ORPHAN_GRACE_SECONDS later.
RUN_LEASE_SECONDS = 30.0
CANCEL_CHECK_EVERY = 2.0  # while this worker executes runs: are any of them Cancelling?
OUTBOX_BATCH = 32


class Housekeeper:
    def __init__(self, worker: "HealthpassWorker"):
        self.worker = worker
        self.settings = get_settings()
        self._application_deployment: UUID | None = None
        self._next_reap = 0.0
        self._next_cancel_check = 0.0
        self._cancelled_since = datetime.now(timezone.utc) - timedelta(hours=1)

    @property
    def client(self):
        return self.worker.client

    async def run(self, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                taken = 0
                try:
                    taken = await self.drain_outbox()
                    if self.worker.in_flight and time.monotonic() >= self._next_cancel_check:
                        self._next_cancel_check = time.monotonic() + CANCEL_CHECK_EVERY
                        await self.stop_cancelling()
                    if time.monotonic() >= self._next_reap:
                        self._next_reap = time.monotonic() + REAP_EVERY
                        await self.requeue_orphans()
                        await self.requeue_crashed()
                        await self.note_cancelled()
                except Exception as exc:  # noqa: BLE001 -- Prefect or the store away: the outbox keeps the work
                    log.warning("housekeeping: %s: %s (trying again)", type(exc).__name__, exc)
                    await anyio.sleep(2)
                if not taken:
                    await anyio.sleep(self.settings.dispatcher_poll_seconds)

    # -------------------------------------------------------------- outbox ---
    async def drain_outbox(self) -> int:
        rows = await anyio.to_thread.run_sync(self._claim)
        if rows:
            limit = anyio.Semaphore(8)

            async def one(row: FlowDispatch, case: Application) -> None:
                async with limit:
                    await self._handle(row, case)

            async with anyio.create_task_group() as tg:
                for row, case in rows:
                    tg.start_soon(one, row, case)
        return len(rows)

    def _claim(self) -> list[tuple[FlowDispatch, Application]]:
        with session_scope() as session:
            return dispatch.claim(session, now=datetime.now(timezone.utc), limit=OUTBOX_BATCH)

    async def _deployment(self) -> UUID:
        if self._application_deployment is None:
            self._application_deployment = (await self.client.read_deployment_by_name("application/application")).id
        return self._application_deployment

    async def _handle(self, row: FlowDispatch, case: Application) -> None:
        try:
            if case.flow_run_id is None:
                if row.action != "start":  # its start row is not done yet: resume after it
                    return await self._finish(row, retry=True)
                flow_run = await self.client.create_flow_run_from_deployment(
                    await self._deployment(),
                    parameters={"case_id": case.id},
                    idempotency_key=f"case-{case.id}",  # a second drainer, or a retry, finds this run
                    name=case.reference,
                    tags=[f"kind:{case.kind.value}", f"channel:{case.channel}", f"community:{case.community_code}"],
                )
                return await self._finish(row, case=case, flow_run_id=str(flow_run.id), state=flow_run.state.name if flow_run.state else "Scheduled")
            if row.action == "start":
                return await self._finish(row)
            flow_run = await self.client.read_flow_run(UUID(case.flow_run_id))
            state = flow_run.state
            if state.is_paused():
                if waiting_on(case) is not None:  # read with the claim: a stale row (the case is still waiting)
                    return await self._finish(row)
                await self.client.resume_flow_run(flow_run.id)
                return await self._finish(row, case=case, flow_run_id=str(flow_run.id), state="Resuming")
            if state.is_final():
                return await self._finish(row, case=case, flow_run_id=str(flow_run.id), state=state.name)
            # Scheduled, Pending or Running: it reads the decision itself, or suspends first and is
            # resumed on the next look.
            return await self._finish(row, retry=True)
        except Exception as exc:  # noqa: BLE001 -- Prefect down, network: retried with back-off
            log.warning("outbox row %s (%s of %s): %s: %s", row.id, row.action, case.reference, type(exc).__name__, exc)
            await anyio.to_thread.run_sync(self._failed, row.id, f"{type(exc).__name__}: {exc}")

    async def _finish(self, row: FlowDispatch, *, retry: bool = False, case: Application | None = None, flow_run_id: str | None = None, state: str | None = None) -> None:
        def write() -> None:
            with session_scope() as session:
                at = datetime.now(timezone.utc)
                if retry:
                    dispatch.retry_soon(session, dispatch_id=row.id, at=at)
                else:
                    dispatch.mark_done(session, dispatch_id=row.id, at=at)
                if case is not None and flow_run_id is not None:
                    dispatch.note_flow_run(session, application_id=case.id, flow_run_id=flow_run_id, state=state, at=at)

        await anyio.to_thread.run_sync(write)

    def _failed(self, row_id: int, error: str) -> None:
        with session_scope() as session:
            dispatch.mark_failed(session, dispatch_id=row_id, at=datetime.now(timezone.utc), error=error)

    # ------------------------------------------------------------- orphans ---
    async def requeue_orphans(self) -> int:
        """Runs of this pool left Running or Pending (for a minute) by a worker whose Prefect
        heartbeats stopped, or by this worker when it no longer executes them: proposed Crashed
        (saying why), then AwaitingRetry, so any worker picks them up again."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, WorkPoolFilter, WorkPoolFilterName
        from prefect.client.schemas.objects import StateType
        from prefect.states import AwaitingRetry, Crashed

        pool = self.worker._work_pool_name
        now = datetime.now(timezone.utc)
        alive = {
            w.name
            for w in await self.client.read_workers_for_work_pool(pool)
            if w.last_heartbeat_time and (now - w.last_heartbeat_time).total_seconds() < DEAD_AFTER_BEATS * (w.heartbeat_interval_seconds or 30)
        }
        alive.add(self.worker.name)
        runs = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))),
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
            limit=200,
        )
        requeued = 0
        for run in runs:
            owner = (run.labels or {}).get("prefect.worker.name")
            since = run.state.timestamp if run.state else None
            settled = since is not None and (now - since).total_seconds() >= ORPHAN_GRACE_SECONDS
            if owner == self.worker.name:
                # Ours, but not executing here: this worker lost it while Prefect was away (its
                # run loop restarted under the same name, whose heartbeats never stopped).
                if run.id in self.worker.in_flight or not settled:
                    continue
                why = f"worker {owner} no longer executes this run (it was {run.state.name}; the worker restarted its run loop)"
            elif owner in alive or not settled:
                # A fresh state under a dead worker's name is a live worker's claim of a resumed
                # run, before it puts its own name on the run: not an orphan.
                continue
            else:
                why = f"worker {owner or '(none)'} stopped sending heartbeats while this run was {run.state.name}"
            if not await self._take(run):
                continue
            crashed = await self.client.set_flow_run_state(run.id, Crashed(message=why))
            if crashed.state is None or not crashed.state.is_crashed():
                continue  # it moved on meanwhile, or another worker took care of it
            await self.client.set_flow_run_state(run.id, AwaitingRetry(scheduled_time=now, message=f"requeued by {self.worker.name}: {why}"))
            log.warning("flow run %s (%s) requeued: %s", run.name, run.id, why)
            requeued += 1
        return requeued

    async def _take(self, run) -> bool:
        """This worker alone may propose states for the run now (a lease in the store: workers on
        other machines reap on their own ticks), and the run is still in the state read in the list."""
        def lease() -> bool:
            with session_scope() as session:
                return dispatch.take_run_lease(session, flow_run_id=str(run.id), holder=self.worker.name, now=datetime.now(timezone.utc), seconds=RUN_LEASE_SECONDS)

        return await anyio.to_thread.run_sync(lease) and await self._unchanged(run)

    async def _unchanged(self, run) -> bool:
        """The run is still in the very state read in the list: another worker may have requeued
        it, and a third started it, since. Only such a run is proposed a new state."""
        current = await self.client.read_flow_run(run.id)
        return current.state is not None and run.state is not None and current.state.id == run.state.id

    async def requeue_crashed(self) -> int:
        """Case runs Crashed before they ran: rescheduled, so a worker runs them. A first crash is
        a busy moment (a burst of 503s from the embedded SQLite server), rescheduled on this tick;
        a run that crashed before waits ORPHAN_GRACE_SECONDS between tries, MAX_CRASHES in all."""
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType
        from prefect.states import AwaitingRetry, Crashed

        now = datetime.now(timezone.utc)
        runs = await self.client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[await self._deployment()])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))),
            limit=200,
        )
        requeued = 0
        for run in runs:
            state = run.state
            if not (state and (state.message or "").startswith(NEVER_RAN)):
                continue
            # Counted once, before the take: the take re-reads the run, so a crash since would refuse it.
            crashes = sum(s.is_crashed() for s in await self.client.read_flow_run_states(run.id))
            if crashes > 1 and (now - state.timestamp).total_seconds() < ORPHAN_GRACE_SECONDS:
                continue
            if not await self._take(run):  # another worker requeues it, or did since the list was read
                continue
            if crashes >= MAX_CRASHES:  # its new message no longer matches NEVER_RAN: said once
                log.error("flow run %s (%s) crashed %d times before it ran; left Crashed: %s", run.name, run.id, crashes, state.message)
                await self.client.set_flow_run_state(run.id, Crashed(message=f"left Crashed after {crashes} tries: {state.message}"), force=True)
                continue
            answer = await self.client.set_flow_run_state(run.id, AwaitingRetry(scheduled_time=now, message=f"requeued by {self.worker.name}: it crashed before it ran ({state.message})"))
            if answer.state is not None and answer.state.is_scheduled():
                log.warning("flow run %s (%s) requeued: it crashed before it ran (%s)", run.name, run.id, state.message)
                requeued += 1
        return requeued

    # ----------------------------------------------------------- cancelled ---
    async def stop_cancelling(self) -> int:
        """Runs this worker executes that Prefect's UI put in Cancelling: their scope is cancelled
        and the worker marks them Cancelled (Prefect's own worker only cancels runs not started)."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType

        ids = list(self.worker.in_flight)
        runs = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids), state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING]))),
        )
        for run in runs:
            scope = self.worker.in_flight.get(run.id)
            if scope is not None:
                self.worker.cancel_messages[run.id] = (run.state.message if run.state else None) or ""
                log.warning("flow run %s (%s) cancelled in Prefect: stopping it", run.name, run.id)
                scope.cancel()
        return len(runs)

    async def note_cancelled(self) -> int:
        """Runs cancelled in Prefect (its UI's Cancel): the case's timeline says so, once."""
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterEndTime,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        since, self._cancelled_since = self._cancelled_since, datetime.now(timezone.utc) - timedelta(seconds=2 * REAP_EVERY)
        runs = await self.client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[await self._deployment()])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLED])),
                end_time=FlowRunFilterEndTime(after_=since),
            ),
            limit=200,
        )

        def write() -> None:
            with session_scope() as session:
                for run in runs:
                    dispatch.note_flow_run(
                        session, application_id=run.parameters["case_id"], flow_run_id=str(run.id), state="Cancelled",
                        at=datetime.now(timezone.utc), message=(run.state.message if run.state else None) or None,
                    )

        if runs:
            await anyio.to_thread.run_sync(write)
        return len(runs)
