"""Prefect workers, not a dispatcher (R14): what a Prefect user does in Prefect's UI does what
they expect, several workers share the pool, and a dead worker's runs are run again elsewhere.
Real Prefect server, real healthpass workers (tests/conftest.py: WorkerThread)."""
from __future__ import annotations

import contextlib
import itertools
import uuid
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from cases.models import Application, Pass
from cases.validation import resident_id_check_char
from tests.conftest import WorkerThread, login
from tests.helpers import example

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("store", ["postgres"], indirect=True)]


_PEOPLE = itertools.count(100)


def _submit(api, clock) -> dict:
    body = example("standard", clock.now().date())
    number = body["id_number"][:14] + f"{next(_PEOPLE):03d}"  # another person each time (one open case each)
    body["id_number"] = number + resident_id_check_char(number)
    created = api.post("/api/v1/applications", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _view(api, case) -> dict:
    return api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()


def _approve(api, reference: str) -> None:
    issuer = login(api, "qingdao-issuer")
    task = next(t for t in api.get("/api/v1/audit-tasks", headers=issuer, params={"limit": 500}).json() if t["reference"] == reference)
    decided = api.post(f"/api/v1/audit-tasks/{task['task_id']}/decision", json={"action": "approve"}, headers=issuer)
    assert decided.status_code == 200, decided.text


async def _run(run_id: str):
    async with get_client() as client:
        return await client.read_flow_run(UUID(run_id))


async def _logs(run_id: str):
    async with get_client() as client:
        return await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(run_id)])))


