"""The `healthpass` worker type: a Prefect worker that executes flow runs inside its own
long-lived process.

Prefect's process worker spawns a Python process per flow run (~1.6 s here), and an application
runs at least twice (before its wait and after it). This worker polls the work pool like any
Prefect worker — so Prefect claims each run for one worker, applies the pool's and the worker's
concurrency limits (a Suspended run holds no slot), marks late runs, records worker heartbeats,
and lets any worker pick up a resumed run — but runs the flow in-process with Prefect's own
engine. Beside the polling it keeps house (workers/housekeeping.py): it drains the store's outbox
into flow runs and resumes, and it finds runs left by a worker that died.

One thing it does not take from Prefect per run: for every run of a deployment, Prefect's engine
starts a suspension observer of its own — a thread, an event loop, a client and an events
websocket (with its backfill query on the server) — to notice a Suspend requested from outside
while the run executes. Here the worker keeps one such observer (Prefect's
`FlowRunSuspendingObserver`, which watches any number of runs) for all the runs in its process;
an external Suspend still stops a run at its next task (BENCHMARKS.md: 1.28x intake against Prefect's
per-run observer, measured in the same benchmark run).
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import socket
from typing import Any
from uuid import UUID

import anyio
import anyio.abc
from prefect.client.schemas.objects import FlowRun
from prefect.workers.base import BaseJobConfiguration, BaseVariables, BaseWorker, BaseWorkerResult

log = logging.getLogger("healthpass.worker")

# The flows a healthpass deployment may run: by deployment name, imported on first use (Prefect's
# server and CLI import this module to discover the worker type; they need none of this).
FLOWS = {"application": "flows.application:application", "sla-sweep": "flows.sla_sweep:sla_sweep"}


class SuspensionIsNotAnError(logging.Filter):
    """Prefect's engine logs every run that ends not Completed at ERROR, a Suspended one too. Here
    a suspension is the flow waiting for a human, as designed: said at INFO, on Prefect's run
    logger (a standard logging filter, so the run's log in Prefect's UI reads the same)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith("Finished in state Suspended"):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_SUSPENSION_FILTER = SuspensionIsNotAnError()


@functools.cache
def _engine_class() -> type:
    """Prefect's engine for async flows, whose run's suspension watch is the worker's observer."""
    from prefect._flow_run_suspension import register_flow_run_suspension_request
    from prefect.flow_engine import AsyncFlowRunEngine

    class WatchedByTheWorker(AsyncFlowRunEngine):
        suspended_early: dict  # the worker's: suspensions seen before this engine registered

        @contextlib.contextmanager
        def setup_flow_run_suspension_request(self):
            # Prefect's, minus `observe_flow_run_suspension` (a thread and a websocket per run): the
            # request is registered where the worker's observer marks it.
            request = self._get_flow_run_suspension_request()
            with register_flow_run_suspension_request(self.flow_run.id, request):
                if (state := self.suspended_early.pop(self.flow_run.id, None)) is not None:
                    request.mark_requested(state)
                request.raise_if_requested()
                yield request

    return WatchedByTheWorker


class HealthpassJobConfiguration(BaseJobConfiguration):
    """Nothing to template: the run executes in the worker's process, with the worker's settings."""


class HealthpassVariables(BaseVariables):
    pass


class HealthpassWorkerResult(BaseWorkerResult):
    """The run's final (or Suspended) state name, for the worker's log."""

    state: str = ""


def default_name() -> str:
    # Unique per process: a restarted worker is a new worker, and the old one's runs are found by
    # its missing heartbeats (workers/housekeeping.py).
    return f"healthpass-{socket.gethostname()}-{os.getpid()}"


