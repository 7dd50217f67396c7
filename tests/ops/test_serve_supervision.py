"""`healthpass serve` supervises its children (issue 14, "`make run` never stops itself"): a real
serve on free ports with its own data dir (SQLite store, local Prefect server, as `make run`);
each child is SIGKILLed in turn. The API answers /healthz throughout (degraded, naming the dead
component), the restart is logged, and a case submitted while a child was down reaches
awaiting_audit once it is back. SIGTERM then stops everything, leaving no process behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from cases.simulate import application_body
from tests.conftest import SHANGHAI, _free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
    except OSError:
        return out
    return out + [d for p in out for d in _descendants(p)]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children(serve_pid: int) -> dict[str, int]:
    """serve's direct children by what they run."""
    found = {}
    for pid in _descendants(serve_pid):
        try:
            if f"PPid:\t{serve_pid}\n" not in Path(f"/proc/{pid}/status").read_text():
                continue
        except OSError:
            continue
        cmd = _cmdline(pid)
        if "ops.prefect_server" in cmd:
            found["prefect"] = pid
        elif "ops.cli worker" in cmd:
            found["worker"] = pid
        elif "uvicorn web.main:app" in cmd:
            found["api"] = pid
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _until(what: str, check, *, seconds: float, every: float = 0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


class Poller(threading.Thread):
    """GET /healthz every 0.25 s, keeping every answer (or the error) with its time."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base, self.answers, self.stopped = base, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stopped.is_set():
                at = time.monotonic()
                try:
                    r = http.get(self.base + "/healthz")
                    self.answers.append((at, r.status_code, r.json()))
                except (httpx.HTTPError, ValueError) as exc:
                    self.answers.append((at, None, repr(exc)))
                time.sleep(0.25)

    def since(self, t0: float) -> list:
        return [a for a in self.answers if a[0] >= t0]

    def last(self) -> dict | None:
        return self.answers[-1][2] if self.answers and self.answers[-1][1] == 200 else None


def _component(poller: Poller, name: str) -> str | None:
    body = poller.last()
    return body["components"][name]["status"] if body else None


def test_r14_serve_restarts_each_killed_child_while_the_api_keeps_answering(tmp_path):
    port, prefect_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTHPASS_", "PREFECT_"))}
    env.update(HEALTHPASS_DATA_DIR=str(tmp_path / "var"), HEALTHPASS_PORT=str(port), HEALTHPASS_PREFECT_PORT=str(prefect_port), PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT))
    cli = [sys.executable, "-m", "ops.cli"]
    for step in (["db", "upgrade"], ["seed"]):  # what `make run` does before serve
        subprocess.run(cli + step, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    log_path = tmp_path / "serve.log"
    log = open(log_path, "wb")  # noqa: SIM115 -- closed in the finally below, after serve has stopped
    serve = subprocess.Popen(cli + ["serve"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    poller = Poller(base)
    seen: set[int] = set()

    def children() -> dict[str, int]:
        found = _children(serve.pid)
        for pid in found.values():
            seen.update([pid, *_descendants(pid)])
        return found

    people = iter(range(7001, 7100))

    def submit() -> dict:
        today = datetime.now(SHANGHAI).date()
        r = httpx.post(base + "/api/v1/applications", json=application_body(next(people), today=today), timeout=30)
        assert r.status_code == 201, r.text
        return r.json()

    def status(case: dict) -> str:
        r = httpx.get(f"{base}/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}, timeout=30)
        return r.json()["status"]

    def serve_log() -> str:
        return log_path.read_text(errors="replace")

    def all_up() -> bool:
        return _component(poller, "prefect") == "ok" and _component(poller, "worker") == "ok"

    try:
        poller.start()
        _until("the API answers", lambda: _component(poller, "store") == "ok", seconds=120)
        _until("Prefect and the worker are up", all_up, seconds=300, every=1)
        assert set(children()) == {"api", "prefect", "worker"}

        for name in ("prefect", "worker"):
            t0 = time.monotonic()
            victim = children()[name]
            os.kill(victim, signal.SIGKILL)
            _until(f"/healthz says {name} is down", lambda name=name: _component(poller, name) == "down", seconds=30, every=0.2)
            body = poller.last()
            assert body["status"] == "degraded" and name in body["reasons"], body
            case = submit()  # accepted while the child is down
            assert status(case) == "submitted"
            _until(f"the restart of {name} is logged", lambda name=name: re.search(rf"{name} was killed by SIGKILL after \d+ s; restarting in \d+ s", serve_log()), seconds=30)
            _until(f"{name} is back (a new process)", lambda name=name, victim=victim: children().get(name) not in (None, victim), seconds=60)
            _until("Prefect and the worker are up again", all_up, seconds=300, every=1)
            _until(f"the case submitted while {name} was down is driven", lambda case=case: status(case) == "awaiting_audit", seconds=180, every=1)
            answers = poller.since(t0)
            assert answers and all(code == 200 for _, code, _ in answers), [a for a in answers if a[1] != 200][:3]
            assert serve.poll() is None

        # The API itself: restarted like the others.
        victim = children()["api"]
        os.kill(victim, signal.SIGKILL)
        _until("the restart of the API is logged", lambda: re.search(r"api was killed by SIGKILL after \d+ s; restarting in \d+ s", serve_log()), seconds=30)
        _until("the API answers again", lambda: children().get("api") not in (None, victim) and poller.since(time.monotonic() - 1) and poller.answers[-1][1] == 200, seconds=120)
        assert submit()["status"] == "submitted"
        assert "started api (pid" in serve_log() and "restart #1" in serve_log()
        children()
    finally:
        poller.stopped.set()
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
            code = None
        leftovers = [p for p in seen if _alive(p)]
        for p in leftovers:
            os.kill(p, signal.SIGKILL)
        log.close()
    # Ctrl-C / SIGTERM still stops everything, children and their children.
    assert code == 0, serve_log()[-3000:]
    assert not leftovers, [(p, _cmdline(p)) for p in leftovers]