@contextlib.asynccontextmanager
async def _own_pool(kind: str):
    """A work pool and an application deployment of the test's own: no live worker runs what the
    test creates there, and no other test's leftover runs are seen. Its runs, the deployment and
    the pool are deleted afterwards, pass or fail (later tests wait for no run to be owed)."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    pool = f"healthpass-{kind}-{uuid.uuid4().hex[:6]}"
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=pool, type="healthpass"))
        flow_id = await client.create_flow_from_name("application")
        deployment_id = await client.create_deployment(flow_id=flow_id, name=pool, work_pool_name=pool)
        try:
            yield client, pool, deployment_id
        finally:
            for run in await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))):
                await client.delete_flow_run(run.id)
            await client.delete_deployment(deployment_id)
            await client.delete_work_pool(pool)


def _wait(predicate, seconds: float = 60.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_r14_resume_in_prefect_without_a_decision_is_refused_and_the_run_waits_again(api, worker, clock):
    case = _submit(api, clock)
    worker.settle()
    run_id = _view(api, case)["flow_run"]["id"]

    async def resume():
        async with get_client() as client:
            await client.resume_flow_run(UUID(run_id))

    worker.run(resume())  # as the Resume button of Prefect's UI does
    worker.settle()
    run = worker.run(_run(run_id))
    assert run.state.name == "Suspended"  # not Resuming forever, not run on to a pass
    view = _view(api, case)
    assert view["status"] == "awaiting_audit" and view["pass"] is None
    logs = _wait(lambda: [m for m in worker.run(_logs(run_id)) if "Resume refused" in m.message])
    assert "no decision" in logs[0].message
    # A suspension is the flow waiting, not an error: nothing at ERROR on the run.
    assert not [m.message for m in worker.run(_logs(run_id)) if m.level >= 40]

    _approve(api, case["reference"])  # the decision in the store resumes it for real
    worker.settle()
    assert _view(api, case)["status"] == "completed"
    assert worker.run(_run(run_id)).state.is_completed()


def test_r14_cancel_in_prefect_stays_cancelled_and_the_case_says_so(api, worker, clock, seeded):
    case = _submit(api, clock)
    worker.settle()
    run_id = _view(api, case)["flow_run"]["id"]

    async def cancel():
        from prefect.states import Cancelled

        async with get_client() as client:
            await client.set_flow_run_state(UUID(run_id), Cancelled(message="cancelled by an operator"))

    worker.run(cancel())
    timeline = _wait(lambda: [e for e in _view(api, case)["timeline"] if e["action"] == "flow_run_cancelled"], seconds=60)
    assert timeline[0]["reason"] == "cancelled by an operator"
    _approve(api, case["reference"])
    worker.settle()
    assert worker.run(_run(run_id)).state.is_cancelled()  # the decision does not undo the operator's Cancel
    with seeded.session() as s:
        assert s.get(Application, case["id"]).flow_state == "Cancelled"


def test_r14_two_workers_share_the_pool_every_case_decided_once_no_pass_twice(api, worker, clock, seeded):
    """The dispatcher this replaced closed 38 of 50 cases with no decision when two ran at once."""
    second = WorkerThread(f"test-worker-{uuid.uuid4().hex[:6]}").start()
    try:
        cases = [_submit(api, clock) for _ in range(30)]
        worker.settle(seconds=180)
        views = [_view(api, c) for c in cases]
        assert {v["status"] for v in views} == {"awaiting_audit"}
        for c in cases:
            _approve(api, c["reference"])
        worker.settle(seconds=180)
        runs = [worker.run(_run(_view(api, c)["flow_run"]["id"])) for c in cases]
    finally:
        second.stop()
    assert all(r.state.is_completed() for r in runs), [r.state.name for r in runs]
    assert {(r.labels or {}).get("prefect.worker.name") for r in runs} == {worker.name, second.name}  # both executed runs
    with seeded.session() as s:
        from sqlmodel import func, select

        for c in cases:
            app = s.get(Application, c["id"])
            assert app.status == "completed" and app.decision == "approve"
            assert s.exec(select(func.count()).select_from(Pass).where(Pass.application_id == c["id"])).one() == 1


@pytest.mark.parametrize("left_by", ["a dead worker", "the live worker itself"])
def test_r14_a_run_left_running_is_requeued_and_completed(api, worker, clock, seeded, left_by, monkeypatch):
    """A worker killed mid-run leaves its run Running under its name; its Prefect heartbeats stop.
    The live worker proposes Crashed (saying why) and reschedules it; the run completes there.
    A worker whose run loop restarted while Prefect was away (same name, heartbeats going on) has
    runs Prefect says it runs and it does not: it requeues those itself."""
    from prefect.states import Running

    import workers.housekeeping

    monkeypatch.setattr(workers.housekeeping, "ORPHAN_GRACE_SECONDS", 1)  # not executing for a minute, here a second
    owner = "healthpass-gone-4242" if left_by == "a dead worker" else worker.name

    case = _submit(api, clock)
    worker.settle()
    run_id = _view(api, case)["flow_run"]["id"]
    _approve(api, case["reference"])
    with seeded.session() as s:  # the decision's resume is held back: the dead worker had taken it
        from sqlmodel import select

        from cases.models import FlowDispatch

        for row in s.exec(select(FlowDispatch).where(FlowDispatch.application_id == case["id"], FlowDispatch.pending == True)):  # noqa: E712
            row.pending = False
            s.add(row)
        s.commit()

    async def left_running_by_a_dead_worker():
        async with get_client() as client:
            await client.set_flow_run_state(UUID(run_id), Running(), force=True)
            await client.update_flow_run_labels(UUID(run_id), {"prefect.worker.name": owner})

    worker.run(left_running_by_a_dead_worker())
    _wait(lambda: worker.run(_run(run_id)).state.is_completed(), seconds=90)
    assert _view(api, case)["status"] == "completed"
    states = worker.run(_states(run_id))
    assert "Crashed" in states and "AwaitingRetry" in states, states


def test_r14_two_workers_reaping_at_once_requeue_a_dead_workers_run_once(prefect_server, seeded, monkeypatch):
    """Every worker looks for dead workers' runs on its own tick, so two may read the same run at
    once. Seen in the chaos test: a run requeued twice within a second, the second requeue
    crashing the run the first had handed to a live worker. Here worker B reads each run, then
    acts only after worker A has done all its requeues: each run must still be requeued once."""
    import asyncio

    from prefect.states import Running

    import workers.housekeeping
    from workers.housekeeping import Housekeeper
    from workers.inprocess import HealthpassWorker

    monkeypatch.setattr(workers.housekeeping, "ORPHAN_GRACE_SECONDS", 1)

    async def scenario():
        async with _own_pool("race") as (client, pool, deployment_id):
            ids = []
            for _ in range(3):
                run = await client.create_flow_run_from_deployment(deployment_id, parameters={"case_id": f"orphan-{uuid.uuid4().hex[:6]}"})
                await client.set_flow_run_state(run.id, Running(), force=True)
                await client.update_flow_run_labels(run.id, {"prefect.worker.name": "healthpass-gone-4242"})
                ids.append(run.id)
            await asyncio.sleep(1.2)  # their Running state is older than the grace
            a_done = asyncio.Event()

            class ActsAfterA(Housekeeper):
                async def _unchanged(self, run) -> bool:
                    same = await super()._unchanged(run)
                    await a_done.wait()
                    return same

            async def reap_a(worker) -> int:
                try:
                    return await Housekeeper(worker).requeue_orphans()
                finally:
                    a_done.set()

            async with HealthpassWorker(pool, name=f"worker-a-{uuid.uuid4().hex[:4]}", housekeeping=False) as a, HealthpassWorker(pool, name=f"worker-b-{uuid.uuid4().hex[:4]}", housekeeping=False) as b:
                await asyncio.gather(ActsAfterA(b).requeue_orphans(), reap_a(a))
            return {str(i): [s.name for s in await client.read_flow_run_states(i)] for i in ids}

    histories = asyncio.run(scenario())
    for run_id, states in histories.items():
        assert states.count("Crashed") == 1 and states.count("AwaitingRetry") == 1, (run_id, states)


def test_r14_a_run_whose_submission_failed_is_run_again(api, worker, clock, monkeypatch):
    """Seen on the embedded default under a burst: the Prefect server answered 503 until the
    client's retries were spent while the worker was labelling a run. Prefect's worker then marks
    the run Crashed ("Failed to submit flow run to infrastructure") and nothing ran it again: the
    case sat in `submitted`, never reaching the issuer's queue. Now a worker reschedules it."""
    import workers.housekeeping
    from workers.inprocess import HealthpassWorker

    monkeypatch.setattr(workers.housekeeping, "ORPHAN_GRACE_SECONDS", 1)
    real_run, failed = HealthpassWorker.run, []

    async def busy_once(self, flow_run, configuration, task_status=None):
        if not failed:
            failed.append(flow_run.id)
            raise RuntimeError("Server error '503 Service Unavailable' (the client's retries spent)")
        return await real_run(self, flow_run, configuration, task_status)

    monkeypatch.setattr(HealthpassWorker, "run", busy_once)
    case = _submit(api, clock)
    run_id = _wait(lambda: (_view(api, case)["flow_run"] or {}).get("id"))
    _wait(lambda: failed, seconds=60)
    assert str(failed[0]) == run_id
    _wait(lambda: _view(api, case)["status"] == "awaiting_audit", seconds=90)
    states = worker.run(_states(run_id))
    assert "Crashed" in states and "AwaitingRetry" in states, states
    assert worker.run(_run(run_id)).state.name == "Suspended"  # waiting on the issuer, as any case


