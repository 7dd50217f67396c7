"""Benchmarks 5 and 6: intake through Prefect, and POST latency while flows run.

Set-up (all on 127.0.0.1, all removed at the end): a case store on PostgreSQL (its own
database, migrated and seeded), a Prefect server on PostgreSQL (its own database,
``prefect server start``), the API (``uvicorn web.main:app``, 1 worker), and the real healthpass
worker (``workers.inprocess.HealthpassWorker`` on the ``healthpass`` pool, its outbox drained by
``workers.housekeeping.Housekeeper``) in its own process (bench/_worker_proc.py) with its Prefect
HTTP requests and events counted.

5. Intake: N standard applications are POSTed (201, status submitted), then the
   worker is told to drain them; the time from that order until the N-th run has
   come back suspended with its case ``awaiting_audit`` gives applications/s — the
   sustained capacity of the orchestrated path on a backlog (the POST itself is
   benchmark 6). Each application is its own flow run (the tasks declare -> compare ->
   assign_audit, then suspend). Then an issuer approves each case in the store (untimed) and
   the worker is told to drain again: the runs are resumed from the outbox and execute
   record_decision and issue_pass to Completed; ``full_per_s`` is N over both drains' time
   (the whole run, suspension and resume included). Concurrency (the worker's limit) 4, 8,
   16. CPU: the worker process
   (getrusage), the Prefect server process tree and the PostgreSQL backends of the
   Prefect database (/proc/<pid>/stat). Baselines: the same three steps' services called in
   this process without Prefect; and a naive Prefect flow (bench/_naive_flow.py: a plain
   ``@flow`` of three plain ``@task``'s, each a trivial store read and write) run two ways
   against the same Prefect server: served the usual way (a deployment on a ``process`` work
   pool, executed by ``prefect worker start --type process``, a process per run; the target's
   baseline), and called in-process one run after another (Prefect's cheapest path), runs/s in
   the same run. The Prefect server and the workers run at nice 10, as ``healthpass serve``
   starts them.
6. POST latency: the API's submission capacity is measured first (200 new applications, 30 %
   arrivals, as fast as 8 connections allow, no worker); then half of it is offered (open loop,
   30 % arrivals) for a few seconds while the worker (limit 8) works the outbox; baseline: the
   same load with the worker stopped. Target (issue 15): p99 while flows run ≤ 1.5 × p99 stopped,
   each p99 over all the samples of its repeats (a p99 of one short window is its second
   slowest request, and moved by 2× between runs of the same code).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.common import (
    PY,
    Server,
    asyncpg_url,
    child_env,
    free_port,
    median,
    percentile,
    pg_backend_pids,
    pg_database,
    pids_cpu_seconds,
    seed_store,
    temp_dir,
    tree_cpu_seconds,
    unique_seq,
    uvicorn_argv,
)
from bench import profile as spy
from ops.prefect_server import with_server_defaults


NICE = 10  # `healthpass serve` runs the Prefect server and the worker at this level (Settings.background_nice)


def behind(argv: list[str]) -> list[str]:
    """`argv` at the priority `healthpass serve` gives its background children (ops.cli._lower_priority):
    a session of its own whose autogroup is niced, and the nice level itself. Run it with start_new_session."""
    return ["sh", "-c", f'echo {NICE} > /proc/self/autogroup 2>/dev/null; exec nice -n {NICE} "$@"', "sh", *argv]


class WorkerProc:
    """bench/_worker_proc.py: one healthpass worker whose `limit` is the concurrency."""

    def __init__(self, concurrency: int, env: dict[str, str], log: Path, *, per_run_observer: bool = False):
        self.log = open(log, "ab")
        argv = behind([PY, "-m", "bench._worker_proc", "--concurrency", str(concurrency), *(["--per-run-observer"] if per_run_observer else [])])
        env = env | {"PREFECT_WORKER_QUERY_SECONDS": "0.5"}
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1, start_new_session=True)
        self.ready = self.read(timeout=180)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read(self, timeout: float = 400) -> dict:
        import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log.name}")
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("BENCH "):
                    return json.loads(line[6:])
        raise TimeoutError("worker did not answer")

    def ask(self, command: str, timeout: float = 400) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except Exception:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
        self.log.close()


def _bodies(count: int, *, arrival_share: float = 0.0) -> list[dict]:
    import random

    from cases.clock import SHANGHAI, now
    from cases.simulate import application_body
    from cases.validation import load_regions

    today = now().astimezone(SHANGHAI).date()
    communities = [(m["code"], k["code"]) for c in load_regions()["cities"] for k in c["counties"] for m in k["communities"]]
    rng = random.Random(7)
    out = []
    for _ in range(count):
        community, county = rng.choice(communities)
        kind = "arrival" if rng.random() < arrival_share else "standard"
        out.append(application_body(unique_seq(), today=today, kind=kind, community=community, county=county, rng=rng))
    return out


def post_batch(port: int, count: int) -> list[str]:
    raws = [loadgen.build("POST", "/api/v1/applications", port=port, body=b) for b in _bodies(count)]
    results = loadgen.fire(port, raws, connections=8)
    bad = [(s, b[:200]) for s, b, _ in results if s != 201]
    if bad:
        raise RuntimeError(f"POST /api/v1/applications failed: {bad[:3]}")
    return [json.loads(b)["id"] for _, b, _ in results]


def statuses(engine, ids: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as c:
        rows = c.execute(text("SELECT status, count(*) FROM application WHERE id = ANY(:ids) GROUP BY status"), {"ids": ids}).all()
    return {str(s): int(n) for s, n in rows}


def approve_all(ids: list[str]) -> None:
    """An issuer of each case's community (or unit) claims its audit task and approves it, as the
    issuer's page does: the decision commits with a `resume` outbox row for the worker."""
    from sqlmodel import or_, select

    from cases.clock import now
    from cases.db import session_scope
    from cases.models import AuditTask, User
    from cases.services import audit
    from cases.settings import get_settings

    settings = get_settings()
    for case_id in ids:
        with session_scope() as session:
            task = session.exec(select(AuditTask).where(AuditTask.application_id == case_id)).one()
            user = session.exec(select(User).where(User.role == "issuer", or_(User.region_code == task.holder_code, User.unit_code == task.holder_code))).first()
            audit.claim(session=session, task_id=task.id, user=user, at=now())
            audit.decide(session=session, task_id=task.id, user=user, action="approve", at=now(), settings=settings)


