"""serve's supervisor (ops.supervisor) and the worker's start-up (issue 14: `make run` never
stops itself): real child processes, a real store, no Prefect server."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import anyio
import pytest

from ops.supervisor import Child, Supervisor


def _alive(proc) -> bool:
    return proc is not None and proc.poll() is None


def test_serve_a_dying_child_is_restarted_with_doubling_backoff_and_its_sibling_keeps_running(caplog):
    caplog.set_level(logging.INFO, logger="healthpass.serve")
    crashing = Child("crashing", [sys.executable, "-c", "raise SystemExit(3)"])
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    sup = Supervisor([steady, crashing], env={}, initial_backoff=0.2, max_backoff=0.8, stable_after=30)
    try:
        for child in sup.children:
            sup._start(child)
        steady_pid = steady.proc.pid
        deadline = time.monotonic() + 20
        while crashing.restarts < 5 and time.monotonic() < deadline:
            sup.poll()
            time.sleep(0.02)
        assert crashing.restarts >= 5
        delays = [float(m.split("restarting in ")[1].split(" s")[0]) for m in caplog.messages if m.startswith("crashing exited with 3")]
        assert [round(d, 1) for d in delays[:5]] == [0.2, 0.4, 0.8, 0.8, 0.8]  # doubling, capped
        assert "crashing exited with 3 after 0 s; restarting in 0.2 s (restart #1)" in caplog.messages
        assert _alive(steady.proc) and steady.proc.pid == steady_pid  # one child's deaths touch no other
    finally:
        sup.stop()
    assert not _alive(steady.proc)


def test_serve_backoff_starts_again_after_a_child_stayed_up():
    child = Child("api", [sys.executable, "-c", "pass"])
    sup = Supervisor([child], env={}, initial_backoff=1, max_backoff=30, stable_after=60)
    for lived in (0, 0, 0):
        sup._schedule_restart(child, code=-9, lived=lived)
    assert child.delay == 4
    sup._schedule_restart(child, code=-9, lived=61)  # it had been fine for a while: not a crash loop
    assert child.delay == 1


def test_serve_sigterm_to_a_child_group_ends_what_it_started_too():
    """A child's own children (prefect server's, uvicorn --workers') go with it: no orphan holds its port."""
    child = Child("parent", [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"])
    sup = Supervisor([child], env={}, stop_grace=5)
    sup._start(child)
    time.sleep(1.0)
    from pathlib import Path

    kids = [int(p) for t in Path(f"/proc/{child.proc.pid}/task").iterdir() for p in (t / "children").read_text().split()]
    assert kids
    sup.stop()
    time.sleep(0.3)
    for pid in kids:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_serve_worker_waits_for_an_unreachable_prefect_and_says_so_in_its_heartbeat(store, monkeypatch):
    """A worker that exits on "Failed to reach API" stops `make run`; it must wait (and /healthz must show why)."""
    from cases.models import Heartbeat
    from workers.main import run_worker

    # A closed port, whatever Prefect server an earlier test of the session left running.
    monkeypatch.setattr(store.settings, "prefect_api_url", "http://127.0.0.1:9/api")
    assert store.settings.effective_prefect_api_url.startswith("http://127.0.0.1:9/")  # nothing listens there
    result: dict = {}

    async def main():
        with anyio.move_on_after(4):
            await run_worker(name="w-unreachable")
        with store.session() as s:
            result["beat"] = s.get(Heartbeat, "worker:w-unreachable")
        result["still running"] = True

    thread = threading.Thread(target=lambda: anyio.run(main))
    thread.start()
    thread.join(30)
    assert result.get("still running"), "the worker gave up while Prefect was unreachable"
    assert result["beat"] is not None and result["beat"].state.startswith("waiting for Prefect at http://127.0.0.1:9/")


_RUN_SUPERVISOR = """
import sys
from ops.supervisor import Child, Supervisor
Supervisor([Child("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])], env={}).run()
"""


def _sleeper_of(supervisor_pid: int, seconds: float = 15.0) -> int:
    from pathlib import Path

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{supervisor_pid}/task").iterdir():
            kids = (task / "children").read_text().split()
            if kids:
                return int(kids[0])
        time.sleep(0.1)
    raise AssertionError("the supervisor started no child")


def _gone(pid: int, seconds: float = 15.0) -> bool:
    from pathlib import Path

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_serve_children_stop_with_the_supervisor_however_it_ends(how):
    """Ctrl-C and SIGTERM stop every child; SIGKILL of serve itself leaves no orphan (PR_SET_PDEATHSIG)."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sup = subprocess.Popen([sys.executable, "-c", _RUN_SUPERVISOR], env={**os.environ, "PYTHONPATH": str(root)})
    try:
        child = _sleeper_of(sup.pid)
        time.sleep(0.5)  # its signal handlers are set before the first child starts
        os.kill(sup.pid, how)
        sup.wait(20)
        assert _gone(child), f"child {child} outlived the supervisor ({how.name})"
    finally:
        if sup.poll() is None:
            sup.kill()