def test_r14_a_first_crash_before_running_is_rescheduled_at_once_a_repeated_one_waits(prefect_server, seeded, monkeypatch):
    """Seen on `make run`: a burst of 60 applications met a burst of 503s from the SQLite Prefect
    server while the worker labelled a run; Prefect's worker marked it Crashed, and it waited a
    minute to be rescheduled: the burst took 90 s to reach the issuer's queue instead of 25 s. A
    first crash before running is rescheduled on the worker's next check; a run that has crashed
    before still waits ORPHAN_GRACE_SECONDS between tries (a Prefect server that stays away)."""
    import asyncio

    from prefect.states import AwaitingRetry, Crashed

    import workers.housekeeping
    from workers.housekeeping import NEVER_RAN, Housekeeper
    from workers.inprocess import HealthpassWorker

    busy = f"{NEVER_RAN[0]}: PrefectHTTPStatusError: Server error '503 Service Unavailable'"

    async def scenario():
        async with _own_pool("crash") as (client, pool, deployment_id):
            first = await client.create_flow_run_from_deployment(deployment_id, parameters={"case_id": f"first-{uuid.uuid4().hex[:6]}"})
            again = await client.create_flow_run_from_deployment(deployment_id, parameters={"case_id": f"again-{uuid.uuid4().hex[:6]}"})
            await client.set_flow_run_state(first.id, Crashed(message=busy), force=True)
            for state in (Crashed(message=busy), AwaitingRetry(), Crashed(message=busy)):
                await client.set_flow_run_state(again.id, state, force=True)
            async with HealthpassWorker(pool, name=f"worker-{uuid.uuid4().hex[:4]}", housekeeping=False) as worker:
                keeper = Housekeeper(worker)
                keeper._application_deployment = deployment_id  # this test's deployment, not the application's
                at_once = await keeper.requeue_crashed()
                after_first = {r: (await client.read_flow_run(r)).state.name for r in (first.id, again.id)}
                monkeypatch.setattr(workers.housekeeping, "ORPHAN_GRACE_SECONDS", 1)  # a minute, here a second
                await asyncio.sleep(1.2)
                later = await keeper.requeue_crashed()
                after_grace = (await client.read_flow_run(again.id)).state.name
            return at_once, after_first[first.id], after_first[again.id], later, after_grace

    at_once, first_state, again_state, later, after_grace = asyncio.run(scenario())
    assert (at_once, first_state) == (1, "AwaitingRetry")  # the first crash: rescheduled at once
    assert again_state == "Crashed"  # crashed before: it waits
    assert (later, after_grace) == (1, "AwaitingRetry")


