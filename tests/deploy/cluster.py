"""The local cluster (deploy/local-cluster) driven from tests: its own databases, Redis DB, ports
and run dir, so a test run never meets another's leftovers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _free_port, _pg_available

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster"


def client(timeout: float) -> httpx.Client:
    """The tests' HTTP client for the cluster. It drops an idle connection after 2 s, before
    uvicorn closes it (its keep-alive is 5 s): a request sent on a connection the server is closing
    that moment is reset (seen in CI as `Connection reset by peer` on a GET polled every 3 s)."""
    return httpx.Client(timeout=timeout, limits=httpx.Limits(keepalive_expiry=2.0))


def _redis():
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        if REQUIRE_PG:  # CI starts both PostgreSQL and Redis
            pytest.fail("Redis required but not reachable at 127.0.0.1:6379")
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return client


def _empty_redis_db(client) -> int:
    """A Redis database nobody uses (0 is the default of everything else on this machine)."""
    import redis

    for db in range(15, 7, -1):
        if redis.Redis(host="127.0.0.1", port=6379, db=db).dbsize() == 0:
            return db
    pytest.skip("no empty Redis database among 8-15")


def _established(port: int) -> int:
    """TCP connections established to a local listening port (server side), from /proc/net/tcp."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, _remote, state = line.split()[1:4]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Cluster:
    def __init__(self, tmp_path: Path, redis_db: int):
        self.prefix = f"hp_lc_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.run_dir = tmp_path / "cluster"
        self.api_ports = [_free_port(), _free_port()]
        self.prefect_ports = [_free_port(), _free_port()]
        pg = PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HEALTHPASS_"))}
        self.env.update(
            HEALTHPASS_PYTHON=sys.executable, HP_CLUSTER_RUN_DIR=str(self.run_dir), HP_CLUSTER_DB_PREFIX=self.prefix,
            HP_CLUSTER_PG=pg, HP_CLUSTER_REDIS="127.0.0.1:6379", HP_CLUSTER_REDIS_DB=str(redis_db),
            HP_CLUSTER_API_PORTS=",".join(map(str, self.api_ports)), HP_CLUSTER_PREFECT_PORTS=",".join(map(str, self.prefect_ports)),
        )
        self.apis = [f"http://127.0.0.1:{p}" for p in self.api_ports]
        self.prefects = [f"http://127.0.0.1:{p}/api" for p in self.prefect_ports]
        self.seen_pids: set[int] = set()

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def pids(self) -> dict[str, int]:
        found = {p.stem: int(p.read_text()) for p in (self.run_dir / "pids").glob("*.pid")}
        self.seen_pids.update(found.values())
        return found

    def log(self, name: str) -> str:
        path = self.run_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _until(what: str, check, *, seconds: float, every: float = 1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def flow_run_problems(http, cluster: Cluster, views: list[dict]) -> list[str]:
    """Each case's flow run, read alternately from the two Prefect API processes, is Completed.
    The store completes a case inside `issue_pass`; the worker proposes the run's Completed
    state a moment later, so this waits (60 s at most) for every run to leave Running first."""

    def states() -> dict[str, str]:
        said = {}
        for i, v in enumerate(views):
            r = http.get(f"{cluster.prefects[i % 2]}/flow_runs/{v['flow_run']['id']}")
            state = r.json()["state"]["type"] if r.status_code == 200 else f"HTTP {r.status_code} {r.text[:120]}"
            said[v["reference"]] = f"Prefect API {i % 2 + 1} says {state}"
        return said

    def settled() -> dict[str, str]:
        now = states()
        return {} if any(s.endswith(("RUNNING", "PENDING")) for s in now.values()) else now

    try:
        final = _until("every flow run leaves Running", settled, seconds=60, every=1)
    except AssertionError:
        final = states()
    return [f"{ref}: {said}" for ref, said in final.items() if not said.endswith(" COMPLETED")]


def stop_and_check(cluster: Cluster, redis_db: int) -> None:
    """`stop --drop` leaves no process, no database and no Redis key behind."""
    cluster.pids()
    stopped = cluster.run("stop", "--drop", timeout=120)
    leftovers = [p for p in cluster.seen_pids if _alive(p)]
    for p in leftovers:
        os.kill(p, 9)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not leftovers
    from sqlalchemy import text

    from tests.conftest import _pg_admin_engine

    with _pg_admin_engine().connect() as c:
        assert not c.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": cluster.prefix + "%"}).all()
    import redis

    assert redis.Redis(host="127.0.0.1", port=6379, db=redis_db).dbsize() == 0


def approved_once_problems(views: list[dict]) -> list[str]:
    """Every case approved, with one green pass issued once, none closed without a decision (R14)."""
    problems = []
    for v in views:
        if not (v["status"] == "completed" and v["decision"] == "approve" and (v.get("pass") or {}).get("colour") == "green"):
            problems.append(f"{v['reference']}: {v['status']}, decision {v['decision']}, pass {v.get('pass')}")
        issued = [e["action"] for e in v["timeline"]].count("pass_issued")
        if issued != 1:
            problems.append(f"{v['reference']}: pass_issued {issued} times")
    return problems


def new_cluster(tmp_path: Path) -> tuple[Cluster, int]:
    """A cluster of its own (databases, an empty Redis DB, a run dir); PostgreSQL and Redis are
    required in CI and skipped without elsewhere."""
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    redis_db = _empty_redis_db(_redis())
    return Cluster(tmp_path, redis_db), redis_db
