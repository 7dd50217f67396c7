"""Benchmark: the capacity model (issue 15) and its check on the local cluster.

`deploy/local-cluster` (2 Prefect API processes, 1 services process, Redis, 2 healthpass APIs,
workers; its own databases, Redis DB, ports) is started on this machine. N standard applications
(another person each) are posted by 8 clients through both APIs until every case is in the
issuer's queue (the intake leg); then the issuer approves them all, through both APIs, until every
case is completed with its pass (the decision leg). CPU seconds of every process kind are read
from /proc before and after each leg: the healthpass APIs, the workers, the Prefect API processes,
the Prefect services process, PostgreSQL (all its backends), Redis.

This is done with 2 workers, then again with worker-2 stopped (1 worker). From the CPU each kind
spends per application:

- the model's prediction for this machine: applications/s = min(cores / CPU of all kinds,
  for each kind: its processes / its CPU), since each process is one Python process that uses
  one core at most;
- the capacity table: cores of each kind for RATE applications/s at UTILISATION.

    python -m bench.capacity [--n 80] [--rate 120]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx

from sqlalchemy import create_engine, text

from bench.common import PG_ADMIN_URL, PY, ROOT, free_port, pids_cpu_seconds, temp_dir, tree_cpu_seconds
from bench.embedded import _standard

SCRIPT = ROOT / "deploy" / "local-cluster"
UTILISATION = 0.6  # plan cores so a peak runs them at 60 %: queues stay short, one loss is absorbed
KINDS = ("healthpass API", "worker", "Prefect API", "Prefect services", "PostgreSQL", "Redis")


class LocalCluster:
    def __init__(self, tmp: Path):
        import redis

        db = next((d for d in range(15, 7, -1) if redis.Redis(host="127.0.0.1", port=6379, db=d).dbsize() == 0), None)
        if db is None:
            raise RuntimeError("no empty Redis database among 8-15")
        self.api_ports, self.prefect_ports = [free_port(), free_port()], [free_port(), free_port()]
        self.run_dir = tmp / "cluster"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HEALTHPASS_"))}
        self.env.update(
            HEALTHPASS_PYTHON=PY, HP_CLUSTER_RUN_DIR=str(self.run_dir), HP_CLUSTER_DB_PREFIX=f"hp_cap_{os.getpid()}_{uuid.uuid4().hex[:6]}",
            HP_CLUSTER_PG=PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0], HP_CLUSTER_REDIS="127.0.0.1:6379", HP_CLUSTER_REDIS_DB=str(db),
            HP_CLUSTER_API_PORTS=",".join(map(str, self.api_ports)), HP_CLUSTER_PREFECT_PORTS=",".join(map(str, self.prefect_ports)),
        )
        self.apis = [f"http://127.0.0.1:{p}" for p in self.api_ports]
        self.store_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.env["HP_CLUSTER_DB_PREFIX"] + "_store"

    def run(self, *args: str, timeout: float = 900) -> None:
        done = subprocess.run([PY, str(SCRIPT), *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"local-cluster {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def pids(self) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in (self.run_dir / "pids").glob("*.pid")}

    def stop_worker(self, name: str) -> None:
        pid = self.pids()[name]
        os.killpg(pid, signal.SIGTERM)  # `healthpass worker` ends at once on SIGTERM
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each kind of process."""
        kinds = dict.fromkeys(KINDS, 0.0)
        for name, pid in self.pids().items():
            kind = "healthpass API" if name.startswith("api-") else "worker" if name.startswith("worker-") else "Prefect API" if name.startswith("prefect-api") else "Prefect services"
            kinds[kind] += tree_cpu_seconds(pid)
        kinds["PostgreSQL"] = pids_cpu_seconds(_named("postgres"))
        kinds["Redis"] = pids_cpu_seconds(_named("redis-server"))
        return kinds


