"""Benchmark: what `make run` delivers end to end (issue 15), beside the same on PostgreSQL.

Two set-ups, measured the same way in the same run:

- embedded: `healthpass serve` as `make run` starts it: the store on SQLite, its own local Prefect
  server on SQLite, one healthpass worker;
- postgres: the same `serve`, with the store and its Prefect server each on a PostgreSQL database
  of their own (`HEALTHPASS_DATABASE_URL`, `PREFECT_SERVER_DATABASE_CONNECTION_URL`).

Each: `db upgrade`, `seed --no-history`, `serve`; once /healthz says Prefect and the worker are ok
and one warm-up case has reached the issuer's queue, N standard applications (another person each)
are POSTed by 8 clients through the public API. Applications/s = N / seconds from the first POST
until every case is in the issuer's queue (`GET /api/v1/audit-tasks` as the issuer, twice a
second). Also: POST latency, and CPU seconds of `serve`'s whole process tree per application.

    python -m bench.embedded [--n 60] [--clients 8]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx

from bench.common import PY, ROOT, asyncpg_url, child_env, free_port, pg_database, temp_dir, tree_cpu_seconds


def _ready(client: httpx.Client) -> bool:
    try:
        components = client.get("/healthz", timeout=10).json()["components"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return components["prefect"]["status"] == "ok" and components["worker"]["status"] == "ok"


@contextlib.contextmanager
def serving(extra_env: dict[str, str] | None = None, *, prefix: str = "hp-serve-", keep_log: Path | None = None) -> Iterator[tuple[httpx.Client, subprocess.Popen, float]]:
    """`make run` in a temporary data directory on free ports: (client, serve process, seconds
    from `serve` until Prefect and the worker were ok). Nothing of this machine's environment
    that points elsewhere (a store, a Prefect API) leaks in."""
    with temp_dir(prefix) as tmp:
        port = free_port()
        env = {k: v for k, v in child_env().items() if not k.startswith("PREFECT_") and k not in ("HEALTHPASS_DATABASE_URL", "HEALTHPASS_PREFECT_API_URL")}
        env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HEALTHPASS_DATA_DIR": str(tmp / "var"), "HEALTHPASS_PORT": str(port), "HEALTHPASS_PREFECT_PORT": str(free_port())}
        env |= extra_env or {}
        for step in (["db", "upgrade"], ["seed", "--no-history"]):
            subprocess.run([PY, "-m", "ops.cli", *step], env=env, cwd=ROOT, check=True, capture_output=True)
        started = time.monotonic()
        log = open(tmp / "serve.log", "w")  # noqa: SIM115 -- the child writes it until it stops
        serve = subprocess.Popen([PY, "-m", "ops.cli", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                while not _ready(client):
                    if serve.poll() is not None:
                        raise RuntimeError(f"serve exited: {(tmp / 'serve.log').read_text()[-2000:]}")
                    time.sleep(1)
                yield client, serve, time.monotonic() - started
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=60)
            log.close()
            if keep_log is not None:
                shutil.copyfile(tmp / "serve.log", keep_log)


def _standard(client: httpx.Client) -> dict:
    return client.get("/openapi.json").json()["paths"]["/api/v1/applications"]["post"]["requestBody"]["content"]["application/json"]["examples"]["standard"]["value"]


def _intake(client: httpx.Client, serve: subprocess.Popen, *, n: int, clients: int, first_person: int, log, label: str = "embedded") -> dict:
    from cases.simulate import mobile, resident_id

    example = _standard(client)
    token = client.post("/api/v1/auth/token", data={"username": "qingdao-issuer", "password": "demo-pass-2026"}).json()["access_token"]
    issuer = {"Authorization": f"Bearer {token}"}

    def queued() -> set[str]:
        return {t["application_id"] for t in client.get("/api/v1/audit-tasks", headers=issuer).json()}

    def body(i: int) -> dict:
        return {**example, "id_number": resident_id(first_person + i, county=example["id_number"][:6]), "phone": mobile(first_person + i)}

    def post(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        r = client.post("/api/v1/applications", json=body(i))
        r.raise_for_status()
        return r.json()["id"], time.perf_counter() - t0

    # Warm-up: the first flow run of a fresh system registers what it needs; not counted.
    warm, _ = post(n)
    deadline = time.monotonic() + 300
    while warm not in queued():
        if time.monotonic() > deadline:
            raise TimeoutError("the warm-up case did not reach the issuer's queue in 300 s")
        time.sleep(0.5)
    cpu0 = tree_cpu_seconds(serve.pid)
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        posted = list(pool.map(post, range(n)))
    posted_s = time.monotonic() - t0
    ids = {case_id for case_id, _ in posted}
    while not ids <= queued():
        if time.monotonic() - t0 > 900:
            raise TimeoutError(f"{len(ids - queued())} of {n} cases not in the issuer's queue after 900 s")
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    cpu = tree_cpu_seconds(serve.pid) - cpu0
    latencies = sorted(s * 1000 for _, s in posted)
    result = {
        "n": n, "clients": clients, "seconds": round(seconds, 2), "per_s": n / seconds, "posted_s": round(posted_s, 2),
        "post_p50_ms": statistics.median(latencies), "post_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "cpu_ms_per_app": cpu * 1000 / n,
    }
    log(f"{label}: {n} applications by {clients} clients in {seconds:.1f} s = {result['per_s']:.2f}/s (POSTs done after {posted_s:.1f} s; "
        f"POST p50 {result['post_p50_ms']:.0f} ms, p99 {result['post_p99_ms']:.0f} ms; serve's processes {result['cpu_ms_per_app']:.0f} CPU-ms per application)")
    return result


def run(*, n: int = 60, clients: int = 8, log=print) -> dict:
    out: dict = {}
    with serving(prefix="hp-embedded-") as (client, serve, ready_s):
        log(f"embedded (SQLite store, local Prefect server on SQLite): ready after {ready_s:.0f} s")
        out["embedded"] = _intake(client, serve, n=n, clients=clients, first_person=4_000_000, log=log) | {"ready_s": round(ready_s, 1)}
    with pg_database("hp_bench_emb_store") as store, pg_database("hp_bench_emb_prefect") as prefect_db:
        env = {"HEALTHPASS_DATABASE_URL": store, "PREFECT_SERVER_DATABASE_CONNECTION_URL": asyncpg_url(prefect_db)}
        with serving(env, prefix="hp-embedded-pg-") as (client, serve, ready_s):
            log(f"postgres (store and Prefect server on PostgreSQL): ready after {ready_s:.0f} s")
            out["postgres"] = _intake(client, serve, n=n, clients=clients, first_person=5_000_000, log=log, label="postgres") | {"ready_s": round(ready_s, 1)}
    out["ratio"] = out["embedded"]["per_s"] / out["postgres"]["per_s"]
    log(f"embedded / postgres: {out['ratio']:.2f} ×")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    run(n=args.n, clients=args.clients)
