"""End to end through a real Prefect server and a real healthpass worker: one flow run per
application (R14), its steps as task runs."""
from __future__ import annotations

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlmodel import select

from cases.models import Application, FlowDispatch
from tests.conftest import login
from tests.helpers import example

pytestmark = pytest.mark.slow


async def _flow_run(run_id: str):
    from uuid import UUID

    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        return run, sorted({t.name.rsplit("-", 1)[0] for t in task_runs})


async def _task_run_count(run_id) -> int:
    async with get_client() as client:
        return len(await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))))


async def _logs(run_id, seconds: float = 15.0, marker: str = "declared:") -> list[str]:
    """The run's log lines, once the engine's background log shipper has sent them."""
    import anyio
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        with anyio.move_on_after(seconds):
            while True:
                logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
                if any(marker in log.message for log in logs):
                    break
                await anyio.sleep(0.25)
    return [log.message for log in logs]


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r14_one_flow_run_per_application_through_audit_to_pass(api, worker, clock):
    today = clock.now().date()
    created = api.post("/api/v1/applications", json=example("standard", today))
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["status"] == "submitted"  # the answer did not wait for Prefect

    worker.settle()
    view = api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()
    assert view["status"] == "awaiting_audit"
    assert view["comparison"]["outcome"] in {"clear", "mismatch", "risk_area", "close_contact", "confirmed", "incomplete"}
    run, tasks = worker.run(_flow_run(view["flow_run"]["id"]))
    assert run.name == case["reference"]  # the case's human reference names its run
    assert {"kind:standard", "healthpass:case"} <= set(run.tags), run.tags
    assert run.state.name == "Suspended"  # waiting on a human without holding a process
    assert tasks == ["assign_audit", "compare", "declare"]  # the notice's steps, each a task run
    assert (run.labels or {}).get("prefect.worker.name") == worker.name  # claimed and run by a Prefect worker
    assert any("waiting on: audit" in m for m in worker.run(_logs(run.id, marker="waiting on:")))

    issuer = login(api, "qingdao-issuer")
    queue = api.get("/api/v1/audit-tasks", headers=issuer).json()
    assert [t["reference"] for t in queue] == [case["reference"]]
    task_id = queue[0]["task_id"]
    decided = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=issuer)
    assert decided.status_code == 200, decided.text
    # A double click changes nothing.
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=issuer).status_code == 200

    worker.settle()
    view = api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()
    assert view["status"] == "completed" and view["decision"] == "approve"
    assert view["pass"]["colour"] in ("green", "yellow")
    run, tasks = worker.run(_flow_run(view["flow_run"]["id"]))
    assert run.state.is_completed()
    # Resumed from the top: the screening steps were not executed again (one task run each).
    assert tasks == ["assign_audit", "compare", "declare", "issue_pass", "record_decision"]
    assert worker.run(_task_run_count(run.id)) == 5
    actions = [e["action"] for e in view["timeline"]]
    assert actions.count("pass_issued") == 1


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r14_case_accepted_while_prefect_down_is_driven_later(api, prefect_server, worker, clock, seeded):
    """Stop the Prefect server, submit, restart it: the case reaches the audit queue."""
    prefect_server.stop()
    created = api.post("/api/v1/applications", json=example("standard", clock.now().date()))
    assert created.status_code == 201
    case_id = created.json()["id"]
    import time

    time.sleep(3)  # the worker tries, fails (Prefect is down), and the outbox keeps the row with a back-off
    with seeded.session() as s:
        row = s.exec(select(FlowDispatch).where(FlowDispatch.application_id == case_id)).one()
        assert row.pending
        row.next_attempt_at = row.created_at  # skip the back-off wait
        s.add(row)
        s.commit()
    prefect_server.start()
    worker.settle()
    with seeded.session() as s:
        app = s.get(Application, case_id)
        assert app.status == "awaiting_audit" and app.flow_state == "Suspended"
        assert not s.exec(select(FlowDispatch).where(FlowDispatch.application_id == case_id)).one().pending


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r15_csv_import_then_declaration_hits_show_on_the_case_and_the_flow_run(api, worker, clock, seeded, tmp_path):
    """CSV import -> declaration -> comparison hits visible on the case and on its flow run."""
    from datetime import timedelta

    from typer.testing import CliRunner

    from ops.cli import app as cli

    feed = tmp_path / "roaming.csv"
    today = clock.now().date()
    feed.write_text(f"phone,city,from,to,hours\n13905320002,4401,{today - timedelta(days=4)},{today - timedelta(days=3)},20\n")
    imported = CliRunner().invoke(cli, ["data", "import", "roaming", str(feed)])
    assert imported.exit_code == 0 and "1 imported" in imported.output, imported.output
    case = api.post("/api/v1/applications", json=example("standard", today)).json()
    worker.settle()
    view = api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()
    assert view["comparison"]["outcome"] == "mismatch"  # Guangzhou (4401) roamed but not declared
    hits = view["comparison"]["hits"]
    assert any(h["source"] == "roaming" and "4401" in h["explanation"] for h in hits), hits

    async def artifacts(run_id: str):
        from uuid import UUID

        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)])))

    found = worker.run(artifacts(view["flow_run"]["id"]))
    assert found and "roaming" in str(found[0].data) and "mismatch" in str(found[0].data)


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r15_registry_down_is_retried_then_recorded_incomplete_never_clear(api, worker, clock, seeded, monkeypatch):
    """A registry marked down: the compare task is retried by Prefect, and its last attempt
    records 'incomplete' for the issuer; the case still reaches the audit queue (R15)."""
    from cases.models import SourceStatus
    from tasks import screening

    monkeypatch.setattr(screening.compare, "retry_delay_seconds", 0)
    with seeded.session() as s:
        status = s.get(SourceStatus, "close_contacts")
        status.available = False
        s.add(status)
        s.commit()
    case = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    worker.settle()
    view = api.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()
    assert view["status"] == "awaiting_audit"
    assert view["comparison"]["outcome"] == "incomplete"

    async def compare_runs(run_id: str):
        from uuid import UUID

        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)])))
            return [t for t in runs if t.task_key and t.name.startswith("compare")]

    (compare_run,) = worker.run(compare_runs(view["flow_run"]["id"]))
    assert compare_run.run_count == screening.COMPARE_RETRIES + 1  # tried, retried, then recorded incomplete
    assert compare_run.state.is_completed()
