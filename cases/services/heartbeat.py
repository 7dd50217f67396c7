"""Liveness of long-lived processes across processes and machines: each healthpass worker writes a
row every few seconds; /healthz reads its age (and, on the same host, whether the pid still runs)."""
from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlmodel import Session

from cases.models import Heartbeat

BEAT_SECONDS = 5.0
STALE_SECONDS = 30.0  # six missed beats: a worker on another machine is taken for dead
RUNNING = "running"


def beat(session: Session, *, name: str, state: str, started_at: datetime, at: datetime, host: str | None = None, pid: int | None = None) -> None:
    """Record that process `name` is alive and what it is doing (one row per name)."""
    row = session.get(Heartbeat, name)
    host, pid = host or socket.gethostname(), pid or os.getpid()
    if row is None:
        session.add(Heartbeat(name=name, host=host, pid=pid, state=state, started_at=started_at, beat_at=at))
    else:
        row.host, row.pid, row.state, row.started_at, row.beat_at = host, pid, state, started_at, at
        session.add(row)


def _pid_running(pid: int) -> bool:
    """On this host: does `pid` run? A zombie (killed, not yet reaped by serve) does not."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def component(session: Session, *, name: str, now: datetime, stale_after: float = STALE_SECONDS) -> dict:
    """{"status": "ok" | "degraded" | "down", "reason": ..., ...} for /healthz.
    `now`: wall-clock time (process liveness is measured in real seconds, not on the case clock)."""
    row = session.get(Heartbeat, name)
    if row is None:
        return {"status": "down", "reason": f"the {name} has never reported (is `healthpass serve` or `healthpass worker` running?)"}
    age = (now - row.beat_at).total_seconds()
    info = {"host": row.host, "pid": row.pid, "state": row.state, "last_heartbeat": row.beat_at, "heartbeat_age_seconds": round(age, 1)}
    if row.host == socket.gethostname() and not _pid_running(row.pid):
        return {"status": "down", "reason": f"the {name} (pid {row.pid}) is not running; last heartbeat {age:.0f} s ago"} | info
    if age > stale_after:
        return {"status": "down", "reason": f"no heartbeat from the {name} for {age:.0f} s (on {row.host})"} | info
    if row.state != RUNNING:
        return {"status": "degraded", "reason": f"the {name} is {row.state}"} | info
    return {"status": "ok"} | info


def workers_component(session: Session, *, prefix: str, now: datetime, stale_after: float = STALE_SECONDS, forget_after: float = 3600.0) -> dict:
    """The healthpass workers (one row each, named `prefix` + worker name): ok while one of them
    is; each worker heard from in the last hour is listed with its own status."""
    from sqlmodel import select

    rows = session.exec(select(Heartbeat).where(Heartbeat.name.startswith(prefix))).all()
    recent = [r for r in rows if (now - r.beat_at).total_seconds() <= forget_after]
    if not recent:
        return {"status": "down", "reason": "no healthpass worker has reported (is `healthpass serve` or `healthpass worker` running?)", "workers": []}
    each = [{"name": r.name.removeprefix(prefix)} | component(session, name=r.name, now=now, stale_after=stale_after) for r in recent]
    best = min(each, key=lambda c: ["ok", "degraded", "down"].index(c["status"]))
    live = sum(c["status"] == "ok" for c in each)
    summary = {"status": best["status"], "workers": each, "running": live}
    if best["status"] != "ok":
        summary["reason"] = best["reason"]
    return summary
