"""An automation made by `healthpass automations breach-webhook`, on a real Prefect server (its
triggers and actions services): a breach of a Qingdao case, fired by the real sla-sweep flow,
calls the webhook with the case number and the responsible community (R13); a breach in Jinan
at the same time does not."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import typer
from typer.testing import CliRunner

from cases.clock import SHANGHAI
from cases.declaration_schema import ApplicationCreate
from cases.models import Application
from cases.services.applications import submit_application
from cases.validation import resident_id_check_char
from tests.helpers import example, to_audit

pytestmark = pytest.mark.slow

QINGDAO_COMMUNITY, JINAN_COMMUNITY = "370202001001", "370102001001"


@pytest.fixture
def hook():
    """A local HTTP server that records what is POSTed to it: (path, JSON body)."""
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


@pytest.fixture
def real_time_clock():
    """The store's clock at the real time (Prefect's triggers read events by when they occurred)."""
    from cases import clock as clock_mod

    frozen = clock_mod.FrozenClock(datetime.now(SHANGHAI))
    previous = clock_mod.get_clock()
    clock_mod.set_clock(frozen)
    yield frozen
    clock_mod.set_clock(previous)


def _case_in_audit(store, clock, community: str, n: int) -> tuple[str, str]:
    body = {**example("standard", clock.now().astimezone(SHANGHAI).date()), "community_code": community, "unit_code": None}
    number = body["id_number"][:14] + f"{700 + n:03d}"
    body["id_number"] = number + resident_id_check_char(number)
    with store.session() as s:
        created = submit_application(session=s, payload=ApplicationCreate.model_validate(body), content=body, settings=store.settings, at=clock.now())
        s.commit()
        case_id = created.application.id
    to_audit(store, clock, case_id)
    with store.session() as s:
        return case_id, s.get(Application, case_id).reference


def _breach_events(api_url: str, case_id: str) -> list[dict]:
    body = {"filter": {"event": {"name": ["healthpass.sla.breach"]}, "resource": {"id": [f"healthpass.case.{case_id}"]}}, "limit": 10}
    r = httpx.post(f"{api_url}/events/filter", json=body, timeout=10)
    r.raise_for_status()
    return r.json()["events"]


def test_r13_breach_in_a_city_calls_its_webhook_and_only_its_own(prefect_server, sqlite_store, real_time_clock, hook):
    import asyncio

    from prefect.client.orchestration import get_client

    from cases.seed import seed
    from flows.sla_sweep import SWEEP_TAG, sla_sweep
    from ops.automations import automation_name, automations_app

    store, clock = sqlite_store, real_time_clock
    base, received = hook
    with store.session() as s:
        seed(s, at=clock.now(), hash_key=store.settings.secret("idhash"))
        s.commit()

    # The command as `healthpass automations …` mounts it (the line ops/cli.py adds), twice: the
    # second run updates the automation (here its URL), it adds none.
    cli = typer.Typer()
    cli.add_typer(automations_app, name="automations")
    runner = CliRunner()
    for path in ("/old", "/hook"):
        result = runner.invoke(cli, ["automations", "breach-webhook", "--city", "3702", "--url", base + path, "--api-url", prefect_server.api_url])
        assert result.exit_code == 0, result.output
    assert "updated automation" in result.output
    with get_client(sync_client=True) as client:
        assert len(client.read_automations_by_name(name=automation_name("370200"))) == 1
    bad = runner.invoke(cli, ["automations", "breach-webhook", "--city", "379900", "--url", base, "--api-url", prefect_server.api_url])
    assert bad.exit_code == 2 and "not a city" in bad.output

    # Two cases in audit ten days ago, one in Qingdao (the automation's city), one in Jinan.
    clock.set(clock.now() - timedelta(days=10))
    qingdao, qingdao_ref = _case_in_audit(store, clock, QINGDAO_COMMUNITY, 1)
    jinan, jinan_ref = _case_in_audit(store, clock, JINAN_COMMUNITY, 2)
    clock.set(datetime.now(SHANGHAI))
    time.sleep(2)  # the server's triggers service loads the new automation (it listens for changes)

    # The real sweep: the sla-sweep flow on the Prefect server, its task fire_due_timers.
    state = asyncio.run(sla_sweep(return_state=True))
    assert state.is_completed(), state
    assert state.result()["fired"]["breach"] == 2

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not received:
        time.sleep(0.5)
    assert received, "the webhook was not called within 90 s"
    time.sleep(5)  # time for a (wrong) call about the Jinan breach to arrive too
    assert len(received) == 1, received
    path, body = received[0]
    assert path == "/hook"
    assert body["event"] == "healthpass.sla.breach"
    assert body["case"] == f"healthpass.case.{qingdao}"
    assert body["sla"]["reference"] == qingdao_ref
    assert body["sla"]["responsible"] == {"kind": "community", "code": QINGDAO_COMMUNITY, "name": "Huayuan Community"}
    assert body["sla"]["city_code"] == "370200"
    assert jinan_ref not in json.dumps(body)

    # The Jinan breach did reach Prefect: it matched no automation, it was not lost.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _breach_events(prefect_server.api_url, jinan):
        time.sleep(1)
    [jinan_event] = _breach_events(prefect_server.api_url, jinan)
    assert jinan_event["resource"]["healthpass.city.code"] == "370100"

    # The sweep's run is easy to filter out: its name and its task runs' tag.
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        assert run.name.startswith("sla-sweep-") and run.name != "sla-sweep"
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        assert tasks and all(SWEEP_TAG in t.tags for t in tasks), [(t.name, t.tags) for t in tasks]
