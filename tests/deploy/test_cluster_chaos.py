"""The local cluster survives kills (issue 15; R11, R13, R14).

200 standard applications are posted by 8 clients alternately through the two API processes.
While they are screened: SIGKILL a worker while Prefect says it is running a run, then one
Prefect API process, then the services process, each restarted a few seconds later. While the
issuers decide, SIGKILL the other worker mid-run. While the sweep fires the timers of 30 cases
brought due, SIGKILL the services process again. Then every case is completed with one green
pass issued once (none lost, none closed without a decision, none run to a pass twice), every
case has one flow run and it is Completed, and each timer brought due fired exactly once."""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from cases.simulate import application_body
from tests.conftest import PG_ADMIN_URL, SHANGHAI
from tests.deploy.cluster import Cluster, _alive, _until, approved_once_problems, client, flow_run_problems, new_cluster, stop_and_check

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(1500)]
CASES = 200
TIMED = 30  # cases whose half-time reminder and 80 % warning are brought due while processes die
CLIENTS = 8


class Chaos:
    def __init__(self, cluster: Cluster, http: httpx.Client):
        self.cluster, self.http = cluster, http
        self.killed: list[str] = []

    def running_runs_of(self, worker: str) -> list[str]:
        """Names of the flow runs Prefect says the worker process `worker` is running now."""
        pid = self.cluster.pids()[worker]
        body = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}, "limit": 200}
        r = self.http.post(f"{self.cluster.prefects[1]}/flow_runs/filter", json=body)
        r.raise_for_status()
        return [run["name"] for run in r.json() if (run.get("labels") or {}).get("prefect.worker.name", "").endswith(f"-{pid}")]

    def kill(self, name: str, *, down: float = 3.0, mid_run: bool = False) -> None:
        """SIGKILL the process `name` (mid-run: once Prefect says it runs one), then restart it."""
        if mid_run:
            _until(f"{name} is running a flow run", lambda: self.running_runs_of(name), seconds=120, every=0.05)
        os.killpg(self.cluster.pids()[name], signal.SIGKILL)
        self.killed.append(name)
        time.sleep(down)
        restarted = self.cluster.run("restart", name, timeout=120)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr


def _store(cluster: Cluster):
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{cluster.prefix}_store", autocommit=True)


