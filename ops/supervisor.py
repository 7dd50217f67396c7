"""`healthpass serve`'s process supervisor: starts the children (API, Prefect server,
healthpass worker), restarts any that dies with back-off, and stops them all on Ctrl-C or
SIGTERM. One child's death never takes the others down: the API keeps accepting cases
while Prefect or the worker is away (the store's outbox drives them later)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

log = logging.getLogger("healthpass.serve")


def die_with_parent() -> None:
    """Children get SIGTERM if this process dies, even by SIGKILL: no orphans."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def lower_priority(nice: int) -> None:
    """Run this child (and what it starts) behind the API on shared cores. With the kernel's
    autogroup scheduling (on by default on desktops and many servers) a nice level only counts
    inside its session, so the child's session group is niced too (the supervisor gives each
    child a session of its own)."""
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(nice))
    except OSError:  # no autogroup here: the plain nice level below is what counts
        pass
    os.nice(nice)


@dataclass
class Child:
    """One supervised process. `ready_url`: answers 200 once the child serves (logged once per start)."""

    name: str
    argv: list[str]
    nice: int = 0
    ready_url: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    restarts: int = 0
    delay: float = 0.0  # the next back-off; 0 until the first death
    restart_at: float | None = None  # while dead: when it is started again
    ready: bool = False


class Supervisor:
    """Restart policy: a child that dies is started again after `initial_backoff` seconds,
    doubling on each death up to `max_backoff`; a child that stayed up `stable_after`
    seconds before dying starts from `initial_backoff` again."""

    def __init__(self, children: list[Child], *, env: dict[str, str], initial_backoff: float = 1.0, max_backoff: float = 30.0, stable_after: float = 60.0, stop_grace: float = 10.0):
        self.children = children
        self.env = env
        self.initial_backoff, self.max_backoff, self.stable_after = initial_backoff, max_backoff, stable_after
        self.stop_grace = stop_grace
        self._stopping = False
        self._next_ready_check = 0.0

    # ------------------------------------------------------------- children ---
    def _start(self, child: Child) -> None:
        def prepare() -> None:
            die_with_parent()
            # Its own session (and process group): Ctrl-C at the terminal reaches only serve,
            # which stops the children in order, and a dead child's own children can be found
            # and ended with it (`prefect server start` and `uvicorn --workers N` start some).
            os.setsid()
            if child.nice:
                lower_priority(child.nice)

        try:
            child.proc = subprocess.Popen(child.argv, env=self.env, preexec_fn=prepare)  # noqa: PLW1509 -- serve starts no threads
        except OSError as exc:  # cannot even exec: counts as a death, retried with back-off
            log.error("%s could not be started: %s", child.name, exc)
            child.proc = None
            self._schedule_restart(child, code=None, lived=0.0)
            return
        child.started_at = time.monotonic()
        child.restart_at = None
        child.ready = child.ready_url is None
        log.info("started %s (pid %d)%s", child.name, child.proc.pid, f", restart #{child.restarts}" if child.restarts else "")

    def _schedule_restart(self, child: Child, *, code: int | None, lived: float) -> None:
        if lived >= self.stable_after or child.delay == 0:
            child.delay = self.initial_backoff
        else:
            child.delay = min(self.max_backoff, child.delay * 2)
        child.restarts += 1
        child.restart_at = time.monotonic() + child.delay
        how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exited with {code}"
        log.warning("%s %s after %.0f s; restarting in %g s (restart #%d)", child.name, how, lived, child.delay, child.restarts)

    @staticmethod
    def _end_group(proc: subprocess.Popen, sig: int) -> None:
        """`sig` to the child's whole process group (what it started, too)."""
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def poll(self) -> None:
        """One round: notice deaths, restart those whose back-off is over, log readiness."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                code, lived = child.proc.returncode, now - child.started_at
                self._end_group(child.proc, signal.SIGKILL)  # orphans of the dead child would hold its port
                child.proc = None
                self._schedule_restart(child, code=code, lived=lived)
            elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                self._start(child)
        if now >= self._next_ready_check:
            self._next_ready_check = now + 1.0
            self._check_ready()

    def _check_ready(self) -> None:
        import httpx

        for child in self.children:
            if child.proc is None or child.ready:
                continue
            try:
                child.ready = httpx.get(child.ready_url, timeout=0.5).status_code == 200
            except httpx.HTTPError:
                continue
            if child.ready:
                log.info("%s is up after %.0f s", child.name, time.monotonic() - child.started_at)

    # ----------------------------------------------------------------- run ---
    def stop(self) -> None:
        """SIGTERM to every child (last started first), SIGKILL to what is left after the grace time."""
        self._stopping = True
        running = [c.proc for c in reversed(self.children) if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            self._end_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop in %.0f s: killed", proc.pid, self.stop_grace)
            self._end_group(proc, signal.SIGKILL)  # its own children that outlived it
        for proc in running:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def run(self) -> None:
        """Start every child and supervise until SIGINT or SIGTERM; then stop them all."""
        class _Stop(Exception):
            pass

        def on_signal(signum, _frame):
            if not self._stopping:
                raise _Stop(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._start(child)
            while True:
                self.poll()
                time.sleep(0.25)
        except _Stop as stop:
            log.info("%s: stopping %s", signal.Signals(stop.args[0]).name, ", ".join(c.name for c in self.children))
        finally:
            try:
                self.stop()
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)