def _named(comm: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() == comm:
                    out.append(int(entry))
    return out


@contextlib.contextmanager
def local_cluster() -> Iterator[LocalCluster]:
    with temp_dir("hp-capacity-") as tmp:
        cluster = LocalCluster(tmp)
        try:
            cluster.run("start", "--seed")
            yield cluster
        finally:
            with contextlib.suppress(Exception):
                cluster.run("stop", "--drop", timeout=180)


def _legs(cluster: LocalCluster, *, n: int, first_person: int, clients: int = 8, log=print) -> dict:
    """The intake leg then the decision leg: seconds and CPU seconds of each kind, per leg."""
    from cases.simulate import mobile, resident_id

    # Idle connections dropped before uvicorn's 5 s keep-alive closes them (a request on a
    # connection being closed is reset).
    http = [httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(keepalive_expiry=2.0)) for url in cluster.apis]
    example = _standard(http[0])
    tokens = [c.post("/api/v1/auth/token", data={"username": "qingdao-issuer", "password": "demo-pass-2026"}).json()["access_token"] for c in http]

    def queue(i: int = 0) -> dict[str, str]:
        tasks = http[i].get("/api/v1/audit-tasks", headers={"Authorization": f"Bearer {tokens[i]}"}, params={"limit": 500}).json()
        return {t["application_id"]: t["task_id"] for t in tasks}

    def post(i: int) -> str:
        body = {**example, "id_number": resident_id(first_person + i, county=example["id_number"][:6]), "phone": mobile(first_person + i)}
        r = http[i % 2].post("/api/v1/applications", json=body)
        r.raise_for_status()
        return r.json()["id"]

    store = create_engine(cluster.store_url)

    def completed(ids: set[str]) -> bool:
        with store.connect() as c:
            done = c.execute(text("SELECT count(*) FROM application WHERE status = 'completed' AND id = ANY(:ids)"), {"ids": list(ids)}).scalar_one()
        return done == len(ids)

    result: dict = {}
    cpu0, t0 = cluster.cpu(), time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        ids = set(pool.map(post, range(n)))
    while not ids <= set(queue()):
        if time.monotonic() - t0 > 900:
            raise TimeoutError(f"{len(ids - set(queue()))} of {n} cases not in the issuer's queue after 900 s")
        time.sleep(0.5)
    cpu1, t1 = cluster.cpu(), time.monotonic()
    result["intake"] = {"seconds": t1 - t0, "per_s": n / (t1 - t0), "cpu_ms": {k: (cpu1[k] - cpu0[k]) * 1000 / n for k in KINDS}}
    tasks = queue()

    def approve(j: int, case_id: str) -> None:
        r = http[j % 2].post(f"/api/v1/audit-tasks/{tasks[case_id]}/decision", json={"action": "approve"}, headers={"Authorization": f"Bearer {tokens[j % 2]}"})
        r.raise_for_status()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(approve, range(n), sorted(ids)))
    while not completed(ids):
        if time.monotonic() - t1 > 900:
            raise TimeoutError(f"not every case completed {time.monotonic() - t1:.0f} s after its approval")
        time.sleep(1)
    cpu2, t2 = cluster.cpu(), time.monotonic()
    result["decision"] = {"seconds": t2 - t1, "per_s": n / (t2 - t1), "cpu_ms": {k: (cpu2[k] - cpu1[k]) * 1000 / n for k in KINDS}}
    for c in http:
        c.close()
    store.dispose()
    for leg in ("intake", "decision"):
        r = result[leg]
        log(f"  {leg}: {n} applications in {r['seconds']:.1f} s = {r['per_s']:.2f}/s; CPU-ms per application: "
            + ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_ms"].items()))
    return result


def predict(cpu_ms: dict[str, float], processes: dict[str, int], cores: float) -> float:
    """Applications/s this machine can do by the model: all kinds share `cores`; a process is one core at most."""
    bounds = [cores * 1000 / sum(cpu_ms.values())]
    bounds += [processes[k] * 1000 / cpu_ms[k] for k in processes if cpu_ms.get(k, 0) > 0]
    return min(bounds)


def capacity_table(cpu_ms: dict[str, float], *, rate: float, utilisation: float = UTILISATION) -> dict[str, float]:
    """Cores of each kind for `rate` applications/s (intake and decision legs together)."""
    return {k: rate * v / 1000 / utilisation for k, v in cpu_ms.items()}


def run(*, n: int = 80, rate: float = 120.0, log=print) -> dict:
    cores = os.cpu_count() or 1
    out: dict = {"n": n, "rate": rate, "utilisation": UTILISATION, "cores": cores}
    with local_cluster() as cluster:
        _legs(cluster, n=4, first_person=6_000_000, log=lambda *_: None)  # the first runs register what they need
        log("local cluster, 2 workers:")
        out["2 workers"] = _legs(cluster, n=n, first_person=6_100_000, log=log)
        cluster.stop_worker("worker-2")
        log("local cluster, 1 worker (worker-2 stopped):")
        out["1 worker"] = _legs(cluster, n=n, first_person=6_200_000, log=log)
    processes = {"healthpass API": 2, "Prefect API": 2, "Prefect services": 1}
    for workers in (1, 2):
        key = f"{workers} worker" + ("s" if workers > 1 else "")
        for leg in ("intake", "decision"):
            model = out["2 workers"][leg]["cpu_ms"]  # the costs measured with 2 workers predict both
            predicted = predict(model, processes | {"worker": workers}, cores)
            out[key][leg]["predicted_per_s"] = predicted
            log(f"  {key}, {leg}: predicted {predicted:.2f}/s, measured {out[key][leg]['per_s']:.2f}/s ({out[key][leg]['per_s'] / predicted:.2f} of the model)")
    per_app = {k: out["2 workers"]["intake"]["cpu_ms"][k] + out["2 workers"]["decision"]["cpu_ms"][k] for k in KINDS}
    out["per_application_cpu_ms"] = per_app
    out["table"] = capacity_table(per_app, rate=rate)
    log(f"cores for {rate:.0f} applications/s at {UTILISATION:.0%}: " + ", ".join(f"{k} {v:.1f}" for k, v in out["table"].items())
        + f"; {sum(out['table'].values()):.0f} in all")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=80)
    parser.add_argument("--rate", type=float, default=120.0)
    args = parser.parse_args()
    run(n=args.n, rate=args.rate)