async def _states(run_id: str) -> list[str]:
    async with get_client() as client:
        return [s.name for s in await client.read_flow_run_states(UUID(run_id))]


def test_r14_cancel_in_prefect_stops_a_running_run_and_retry_runs_it_again(api, worker, clock, seeded, monkeypatch):
    """Cancel pressed while the run executes in a worker's process: the worker stops it at the
    step it is in (that step's transaction finishes: all of it or none), the run ends Cancelled
    with the operator's message, the case says so and goes no further; Retry re-runs it, and the
    steps already done in the store are not done twice."""
    import logging
    import threading

    from prefect.states import Cancelling, Scheduled

    from cases.services import workflow

    comparing, release, stopping = threading.Event(), threading.Event(), threading.Event()
    real_compare = workflow.compare

    def slow_registry(**kwargs):  # the registries answer slowly: the run is Running meanwhile
        comparing.set()
        release.wait(60)
        return real_compare(**kwargs)

    class Stopping(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "stopping it" in record.getMessage():
                stopping.set()

    said = Stopping()
    logging.getLogger("healthpass.worker").addHandler(said)
    monkeypatch.setattr(workflow, "compare", slow_registry)
    try:
        case = _submit(api, clock)
        assert comparing.wait(60), "the run never reached the comparison"
        run_id = _wait(lambda: _view(api, case)["flow_run"])["id"]
        assert worker.run(_run(run_id)).state.is_running()

        async def cancel():  # as the Cancel button of Prefect's UI does
            async with get_client() as client:
                await client.set_flow_run_state(UUID(run_id), Cancelling(message="cancelled by an operator"))

        worker.run(cancel())
        assert stopping.wait(30), "the worker did not stop the cancelled run"
        release.set()
        _wait(lambda: worker.run(_run(run_id)).state.is_cancelled(), seconds=30)
    finally:
        release.set()
        monkeypatch.setattr(workflow, "compare", real_compare)
        logging.getLogger("healthpass.worker").removeHandler(said)
    run = worker.run(_run(run_id))
    assert run.state.message == "cancelled by an operator"
    view = _wait(lambda: (lambda v: v if any(e["action"] == "flow_run_cancelled" for e in v["timeline"]) else None)(_view(api, case)))
    assert next(e for e in view["timeline"] if e["action"] == "flow_run_cancelled")["reason"] == "cancelled by an operator"
    assert view["status"] != "awaiting_audit" and view["pass"] is None  # stopped before its audit was assigned

    async def retry():  # as the Retry button of Prefect's UI does
        async with get_client() as client:
            await client.set_flow_run_state(UUID(run_id), Scheduled(name="AwaitingRetry", message="Retry from the UI"), force=True)

    worker.run(retry())
    _wait(lambda: _view(api, case)["status"] == "awaiting_audit", seconds=60)
    _approve(api, case["reference"])
    worker.settle()
    assert _view(api, case)["status"] == "completed"
    assert worker.run(_run(run_id)).state.is_completed()
    with seeded.session() as s:
        from sqlmodel import func, select

        from cases.models import ComparisonRecord

        assert s.exec(select(func.count()).select_from(ComparisonRecord).where(ComparisonRecord.application_id == case["id"])).one() == 1
        assert s.exec(select(func.count()).select_from(Pass).where(Pass.application_id == case["id"])).one() == 1


def test_r14_a_worker_executes_no_more_runs_at_once_than_its_limit(api, worker, clock, seeded, monkeypatch):
    """The worker's concurrency limit (HEALTHPASS_DISPATCHER_CONCURRENCY) holds: with the
    registries slow, limit + 3 new cases start `limit` runs; the others wait Scheduled in the pool
    (for another worker, or this one's next free slot) and all reach the issuer's queue."""
    import threading
    import time

    from cases.services import workflow
    from cases.settings import get_settings

    limit = get_settings().dispatcher_concurrency
    entered, release = [], threading.Event()
    real_compare = workflow.compare

    def slow_registry(**kwargs):
        entered.append(kwargs["application"].id)
        release.wait(60)
        return real_compare(**kwargs)

    monkeypatch.setattr(workflow, "compare", slow_registry)
    try:
        cases = [_submit(api, clock) for _ in range(limit + 3)]
        _wait(lambda: len(entered) >= limit, seconds=60)
        time.sleep(5)  # time enough to take more runs, were the limit not held
        at_once = len(entered)
    finally:
        release.set()
        monkeypatch.setattr(workflow, "compare", real_compare)
    assert at_once == limit, f"{at_once} runs executing at once on a worker limited to {limit}"
    worker.settle(seconds=180)
    assert {_view(api, c)["status"] for c in cases} == {"awaiting_audit"}


def test_r14_suspend_in_prefect_stops_a_running_run_at_its_next_step_and_resume_runs_it_on(api, worker, clock, monkeypatch):
    """A Suspend requested from outside (Prefect's API, as an operator would) while the run
    executes in the worker's process: the run stops at its next task (the comparison finishes, the
    audit is not assigned) and ends Suspended; Resume in Prefect runs it on to the issuer's queue,
    the steps already done not done again. The worker's one suspension observer does this (no
    observer of its own per run)."""
    import threading

    from prefect.states import Suspended

    from cases.services import workflow

    comparing, release = threading.Event(), threading.Event()
    real_compare = workflow.compare

    def slow_registry(**kwargs):
        comparing.set()
        release.wait(60)
        return real_compare(**kwargs)

    monkeypatch.setattr(workflow, "compare", slow_registry)
    try:
        case = _submit(api, clock)
        assert comparing.wait(60), "the run never reached the comparison"
        run_id = _wait(lambda: _view(api, case)["flow_run"])["id"]

        async def suspend():
            async with get_client() as client:
                result = await client.set_flow_run_state(UUID(run_id), Suspended(timeout_seconds=3600, pause_key="operator"))
                assert result.status.value == "ACCEPT", result

        worker.run(suspend())
        # The Suspend reaches the worker as an event, a moment later: the comparison is held until
        # the worker has noticed it (Prefect's in-process registry of suspension requests), so the
        # run's next task is the one that must not start.
        from prefect._flow_run_suspension import _active_flow_run_suspension_requests as requests

        _wait(lambda: (r := requests.get(UUID(run_id))) is not None and r.is_requested(), seconds=30)
        release.set()
        _wait(lambda: worker.run(_run(run_id)).state.name == "Suspended", seconds=30)
    finally:
        release.set()
        monkeypatch.setattr(workflow, "compare", real_compare)
    worker.settle()  # the execution the Suspend stopped has ended
    view = _view(api, case)
    assert view["status"] != "awaiting_audit", "the run went on to assign the audit after the Suspend"

    async def resume():
        async with get_client() as client:
            await client.resume_flow_run(UUID(run_id))

    worker.run(resume())
    _wait(lambda: _view(api, case)["status"] == "awaiting_audit", seconds=60)
    worker.settle()
    assert worker.run(_run(run_id)).state.name == "Suspended"  # now waiting for the issuer, as designed


def test_r14_a_worker_watches_its_runs_for_a_suspend_over_one_connection(api, worker, clock, monkeypatch):
    """Prefect's engine opens an events websocket (with a backfill query on the server) and a
    thread per run to notice an outside Suspend; the healthpass worker watches all its runs over
    its one connection: executing several runs opens no new subscription (BENCHMARKS.md: this cut
    the Prefect server's CPU per application by about a sixth)."""
    from prefect.events.clients import PrefectEventSubscriber

    worker.settle()
    opened = []
    real_reconnect = PrefectEventSubscriber._reconnect

    async def counting_reconnect(self):
        opened.append(self)
        return await real_reconnect(self)

    monkeypatch.setattr(PrefectEventSubscriber, "_reconnect", counting_reconnect)
    cases = [_submit(api, clock) for _ in range(6)]
    worker.settle()
    assert {_view(api, c)["status"] for c in cases} == {"awaiting_audit"}
    # At most one: the worker's own connection may be re-opened once (CI saw 1 for 4 runs);
    # Prefect's per-run observers open one per run.
    assert len(opened) <= 1, f"{len(opened)} events subscriptions opened for {len(cases)} runs"
