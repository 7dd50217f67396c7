"""/healthz names the component that is down (issue 14: `make run` never stops itself)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from cases.services import heartbeat


def _beat(store, *, pid: int, host: str | None = None, state: str = heartbeat.RUNNING, age: float = 0.0) -> None:
    at = datetime.now(UTC) - timedelta(seconds=age)
    with store.session() as s:
        heartbeat.beat(s, name="worker:w1", state=state, started_at=at, at=at, pid=pid, host=host)
        s.commit()


def test_serve_healthz_degraded_names_prefect_and_a_worker_that_never_reported(api, seeded, monkeypatch):
    # A closed port, whatever Prefect server an earlier test of the session left running.
    monkeypatch.setattr(seeded.settings, "prefect_api_url", "http://127.0.0.1:9/api")
    body = api.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["components"]["store"]["status"] == "ok"
    assert body["components"]["prefect"]["status"] == "down" and "Prefect does not answer" in body["reasons"]["prefect"]
    assert body["components"]["worker"]["status"] == "down" and "no healthpass worker has reported" in body["reasons"]["worker"]
    assert body["components"]["calendar"]["status"] == "ok" and "calendar" not in body["reasons"]


def test_serve_healthz_worker_alive_dead_stale_or_waiting(api, seeded):
    _beat(seeded, pid=os.getpid())
    assert api.get("/healthz").json()["components"]["worker"]["status"] == "ok"

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid of this host that no longer runs: down at once, without waiting for staleness
    _beat(seeded, pid=gone.pid)
    body = api.get("/healthz").json()
    assert body["status"] == "degraded" and body["components"]["worker"]["status"] == "down"
    assert f"pid {gone.pid}" in body["reasons"]["worker"] and "not running" in body["reasons"]["worker"]

    # On another machine the pid cannot be checked: the heartbeat's age decides.
    _beat(seeded, pid=1, host=socket.gethostname() + "-elsewhere", age=5)
    assert api.get("/healthz").json()["components"]["worker"]["status"] == "ok"
    _beat(seeded, pid=1, host=socket.gethostname() + "-elsewhere", age=heartbeat.STALE_SECONDS + 15)
    reason = api.get("/healthz").json()["reasons"]["worker"]
    assert "no heartbeat from the worker:w1 for" in reason and "-elsewhere" in reason

    _beat(seeded, pid=os.getpid(), state="waiting for Prefect at http://127.0.0.1:9/api/health")
    body = api.get("/healthz").json()
    assert body["components"]["worker"]["status"] == "degraded" and "waiting for Prefect" in body["reasons"]["worker"]


def test_serve_healthz_ok_while_one_of_several_workers_is(api, seeded):
    """Workers on several machines: one dead worker does not make the system degraded."""
    _beat(seeded, pid=1, host=socket.gethostname() + "-elsewhere", age=heartbeat.STALE_SECONDS + 15)
    at = datetime.now(UTC)
    with seeded.session() as s:
        heartbeat.beat(s, name="worker:w2", state=heartbeat.RUNNING, started_at=at, at=at, pid=os.getpid())
        s.commit()
    component = api.get("/healthz").json()["components"]["worker"]
    assert component["status"] == "ok" and component["running"] == 1
    assert {w["name"]: w["status"] for w in component["workers"]} == {"w1": "down", "w2": "ok"}