class HealthpassWorker(BaseWorker[HealthpassJobConfiguration, HealthpassVariables, HealthpassWorkerResult]):
    type = "healthpass"
    job_configuration = HealthpassJobConfiguration
    job_configuration_variables = HealthpassVariables
    _description = "Executes healthpass flow runs inside the worker's long-lived process (no process per run); drains the case store's outbox."
    _documentation_url = "https://docs.prefect.io/v3/advanced/developing-a-custom-worker"

    def __init__(self, work_pool_name: str = "healthpass", *args: Any, housekeeping: bool = True, shared_suspension_observer: bool = True, **kwargs: Any):
        kwargs.setdefault("name", default_name())
        super().__init__(work_pool_name, *args, **kwargs)
        self._flows: dict[UUID, Any] = {}
        self._housekeeping = housekeeping
        self._shared_observer = shared_suspension_observer  # False: Prefect's observer per run (bench/intake.py compares)
        self._housekeeping_scope: anyio.CancelScope | None = None
        self.executed: list[tuple[UUID, str]] = []  # (flow run, state) in this process, for tests and the log
        # Runs executing in this process, by id: Cancel in Prefect's UI cancels the scope
        # (workers/housekeeping.py), as killing its process would for Prefect's process worker.
        self.in_flight: dict[UUID, anyio.CancelScope] = {}
        self.cancel_messages: dict[UUID, str] = {}  # the Cancelling state's message, kept for the Cancelled one
        self._suspensions: Any = None  # the one FlowRunSuspendingObserver of this worker's runs
        self._suspended_early: dict[UUID, Any] = {}
        self._observer_stack = contextlib.AsyncExitStack()

    async def start(self, *args: Any, **kwargs: Any) -> None:
        # One Prefect client (sync and async) for every run this worker executes: a new client per
        # run loads the TLS trust store each time (half the CPU of the dispatcher this worker replaced, BENCHMARKS.md).
        from prefect.context import AsyncClientContext, SyncClientContext

        with SyncClientContext.get_or_create():
            async with AsyncClientContext.get_or_create():
                await super().start(*args, **kwargs)

    async def setup(self) -> None:
        logging.getLogger("prefect.flow_runs").addFilter(_SUSPENSION_FILTER)  # idempotent: one filter object
        await super().setup()
        if self._shared_observer:
            from prefect._internal.observers import FlowRunSuspendingObserver

            try:
                self._suspensions = await self._observer_stack.enter_async_context(FlowRunSuspendingObserver(on_suspended=self._suspension_requested))
            except Exception as exc:  # noqa: BLE001 -- Prefect's per-run observers then, as without this worker
                log.warning("worker %s: no shared suspension observer (%s: %s); each run watches for itself", self.name, type(exc).__name__, exc)
        if self._housekeeping:
            from workers.housekeeping import Housekeeper

            self._housekeeping_scope = anyio.CancelScope()
            self._runs_task_group.start_soon(Housekeeper(self).run, self._housekeeping_scope)

    async def teardown(self, *exc_info: Any) -> None:
        if self._housekeeping_scope is not None:
            self._housekeeping_scope.cancel()
        await self._observer_stack.aclose()
        self._suspensions = None
        await super().teardown(*exc_info)

    def _suspension_requested(self, flow_run_id: UUID, state: Any) -> None:
        from prefect._flow_run_suspension import mark_flow_run_suspension_requested

        if not mark_flow_run_suspension_requested(flow_run_id, state):  # its engine has not registered yet
            self._suspended_early[flow_run_id] = state

    async def _execute(self, flow: Any, flow_run: FlowRun) -> Any:
        """What Prefect's `run_flow` does for an async flow, with the run watched by this worker's
        observer; any other flow (or no observer) goes through `run_flow` itself."""
        from prefect.flow_engine import run_flow

        if self._suspensions is None or not flow.isasync or flow.isgenerator:
            return await run_flow(flow, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
        engine = _engine_class()(flow=flow, flow_run=flow_run, parameters=flow_run.parameters)
        engine.suspended_early = self._suspended_early
        try:
            # Reads the run's state first: a Suspended event from its previous execution is not
            # taken for a new request (Prefect's per-run observer does the same).
            await self._suspensions.watch_flow_run_id(flow_run.id)
            async with engine.start():
                while engine.is_running():
                    async with engine.run_context():
                        await engine.call_flow_fn()
            return engine.state
        finally:
            self._suspensions.remove_in_flight_flow_run_id(flow_run.id)
            self._suspended_early.pop(flow_run.id, None)

    async def _flow_of(self, flow_run: FlowRun):
        if flow_run.deployment_id not in self._flows:
            deployment = await self.client.read_deployment(flow_run.deployment_id)
            if deployment.name not in FLOWS:
                raise ValueError(f"deployment {deployment.name!r} is not a healthpass flow ({', '.join(FLOWS)})")
            module, attr = FLOWS[deployment.name].split(":")
            self._flows[flow_run.deployment_id] = getattr(importlib.import_module(module), attr)
        return self._flows[flow_run.deployment_id]

    async def run(
        self,
        flow_run: FlowRun,
        configuration: HealthpassJobConfiguration,
        task_status: anyio.abc.TaskStatus[Any] | None = None,
    ) -> HealthpassWorkerResult:
        from prefect.exceptions import Pause

        flow = await self._flow_of(flow_run)
        if task_status is not None:
            # The run's "infrastructure": this worker and the run. Prefect keeps the concurrency
            # slot until run() returns only when this is truthy (with None it frees it at once, and
            # the worker's limit would limit nothing); its Cancel of a run not yet started comes
            # back with it to kill_infrastructure.
            task_status.started(f"{self.name}/{flow_run.id}")
        flow_run = await self.client.read_flow_run(flow_run.id)  # as Pending, after the claim
        name, message = "Cancelled", None  # unless run_flow returns
        with anyio.CancelScope() as scope:
            self.in_flight[flow_run.id] = scope
            try:
                state = await self._execute(flow, flow_run)
                name = state.name
            except Pause:
                name = "Suspended"  # the wait for a human: the run ends here and holds no slot
            finally:
                self.in_flight.pop(flow_run.id, None)
        if scope.cancel_called:
            name, message = "Cancelled", await self._mark_cancelled(flow_run)
        self.executed.append((flow_run.id, name))
        if flow.name == "application":
            await anyio.to_thread.run_sync(_note_state, flow_run, name, message)
        return HealthpassWorkerResult(identifier=str(flow_run.id), status_code=0, state=name)

    async def kill_infrastructure(self, infrastructure_pid: str, configuration: HealthpassJobConfiguration, grace_seconds: int = 30) -> None:
        """Prefect's Cancel of a run this worker has taken: its scope is cancelled (run() marks it)."""
        from prefect.exceptions import InfrastructureNotAvailable, InfrastructureNotFound

        owner, _, run_id = infrastructure_pid.rpartition("/")
        if owner != self.name:
            raise InfrastructureNotAvailable(f"the run executes in worker {owner}, not {self.name}")
        scope = self.in_flight.get(UUID(run_id))
        if scope is None:
            raise InfrastructureNotFound(f"flow run {run_id} is not executing in {self.name}")
        scope.cancel()

    async def _mark_cancelled(self, flow_run: FlowRun) -> str:
        """Cancelled, whatever the engine proposed on its way out (an interrupted run says Crashed)."""
        from prefect.states import Cancelled

        message = self.cancel_messages.pop(flow_run.id, None) or f"cancelled in Prefect while running on {self.name}"
        await self.client.set_flow_run_state(flow_run.id, Cancelled(message=message), force=True)
        return message


def _note_state(flow_run: FlowRun, state: str, message: str | None = None) -> None:
    from datetime import datetime, timezone

    from cases.db import session_scope
    from cases.services import dispatch

    with contextlib.suppress(Exception), session_scope() as session:  # the store's copy is informative only
        dispatch.note_flow_run(session, application_id=flow_run.parameters["case_id"], flow_run_id=str(flow_run.id), state=state, at=datetime.now(timezone.utc), message=message)
