"""Shared helpers: statistics, machine facts, throwaway PostgreSQL databases, seeded
stores, subprocess servers and per-process CPU time from /proc."""
from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PG_ADMIN_URL = os.environ.get("HEALTHPASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEAD_PREFECT = "http://127.0.0.1:9/api"  # nothing listens there: the API must not need Prefect
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ stats ---

def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a list of numbers."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def repeat(n: int, fn, *args, **kwargs) -> list:
    return [fn(*args, **kwargs) for _ in range(n)]


# --------------------------------------------------------------- machine ---

def _first(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text, re.M)
    return m.group(1).strip() if m else None


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    info: dict[str, Any] = {
        "cpu": _first(r"^model name\s*:\s*(.+)$", cpuinfo) or platform.processor(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "ram_gib": round(int(_first(r"^MemTotal:\s*(\d+)", meminfo) or 0) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }
    try:
        import prefect

        info["prefect"] = prefect.__version__
    except Exception as exc:  # pragma: no cover
        info["prefect"] = f"unavailable ({exc})"
    for name in ("fastapi", "uvicorn", "sqlalchemy", "cryptography", "httpx"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:
            pass
    try:
        with pg_admin() as c:
            from sqlalchemy import text

            info["postgresql"] = c.execute(text("SHOW server_version")).scalar()
    except Exception as exc:
        info["postgresql"] = f"unreachable ({type(exc).__name__})"
    wrk = shutil.which("wrk")
    info["wrk"] = wrk or "not installed"
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        info["commit"] = "?"
    return info


# ------------------------------------------------------------ PostgreSQL ---

_admin_engine = None


@contextmanager
def pg_admin():
    global _admin_engine
    from cases.db import make_engine

    if _admin_engine is None:
        _admin_engine = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with _admin_engine.connect() as c:
        yield c


def pg_available() -> bool:
    try:
        from sqlalchemy import text

        with pg_admin() as c:
            c.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@contextmanager
def pg_database(prefix: str = "hp_bench") -> Iterator[str]:
    """A new empty PostgreSQL database (postgresql://... URL), dropped on exit."""
    from sqlalchemy import text

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with pg_admin() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with pg_admin() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def asyncpg_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


# -------------------------------------------------------------- the store ---

def use_store(env: dict[str, str]) -> None:
    """Point this process's settings, engine and key cache at a store (as tests/conftest does)."""
    from cases import db, settings as settings_mod
    from cases.services import passes

    os.environ.update(env)
    settings_mod.get_settings.cache_clear()
    db.reset_engine()
    passes.keystore.cache_clear()


@dataclass
class Store:
    url: str
    data_dir: Path
    env: dict[str, str]
    green: dict[str, str] = field(default_factory=dict)  # a real green pass: card_number, qr, case id, token


def store_env(url: str, data_dir: Path, prefect_api_url: str = DEAD_PREFECT) -> dict[str, str]:
    return {
        "HEALTHPASS_DATABASE_URL": url,
        "HEALTHPASS_DATA_DIR": str(data_dir),
        "HEALTHPASS_PREFECT_API_URL": prefect_api_url,
    }


def seed_store(url: str, data_dir: Path, *, prefect_api_url: str = DEAD_PREFECT, green_pass: bool = True) -> Store:
    """Migrate, seed the demo data and (optionally) issue one real green pass through the services."""
    from cases.clock import now
    from cases.db import session_scope, upgrade
    from cases.seed import seed
    from cases.settings import get_settings

    data_dir.mkdir(parents=True, exist_ok=True)
    env = store_env(url, data_dir, prefect_api_url)
    use_store(env)
    upgrade(url)
    settings = get_settings()
    with session_scope() as session:
        seed(session, at=now(), hash_key=settings.secret("idhash"))
    store = Store(url=url, data_dir=data_dir, env=env)
    if green_pass:
        store.green = issue_green_pass(seq=0)
    return store


def applicant_body(seq: int, *, today: date, kind: str = "standard", community: str | None = None, county: str | None = None) -> dict:
    """A valid application body for a distinct person number ``seq`` (GB 11643 ID, mobile)."""
    from cases.simulate import application_body

    return application_body(seq, today=today, kind=kind, community=community, county=county)


def unique_seq() -> int:
    """Person numbers that differ between benchmark runs in one store (ids must be unique per person)."""
    unique_seq.n += 1  # type: ignore[attr-defined]
    return unique_seq.base + unique_seq.n  # type: ignore[attr-defined]


unique_seq.n = 0  # type: ignore[attr-defined]
unique_seq.base = (os.getpid() % 1000) * 100_000  # type: ignore[attr-defined]


def submit_in_process(body: dict) -> tuple[str, str]:
    """POST's service path without HTTP: returns (case id, access token)."""
    from cases.clock import SHANGHAI, now
    from cases.db import session_scope
    from cases.declaration_schema import ApplicationCreate
    from cases.services.applications import submit_application
    from cases.settings import get_settings

    at = now()
    payload = ApplicationCreate.model_validate(body, context={"today": at.astimezone(SHANGHAI).date()})
    with session_scope() as session:
        result = submit_application(session=session, payload=payload, content=body, settings=get_settings(), at=at)
        return result.application.id, result.access_token


def issue_green_pass(seq: int) -> dict[str, str]:
    from cases.clock import SHANGHAI, now
    from cases.codes import to_qr_text
    from cases.db import session_scope
    from sqlmodel import select

    from cases.models import Application, User
    from cases.security import create_token
    from cases.services.passes import issue_pass
    from cases.settings import get_settings

    at = now()
    case_id, token = submit_in_process(applicant_body(900_000_000 + seq, today=at.astimezone(SHANGHAI).date()))
    with session_scope() as session:
        app = session.get(Application, case_id)
        p = issue_pass(session=session, application=app, colour="green", by="bench", at=at, settings=get_settings())
        operator = session.exec(select(User).where(User.username == "checkpoint")).one()  # a typed card number needs its token
        auth = "Bearer " + create_token(user_id=operator.id, role=operator.role.value, at=at, settings=get_settings())
        return {"card_number": p.card_number, "qr": to_qr_text(p.token), "case_id": case_id, "access_token": token, "pass_id": p.id, "checkpoint_auth": auth}


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -------------------------------------------------------------- processes ---

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, *, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


class Server:
    """A subprocess serving HTTP on 127.0.0.1, stopped (by its own pid) on exit."""

    def __init__(self, argv: list[str], *, env: dict[str, str], health: str, log: Path, port: int, start_seconds: float = 60):
        self.argv, self.env, self.health, self.log_path, self.port = argv, env, health, log, port
        self.start_seconds = start_seconds
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_http(self.base + self.health, seconds=self.start_seconds, proc=self.proc):
            self.__exit__(None, None, None)
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(self.argv[:4])} did not start; log tail:\n{tail}")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self.log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.update(extra or {})
    return env


def uvicorn_argv(app: str, port: int, workers: int = 1) -> list[str]:
    """The settings `healthpass serve` ships with (ops/cli.py), quieter logs."""
    from ops.cli import uvicorn_argv as shipped

    return shipped(app, host="127.0.0.1", port=port, workers=workers) + ["--log-level", "warning"]


# ----------------------------------------------------------------- /proc ---

def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds user+system) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    # fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return int(rest[1]), (int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])) / CLK_TCK


def parent_pid(pid: int) -> int | None:
    st = _stat(pid)
    return st[0] if st else None


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user+system, incl. reaped children) of a process and all its live descendants."""
    total = 0.0
    for p in descendants(pid):
        st = _stat(p)
        if st:
            total += st[1]
    return total


def pids_cpu_seconds(pids) -> float:
    return sum((_stat(p) or (0, 0.0))[1] for p in pids)


def pg_backend_pids(db_name: str) -> list[int]:
    """The backends of the Prefect database, and the postmaster: its reaped children's CPU counts
    the backends that exit during a drain (a pool that closes connections as they come back), which
    the live ones alone miss (any database's, and autovacuum's, but during a drain they are Prefect's)."""
    from sqlalchemy import text

    with pg_admin() as c:
        backends = [int(p) for p in c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": db_name}).scalars()]
        checkpointer = c.execute(text("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")).scalar()
    postmaster = parent_pid(int(checkpointer)) if checkpointer else None
    return backends + ([postmaster] if postmaster else [])


def runqueue_waits(pids) -> dict[int, int]:
    """Per live thread of these processes, nanoseconds spent runnable but not running
    (waiting for a CPU): /proc/<pid>/task/*/schedstat, second field. On shared cores this
    is the latency other people's work adds."""
    out: dict[int, int] = {}
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for tid in tasks:
            try:
                out[int(tid)] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1])
            except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
                pass
    return out


def runqueue_wait_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """Run-queue wait between two ``runqueue_waits`` readings (threads that exited in between are not counted)."""
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fmt(x: float, digits: int = 0) -> str:
    if x is None or x != x:
        return "—"
    return f"{x:,.{digits}f}"


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