def _add(counter: dict, more: dict) -> None:
    for k, v in more.items():
        counter[k] = counter.get(k, 0) + v


def baseline(engine, port: int, n: int) -> dict[str, float]:
    """The flow's first three steps (declare, compare, assign_audit: the services its tasks call,
    each in its own transaction as the tasks do) without Prefect, one case after another."""
    from sqlalchemy import text

    from cases.clock import now
    from cases.db import session_scope
    from cases.services import workflow
    from cases.services.applications import get_application
    from cases.settings import get_settings

    settings = get_settings()
    steps = (
        lambda s, a: workflow.declare(session=s, application=a, at=now()),
        lambda s, a: workflow.compare(session=s, application=a, at=now(), settings=settings, accept_incomplete=False),
        lambda s, a: workflow.route(session=s, application=a, at=now(), settings=settings),
    )
    ids = post_batch(port, n)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for case_id in ids:
        for step in steps:
            with session_scope() as session:
                step(session, get_application(session, case_id))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    with engine.begin() as c:  # these rows are done: no worker should start them later
        c.execute(text("UPDATE flowdispatch SET pending = false WHERE application_id = ANY(:ids)"), {"ids": ids})
    st = statuses(engine, ids)
    assert st.get("awaiting_audit") == n, st
    return {"per_s": n / elapsed, "cpu_ms_per_app": cpu * 1000 / n, "elapsed": elapsed}


def _naive(env: dict[str, str], args: list[str], log: Path) -> dict:
    with open(log, "ab") as err:
        argv = behind([PY, "-m", "bench._naive_flow", *args])
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=1800, start_new_session=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        raise RuntimeError(f"the naive flow ({' '.join(args)}) exited with {done.returncode}; see {log}")
    return json.loads(lines[-1][6:])


def naive_flow(env: dict[str, str], n: int, repeats: int, log: Path, *, server_pid: int, pg_db: str) -> dict:
    """bench/_naive_flow.py in its own process (its CPU its own) at the worker's priority, against
    the same Prefect server and store: a plain 3-task flow called `n` times in a row, `repeats` times,
    with what each run costs the server and its PostgreSQL backends."""
    got = _naive(env, ["--mode", "call", "--n", str(n), "--repeats", str(repeats), "--server-pid", str(server_pid), "--pg-db", pg_db], log)
    runs = got["runs"]
    keys = ("per_s", "elapsed", "client_cpu_ms", "server_cpu_ms", "pg_cpu_ms", "requests_per_run", "events_per_run")
    return {k: median([r[k] for r in runs]) for k in keys} | {"n": n, "runs": runs, "server_idle_cpu_ms_per_s": got.get("server_idle_cpu_ms_per_s")}


