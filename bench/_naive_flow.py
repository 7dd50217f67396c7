"""The intake benchmark's Prefect baseline: a naive three-task flow run the usual way.

A plain ``@flow`` with three plain ``@task``'s (Prefect's defaults throughout), each a trivial
store read and write comparable to one of the application's steps (read the case, write one
row), called in this process (``naive(case_id)``) against the same Prefect server, one run after
another. What a first Prefect version of the application flow would cost, without the
suspension and resume that ours includes.

Prints ``BENCH {json}``: runs/s of each repeat, CPU of this process, requests and events.

    python -m bench._naive_flow --n 8 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from prefect import flow, task
from sqlalchemy import text

from cases.db import session_scope

TABLE = "bench_naive_step"


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


def main(n: int, repeats: int) -> dict:
    from bench._worker_proc import EVENTS, REQUESTS, _count_requests

    _count_requests()
    with session_scope() as session:
        session.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (case_id text, step text, seen_status text, PRIMARY KEY (case_id, step))"))
        ids = list(session.execute(text("SELECT id FROM application ORDER BY id LIMIT :n"), {"n": n}).scalars())
    if not ids:
        raise SystemExit("no application in the store to read")
    naive(ids[0])  # warm-up: imports, the flow's registration, the first client
    runs = []
    for _ in range(repeats):
        REQUESTS.clear()
        EVENTS.clear()
        cpu0, t0 = _cpu(), time.perf_counter()
        for i in range(n):
            naive(ids[i % len(ids)])
        elapsed = time.perf_counter() - t0
        runs.append({
            "per_s": n / elapsed,
            "elapsed": elapsed,
            "client_cpu_ms": (_cpu() - cpu0) * 1000 / n,
            "requests_per_run": sum(REQUESTS.values()) / n,
            "events_per_run": sum(EVENTS.values()) / n,
            "requests": dict(REQUESTS),
        })
    return {"runs": runs}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    out = main(args.n, args.repeats)
    sys.stdout.write("BENCH " + json.dumps(out) + "\n")
    sys.stdout.flush()