def test_cluster_survives_sigkill_of_workers_a_prefect_api_and_the_services(tmp_path):
    cluster, redis_db = new_cluster(tmp_path)
    try:
        started = cluster.run("start", "--seed")
        assert started.returncode == 0, started.stdout + started.stderr + "".join(cluster.log(n) for n in ("prefect-api-1", "worker-1", "api-1"))
        http = client(timeout=60)
        chaos = Chaos(cluster, http)
        today = datetime.now(SHANGHAI).date()
        t_start = time.monotonic()

        # Intake, with a worker, a Prefect API process and the services process killed on the way.
        posted = threading.Semaphore(0)

        def post(i: int) -> dict:
            r = http.post(cluster.apis[i % 2] + "/api/v1/applications", json=application_body(20001 + i, today=today))
            assert r.status_code == 201, r.text
            posted.release()
            return r.json()

        def after(n: int) -> None:
            for _ in range(n):
                assert posted.acquire(timeout=300), "intake stalled"

        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(post, i) for i in range(CASES)]
            after(50)
            chaos.kill("worker-1", mid_run=True)
            after(50)
            chaos.kill("prefect-api-1")
            after(50)
            chaos.kill("prefect-services")
            cases = [f.result() for f in futures]
        ids = [c["id"] for c in cases]

        def view(i: int) -> dict:
            r = http.get(f"{cluster.apis[(i + 1) % 2]}/api/v1/applications/{cases[i]['id']}", params={"access_token": cases[i]["access_token"]})
            assert r.status_code == 200, r.text
            return r.json()

        def views() -> list[dict]:
            with ThreadPoolExecutor(CLIENTS) as pool:
                return list(pool.map(view, range(CASES)))

        on_the_way = ("submitted", "declared", "compared")  # a killed worker's run is requeued after its heartbeats stop

        def screened() -> list[dict]:
            now = views()
            return now if not any(v["status"] in on_the_way for v in now) else []

        try:
            screened_views = _until("every case is screened", screened, seconds=600, every=3)
        except AssertionError:
            stuck = [v for v in views() if v["status"] in on_the_way]
            states = {v["reference"]: http.get(f"{cluster.prefects[0]}/flow_runs/{(v['flow_run'] or {}).get('id')}").json().get("state") for v in stuck}
            raise AssertionError(f"{len(stuck)} cases not screened in 600 s: " + "; ".join(f"{ref}: {st}" for ref, st in states.items())) from None
        wrong = [f"{v['reference']}: {v['status']} ({[e['action'] for e in v['timeline']]})" for v in screened_views if v["status"] != "awaiting_audit"]
        assert not wrong, f"{len(wrong)} of {CASES} cases did not wait for the issuer:\n" + "\n".join(wrong)

        # Time passes for the first TIMED cases: their reminder and warning fall due (R11); the
        # sweep runs every minute on whichever worker, while the services process dies again.
        with _store(cluster) as db:
            moved = db.execute(
                "UPDATE slatimer SET due_at = now() - CASE kind WHEN 'reminder_50' THEN interval '2 minutes' ELSE interval '1 minute' END "
                "WHERE pending AND kind IN ('reminder_50', 'warn_80') AND application_id = ANY(%s)",
                (ids[:TIMED],),
            ).rowcount
        assert moved == 2 * TIMED, f"{moved} timers brought due, expected {2 * TIMED}"
        chaos.kill("prefect-services")

        # The issuers decide the others through either API, while the other worker dies mid-run.
        auth = []
        for base in cluster.apis:
            r = http.post(base + "/api/v1/auth/token", data={"username": "qingdao-issuer", "password": "demo-pass-2026"})
            assert r.status_code == 200, r.text
            auth.append({"Authorization": f"Bearer {r.json()['access_token']}"})
        queue = http.get(cluster.apis[0] + "/api/v1/audit-tasks", headers=auth[1]).json()
        tasks = {t["application_id"]: t["task_id"] for t in queue}
        assert set(ids) <= set(tasks), f"{len(set(ids) - set(tasks))} cases missing from the issuer's queue"

        def decide(i: int) -> None:
            r = http.post(f"{cluster.apis[i % 2]}/api/v1/audit-tasks/{tasks[ids[i]]}/decision", json={"action": "approve"}, headers=auth[i % 2])
            assert r.status_code == 200, r.text

        with ThreadPoolExecutor(4) as pool:
            decided = [pool.submit(decide, i) for i in range(TIMED, CASES)]
            chaos.kill("worker-2", mid_run=True)
            [f.result() for f in decided]

        def fired() -> bool:
            with _store(cluster) as db:
                return db.execute("SELECT count(*) FROM slatimer WHERE fired_at IS NOT NULL AND application_id = ANY(%s)", (ids[:TIMED],)).fetchone()[0] == 2 * TIMED

        _until("the sweep fired every timer brought due", fired, seconds=300, every=3)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(decide, range(TIMED)))

        final = _until("every case is completed", lambda: (lambda now: now if all(v["status"] == "completed" for v in now) else [])(views()), seconds=600, every=3)
        problems = approved_once_problems(final)
        for i, v in enumerate(final):
            actions = [e["action"] for e in v["timeline"]]
            expected = 1 if i < TIMED else 0
            for fired_action in ("sla_reminder_50", "sla_warn_80"):
                if actions.count(fired_action) != expected:
                    problems.append(f"{v['reference']}: {fired_action} {actions.count(fired_action)} times, expected {expected}")
        problems += flow_run_problems(http, cluster, final)
        refs = [v["reference"] for v in final]
        runs = http.post(f"{cluster.prefects[0]}/flow_runs/count", json={"flow_runs": {"name": {"any_": refs}}}).json()
        if runs != CASES:
            problems.append(f"{runs} flow runs for {CASES} cases (one each)")
        if not all(_alive(p) for p in cluster.pids().values()):
            problems.append(f"a process died on the way: {cluster.pids()}")
        requeued = sum((cluster.run_dir / "logs" / f"{n}.log").read_text(errors="replace").count(" requeued: ") for n in ("worker-1", "worker-2"))
        if not requeued:
            problems.append("no worker requeued the runs of a killed worker")
        assert not problems, f"{len(problems)} problem(s) in {CASES} cases after killing {chaos.killed}:\n" + "\n".join(problems)
        print(f"\ncluster chaos: {CASES} cases in {time.monotonic() - t_start:.0f} s; killed {chaos.killed}; {requeued} run(s) requeued")
    finally:
        stop_and_check(cluster, redis_db)