def naive_served(env: dict[str, str], n: int, repeats: int, limits: tuple[int, ...], log: Path) -> dict:
    """The same flow deployed on a `process` work pool and run by Prefect's process worker (a
    Python process per run) at each limit: its best limit's median runs/s."""
    by_limit = _naive(env, ["--mode", "served", "--n", str(n), "--repeats", str(repeats), "--limits", ",".join(map(str, limits))], log)["limits"]
    per_limit = {int(k): {"per_s": median([r["per_s"] for r in v["runs"]]), "worker_cpu_ms": median([r["worker_cpu_ms"] for r in v["runs"]]), "runs": v["runs"]} for k, v in by_limit.items()}
    best = max(per_limit, key=lambda k: per_limit[k]["per_s"])
    return {"per_s": per_limit[best]["per_s"], "worker_cpu_ms": per_limit[best]["worker_cpu_ms"], "limit": best, "n": n, "limits": per_limit}


def run(*, concurrencies=(4, 8, 16), n: int = 48, repeats: int = 3, post_rate: float | None = None, post_seconds: float = 20.0, profile: bool = True, naive_limits: tuple[int, ...] = (4, 8), log=print) -> dict[str, Any]:
    from cases.db import get_engine, reset_engine

    out: dict[str, Any] = {"n": n, "repeats": repeats, "intake": {}, "notes": []}
    with pg_database("hp_bench_store") as store_url, pg_database("hp_bench_prefect") as prefect_db, temp_dir("hp-bench-intake-") as tmp:
        prefect_db_name = prefect_db.rsplit("/", 1)[1]
        pport, aport = free_port(), free_port()
        papi = f"http://127.0.0.1:{pport}/api"
        prefect_env = {"PREFECT_HOME": str(tmp / "prefect"), "PREFECT_API_URL": papi, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        (tmp / "prefect").mkdir()
        store = seed_store(store_url, tmp / "var", prefect_api_url=papi, green_pass=False)
        env = child_env(store.env | prefect_env | {"HEALTHPASS_RATE_LIMIT_EXEMPT": "127.0.0.1,::1"})
        # The settings `healthpass serve` gives its Prefect server (its pool on PostgreSQL).
        server_env = with_server_defaults(child_env(prefect_env | {"PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url(prefect_db)}))
        engine = get_engine()
        log("  intake: starting the Prefect server (PostgreSQL) and the API")
        t_start = time.perf_counter()
        with Server(behind([PY, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(pport)]), env=server_env, health="/api/health", log=tmp / "prefect.log", port=pport, start_seconds=240) as prefect, Server(uvicorn_argv("web.main:app", aport), env=env, health="/healthz", log=tmp / "api.log", port=aport):
            out["prefect_start_s"] = time.perf_counter() - t_start
            def measure(d: WorkerProc, c: int, label: str) -> dict:
                post_batch(aport, 8)
                d.ask("drain 8")  # warm-up: imports, first client, deployment lookups
                runs = []
                for _ in range(repeats):
                    ids = post_batch(aport, n)
                    pg_pids0 = pg_backend_pids(prefect_db_name)
                    srv0, pg0 = tree_cpu_seconds(prefect.pid), pids_cpu_seconds(pg_pids0)
                    r = d.ask(f"drain {n}")
                    srv = tree_cpu_seconds(prefect.pid) - srv0
                    pg = pids_cpu_seconds(pg_backend_pids(prefect_db_name)) - pg0
                    st = statuses(engine, ids)
                    # The human's part (not timed), then the resume: the same runs, resumed from the
                    # outbox, execute record_decision and issue_pass to Completed.
                    approve_all(ids)
                    r2 = d.ask(f"drain {n}")
                    runs.append({
                        "resumed_elapsed": r2["elapsed"],
                        "full_per_s": n / (r["elapsed"] + r2["elapsed"]),
                        "resumed_states": r2.get("states", {}),
                        "resumed_failed": r2["failed"][:3],
                        "resumed_requests_per_app": sum(r2["requests"].values()) / n,
                        "resumed_client_cpu_ms": r2["cpu_s"] * 1000 / n,
                        "final_statuses": statuses(engine, ids),
                        "per_s": n / r["elapsed"],
                        "elapsed": r["elapsed"],
                        "client_cpu_ms": r["cpu_s"] * 1000 / n,
                        "server_cpu_ms": srv * 1000 / n,
                        "pg_cpu_ms": pg * 1000 / n,
                        "requests_per_app": sum(r["requests"].values()) / n,
                        "events_per_app": sum(r["events"].values()) / n,
                        "requests": r["requests"],
                        "events": r["events"],
                        "failed": r["failed"][:3],
                        "awaiting_audit": st.get("awaiting_audit", 0),
                        "statuses": st,
                        "loadavg": os.getloadavg()[0],
                    })
                    log(f"  intake {label} c={c}: {runs[-1]['per_s']:.1f} applications/s, {runs[-1]['requests_per_app']:.1f} requests/app, {st}; with the resume {runs[-1]['full_per_s']:.1f} runs/s, {runs[-1]['resumed_states']}")
                keys = ("per_s", "client_cpu_ms", "server_cpu_ms", "pg_cpu_ms", "requests_per_app", "events_per_app", "elapsed", "full_per_s", "resumed_elapsed", "resumed_requests_per_app", "resumed_client_cpu_ms")
                return {k: median([r[k] for r in runs]) for k in keys} | {
                    "runs": runs,
                    "all_reached_queue": all(r["awaiting_audit"] == n for r in runs),
                    "all_completed": all(r["resumed_states"].get("Completed", 0) == n and not r["resumed_failed"] for r in runs),
                }

            # What the worker's one suspension observer bought: the same worker with Prefect's own
            # observer per run (a thread, a client and an events websocket each), at the first limit,
            # measured first, on the smaller Prefect database (if anything, in its favour).
            c = concurrencies[0]
            d = WorkerProc(c, env, tmp / f"worker-{c}-per-run-observer.log", per_run_observer=True)
            try:
                out["per_run_observer"] = measure(d, c, "with Prefect's per-run suspension observer") | {"concurrency": c}
            finally:
                d.close()
            for c in concurrencies:
                d = WorkerProc(c, env, tmp / f"worker-{c}.log")
                try:
                    out["intake"][c] = measure(d, c, "as shipped")
                    if profile and c == concurrencies[len(concurrencies) // 2] and spy.py_spy():
                        out["profile"] = _profile(d, prefect.pid, aport, n, seconds=max(4.0, out["intake"][c]["elapsed"] * 0.8), tmp=tmp)
                finally:
                    d.close()
            # 6: POST latency while the worker works, and with its outbox draining stopped.
            out["post"] = _post_latency(aport, env, tmp, rate=post_rate, seconds=post_seconds, repeats=repeats, log=log)
            log("  intake: baseline (the same steps without Prefect)")
            out["baseline"] = [baseline(engine, aport, n) for _ in range(repeats)]
            out["baseline_per_s"] = median([b["per_s"] for b in out["baseline"]])
            out["baseline_cpu_ms"] = median([b["cpu_ms_per_app"] for b in out["baseline"]])
            naive_n = max(4, min(n, 24))
            log(f"  intake: naive Prefect flow (3 tasks, in-process flow() calls, {naive_n} runs x {repeats})")
            out["naive"] = naive_flow(env, naive_n, repeats, tmp / "naive.log", server_pid=prefect.pid, pg_db=prefect_db_name)
            out["naive_per_s"] = out["naive"]["per_s"]
            served_n = max(4, min(n, 16))
            log(f"  intake: naive Prefect flow served by Prefect's process worker ({served_n} runs x {repeats}, limits {naive_limits})")
            out["naive_served"] = naive_served(env, served_n, repeats, naive_limits, tmp / "naive-served.log")
            best = max(out["intake"].values(), key=lambda v: v["full_per_s"])
            log(f"  intake: naive 3-task flow {out['naive_per_s']:.1f} runs/s called, {out['naive_served']['per_s']:.2f} runs/s served; "
                f"ours/served {best['full_per_s'] / out['naive_served']['per_s']:.2f} with the resume; ours/called {best['full_per_s'] / out['naive_per_s']:.2f} with the resume, {best['per_s'] / out['naive_per_s']:.2f} to the suspension")
        reset_engine()
    return out


def _profile(d: WorkerProc, server_pid: int, port: int, n: int, *, seconds: float, tmp: Path) -> dict:
    """One more drain with py-spy on the worker and the Prefect server."""
    post_batch(port, n)
    client_file, server_file = tmp / "spy-worker.txt", tmp / "spy-server.txt"
    a = spy.record(d.pid, seconds, client_file, rate=100)
    b = spy.record(server_pid, seconds, server_file, rate=100, subprocesses=True)
    r = d.ask(f"drain {n}")
    for p in (a, b):
        if p:
            try:
                p.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                p.kill()
    inclusive_client = ("create_default_context", "load_verify_locations", "get_client", "PrefectClient.__aenter__", "hydrate", "pendulum", "prefect/settings", "prefect/context", "prefect/flow_engine", "prefect/task_engine", "prefect/client/orchestration", "prefect/events", "prefect/logging", "httpx", "httpcore", "sqlalchemy", "psycopg", "pydantic", "cases/services", "workers/", "tasks/", "websockets", "json")
    inclusive_server = ("prefect/server/api", "prefect/server/orchestration", "prefect/server/models", "prefect/server/events", "prefect/server/services", "sqlalchemy", "asyncpg", "pydantic", "starlette", "fastapi", "uvicorn", "json")
    return {
        "seconds": seconds,
        "run": {"per_s": n / r["elapsed"], "requests": r["requests"], "events": r["events"]},
        "worker": spy.summarize(client_file, inclusive=inclusive_client),
        "server": spy.summarize(server_file, inclusive=inclusive_server),
    }


def submission_capacity(port: int, *, count: int = 200, connections: int = 8) -> float:
    """POST /api/v1/applications/s with no worker running: `count` new applications (30 %
    arrivals) sent as fast as `connections` allow; only 201s count."""
    raws = [loadgen.build("POST", "/api/v1/applications", port=port, body=b) for b in _bodies(count, arrival_share=0.3)]
    t0 = time.perf_counter()
    results = loadgen.fire(port, raws, connections=connections)
    return sum(1 for status, _, _ in results if status == 201) / (time.perf_counter() - t0)


def _post_latency(port: int, env: dict, tmp: Path, *, rate: float | None, seconds: float, repeats: int, log) -> dict:
    """POST latency at an offered rate while the worker runs flows, and with it stopped. With no
    `rate`, half the API's submission capacity, measured first in the same run (issue 15)."""
    capacity = submission_capacity(port) if rate is None else None
    if capacity is not None:
        rate = capacity / 2
        log(f"  post: submission capacity {capacity:.1f}/s (no worker); offering {rate:.1f}/s")

    def load() -> dict:
        bodies = _bodies(int(rate * (seconds + 1)) + 5, arrival_share=0.3)
        raws = [loadgen.build("POST", "/api/v1/applications", port=port, body=b) for b in bodies]
        r = loadgen.open_loop(port, raws, rate=rate, duration=seconds, connections=16, warmup=1.0)
        return {"p50_ms": r.pct(50), "p99_ms": r.pct(99), "max_ms": r.pct(100), "achieved": r.rps, "non201": r.requests - r.statuses.get(201, 0), "errors": r.errors, "loadavg": os.getloadavg()[0], "latencies_ms": r.latencies_ms}

    d = WorkerProc(8, env, tmp / "worker-post.log")
    try:
        d.ask("forever")
        time.sleep(1.0)
        busy = [load() for _ in range(repeats)]
    finally:
        d.proc.terminate()  # mid-batch on purpose: its runs are not waited for
        try:
            d.proc.wait(15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
        d.log.close()
    time.sleep(1.0)
    idle = [load() for _ in range(repeats)]
    def pooled(runs: list[dict]) -> dict:
        samples = [ms for r in runs for ms in r.pop("latencies_ms")]
        return {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99), "max_ms": max(samples, default=0.0), "samples": len(samples),
                "achieved": median([r["achieved"] for r in runs]), "runs": runs}

    res = {
        "busy": pooled(busy),
        "idle": pooled(idle),
        "rate": rate,
        "capacity_per_s": capacity,
        "seconds": seconds,
    }
    res["p99_ratio"] = res["busy"]["p99_ms"] / res["idle"]["p99_ms"] if res["idle"]["p99_ms"] else None
    log(f"  post: while flows run p50 {res['busy']['p50_ms']:.1f} ms p99 {res['busy']['p99_ms']:.1f} ms; worker stopped p99 {res['idle']['p99_ms']:.1f} ms"
        + (f" (× {res['p99_ratio']:.2f})" if res["p99_ratio"] else ""))
    return res
