"""The production shape, proven on this machine (issue 15): `deploy/local-cluster start` with
its own databases, Redis DB and run dir; 20 standard applications posted alternately through
the two API processes reach the issuer's queue, are approved through either API and end
completed with one green pass each; both Prefect API processes serve the runs. `stop --drop`
then leaves no process, database or Redis key behind."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from cases.simulate import application_body
from tests.conftest import SHANGHAI
from tests.deploy.cluster import _alive, _established, _until, approved_once_problems, client, flow_run_problems, new_cluster, stop_and_check

# Two workers on one pool: the single-instance dispatcher they replaced closed cases without a
# decision and issued passes twice here (issue 15); Prefect's claiming makes each run one worker's.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(1500)]
CASES = 20


def test_local_cluster_drives_cases_through_both_apis_and_both_prefect_servers(tmp_path):
    cluster, redis_db = new_cluster(tmp_path)
    timings = {}
    try:
        t0 = time.monotonic()
        started = cluster.run("start", "--seed")
        timings["start"] = time.monotonic() - t0
        assert started.returncode == 0, started.stdout + started.stderr + "".join(cluster.log(n) for n in ("prefect-api-1", "worker-1", "api-1"))
        assert set(cluster.pids()) == {"prefect-api-1", "prefect-api-2", "prefect-services", "worker-1", "worker-2", "api-1", "api-2"}
        status = cluster.run("status", timeout=120)
        assert status.returncode == 0, status.stdout

        http = client(timeout=30)
        today = datetime.now(SHANGHAI).date()
        connections = {p: 0 for p in cluster.prefect_ports}

        def sample_connections() -> None:
            for p in connections:
                connections[p] = max(connections[p], _established(p))

        # Intake: alternately through the two API processes.
        cases = []
        t0 = time.monotonic()
        for i in range(CASES):
            base = cluster.apis[i % 2]
            r = http.post(base + "/api/v1/applications", json=application_body(8001 + i, today=today))
            assert r.status_code == 201, r.text
            cases.append(r.json())

        def view(i: int, case: dict) -> dict:
            r = http.get(f"{cluster.apis[(i + 1) % 2]}/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]})
            assert r.status_code == 200, r.text
            return r.json()

        def all_in(status: str) -> bool:
            sample_connections()
            return all(view(i, c)["status"] == status for i, c in enumerate(cases))

        # Screened: out of `submitted`. A case that went past the issuer's queue (closed with no
        # decision: two executors driving one run) is named, not waited for until the timeout.
        def screened() -> list[dict]:
            sample_connections()
            views = [view(i, c) for i, c in enumerate(cases)]
            return views if all(v["status"] != "submitted" for v in views) else []

        screened_views = _until("every case is screened", screened, seconds=300, every=2)
        timings["intake"] = time.monotonic() - t0
        wrong = [f"{v['reference']}: {v['status']} ({[e['action'] for e in v['timeline']]})" for v in screened_views if v["status"] != "awaiting_audit"]
        assert not wrong, f"{len(wrong)} of {CASES} cases did not wait for the issuer:\n" + "\n".join(wrong)

        # The issuer approves through either API (the token is good on both: one shared secret).
        auth = []
        for base in cluster.apis:
            r = http.post(base + "/api/v1/auth/token", data={"username": "qingdao-issuer", "password": "demo-pass-2026"})
            assert r.status_code == 200, r.text
            auth.append({"Authorization": f"Bearer {r.json()['access_token']}"})
        queue = http.get(cluster.apis[0] + "/api/v1/audit-tasks", headers=auth[1]).json()
        tasks = {t["application_id"]: t["task_id"] for t in queue}
        assert {c["id"] for c in cases} <= set(tasks), "every case is in the issuer's queue"
        t0 = time.monotonic()
        for i, case in enumerate(cases):
            r = http.post(f"{cluster.apis[i % 2]}/api/v1/audit-tasks/{tasks[case['id']]}/decision", json={"action": "approve"}, headers=auth[i % 2])
            assert r.status_code == 200, r.text
        _until("every case is completed", lambda: all_in("completed"), seconds=300, every=2)
        timings["decision_to_pass"] = time.monotonic() - t0

        views = [view(i, c) for i, c in enumerate(cases)]
        problems = approved_once_problems(views)  # all of them, not the first: how many went wrong says what broke

        # Both Prefect API processes served the cluster: clients held connections to each, and
        # each answers for every run (one database behind them), all Completed.
        if not all(connections.values()):
            problems.append(f"a Prefect API process had no client connection: {connections}")
        problems += flow_run_problems(http, cluster, views)
        if not all(_alive(p) for p in cluster.pids().values()):
            problems.append("a process died on the way")
        assert not problems, f"{len(problems)} problem(s) in {CASES} cases:\n" + "\n".join(problems)
        print(f"\nlocal cluster: {CASES} cases; " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; connections {connections}\n{started.stdout}")
    finally:
        stop_and_check(cluster, redis_db)
