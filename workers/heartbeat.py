"""A worker's heartbeat row in the store (cases.services.heartbeat), read by /healthz."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Self

from cases.db import session_scope
from cases.services import heartbeat

log = logging.getLogger("healthpass.worker")


class Beating:
    """Written from a thread of its own every few seconds, so that a long flow run or a slow
    store call does not look like death. `state` is what /healthz shows: "running", or what the
    worker waits for."""

    def __init__(self, *, name: str, every: float = heartbeat.BEAT_SECONDS):
        self.every, self.name = every, name
        self.started_at = datetime.now(timezone.utc)
        self._state = "starting"
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self._wake.set()  # a change is written at once, not at the next beat

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                with session_scope() as session:
                    heartbeat.beat(session, name=self.name, state=self._state, started_at=self.started_at, at=datetime.now(timezone.utc))
            except Exception as exc:  # noqa: BLE001 -- the store is away: /healthz says so itself; keep beating
                log.warning("heartbeat not written: %s", exc)
            self._wake.wait(self.every)
            self._wake.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)
