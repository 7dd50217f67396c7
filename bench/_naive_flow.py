"""The intake benchmark's Prefect baseline: a naive three-task flow, run two ways.

A plain ``@flow`` with three plain ``@task``'s (Prefect's defaults throughout), each a trivial
store read and write comparable to one of the application's steps (read the case, write one
row). What a first Prefect version of the application flow would cost, without the suspension
and resume that ours includes.

- ``--mode call``: ``naive(case_id)`` called in this process against the same Prefect server,
  one run after another (Prefect's cheapest path: no deployment, no worker).
- ``--mode served``: how Prefect runs a flow per incoming request by default: a deployment of
  it (``naive.from_source(...).deploy(...)``) on a ``process`` work pool, its runs created
  through the API and executed by ``prefect worker start --type process`` (a new Python process
  per run), at the given worker limits. This is the process-per-run shape the healthpass worker
  replaces (issue 15).

Prints ``BENCH {json}``: runs/s of each repeat, CPU (this process; for ``served``, the worker
with its reaped run processes), requests and events (``call``); for ``call`` given the server's
pid and database, the Prefect server's and its PostgreSQL backends' CPU per run too.

    python -m bench._naive_flow --mode call --n 8 --repeats 3
    python -m bench._naive_flow --mode served --n 24 --repeats 3 --limits 4,8
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from prefect import flow, task
from sqlalchemy import text

from bench.common import pg_backend_pids, pids_cpu_seconds, tree_cpu_seconds
from cases.db import session_scope

TABLE = "bench_naive_step"
POOL = "bench-naive-process"
ROOT = Path(__file__).resolve().parent.parent


def _step(case_id: str, step: str) -> str:
    with session_scope() as session:
        status = session.execute(text("SELECT status FROM application WHERE id = :id"), {"id": case_id}).scalar_one()
        session.execute(
            text(f"INSERT INTO {TABLE} (case_id, step, seen_status) VALUES (:c, :s, :st) ON CONFLICT (case_id, step) DO UPDATE SET seen_status = excluded.seen_status"),
            {"c": case_id, "s": step, "st": str(status)},
        )
    return str(status)


@task
def first(case_id: str) -> str:
    return _step(case_id, "first")


@task
def second(case_id: str) -> str:
    return _step(case_id, "second")


@task
def third(case_id: str) -> str:
    return _step(case_id, "third")


@flow
def naive(case_id: str) -> list[str]:
    return [first(case_id), second(case_id), third(case_id)]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _case_ids(n: int) -> list[str]:
    with session_scope() as session:
        session.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (case_id text, step text, seen_status text, PRIMARY KEY (case_id, step))"))
        ids = list(session.execute(text("SELECT id FROM application ORDER BY id LIMIT :n"), {"n": n}).scalars())
    if not ids:
        raise SystemExit("no application in the store to read")
    return ids


def main(n: int, repeats: int, *, server_pid: int | None = None, pg_db: str | None = None, idle_seconds: float = 5.0) -> dict:
    """With the Prefect server's pid (and its PostgreSQL database), each repeat also gives what the
    runs cost the server and its backends, and the server's CPU while idle (its background
    services) is measured first, over `idle_seconds`, so that share can be told apart."""
    from bench._worker_proc import EVENTS, REQUESTS, _count_requests

    def server_cpu() -> tuple[float, float]:
        if server_pid is None:
            return 0.0, 0.0
        return tree_cpu_seconds(server_pid), pids_cpu_seconds(pg_backend_pids(pg_db)) if pg_db else 0.0

    _count_requests()
    ids = _case_ids(n)
    naive(ids[0])  # warm-up: imports, the flow's registration, the first client
    out: dict = {"runs": []}
    if server_pid is not None:
        srv0, t0 = server_cpu()[0], time.perf_counter()
        time.sleep(idle_seconds)
        out["server_idle_cpu_ms_per_s"] = (server_cpu()[0] - srv0) * 1000 / (time.perf_counter() - t0)
    for _ in range(repeats):
        REQUESTS.clear()
        EVENTS.clear()
        (srv0, pg0), cpu0, t0 = server_cpu(), _cpu(), time.perf_counter()
        for i in range(n):
            naive(ids[i % len(ids)])
        elapsed = time.perf_counter() - t0
        srv, pg = server_cpu()
        out["runs"].append({
            "per_s": n / elapsed,
            "elapsed": elapsed,
            "client_cpu_ms": (_cpu() - cpu0) * 1000 / n,
            "server_cpu_ms": (srv - srv0) * 1000 / n,
            "pg_cpu_ms": (pg - pg0) * 1000 / n,
            "requests_per_run": sum(REQUESTS.values()) / n,
            "events_per_run": sum(EVENTS.values()) / n,
            "requests": dict(REQUESTS),
        })
    return out


def _deploy() -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        except ObjectAlreadyExists:
            pass
    source = naive.from_source(source=str(ROOT), entrypoint="bench/_naive_flow.py:naive")
    return str(source.deploy(name="naive", work_pool_name=POOL, print_next_steps=False, ignore_warnings=True))


def _run_batch(client, deployment_id: str, ids: list[str], n: int) -> float:
    """Create `n` runs of the deployment and wait until all are final; seconds from the first
    creation to the poll that saw the last one final (runs not Completed fail the benchmark)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    t0 = time.perf_counter()
    runs = [client.create_flow_run_from_deployment(deployment_id, parameters={"case_id": ids[i % len(ids)]}).id for i in range(n)]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.25)
        found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=runs)), limit=n)
        states = [r.state for r in found]
        if len(found) == n and all(s is not None and s.is_final() for s in states):
            elapsed = time.perf_counter() - t0
            bad = [s.name for s in states if not s.is_completed()]
            if bad:
                raise SystemExit(f"served naive runs ended {bad[:3]}")
            return elapsed
    raise SystemExit("served naive runs did not finish in 600 s")


def served(n: int, repeats: int, limits: list[int]) -> dict:
    from prefect.client.orchestration import get_client

    ids = _case_ids(n)
    deployment_id = _deploy()
    out = {}
    for limit in limits:
        argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process", "--limit", str(limit)]
        worker = subprocess.Popen(argv, cwd=ROOT, env=os.environ | {"PREFECT_WORKER_QUERY_SECONDS": "0.5"}, stdout=sys.stderr, stderr=sys.stderr)
        try:
            with get_client(sync_client=True) as client:
                _run_batch(client, deployment_id, ids, 2)  # warm-up: the worker's start and first runs
                runs = []
                for _ in range(repeats):
                    cpu0 = tree_cpu_seconds(worker.pid)
                    elapsed = _run_batch(client, deployment_id, ids, n)
                    runs.append({"per_s": n / elapsed, "elapsed": elapsed, "worker_cpu_ms": (tree_cpu_seconds(worker.pid) - cpu0) * 1000 / n})
            out[limit] = {"runs": runs}
        finally:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
    return {"limits": out}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("call", "served"), default="call")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limits", default="4,8", help="served: the process worker's limits to measure, comma-separated")
    p.add_argument("--server-pid", type=int, help="call: the Prefect server's pid, to measure its CPU per run")
    p.add_argument("--pg-db", help="call: the Prefect server's PostgreSQL database, to measure its backends' CPU per run")
    args = p.parse_args()
    out = main(args.n, args.repeats, server_pid=args.server_pid, pg_db=args.pg_db) if args.mode == "call" else served(args.n, args.repeats, [int(x) for x in args.limits.split(",")])
    sys.stdout.write("BENCH " + json.dumps(out) + "\n")
    sys.stdout.flush()
