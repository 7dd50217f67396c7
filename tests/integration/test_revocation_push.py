"""R4 across processes: once a revocation has returned (API or CLI), no API process answers PASS.

Two real API processes (the command line `healthpass serve` runs) on one store are hammered with
verifications while a pass is revoked through one of them, and then through the CLI; every request
sent after the revoke returned must be DENY, on both processes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1).ping())
    except (OSError, redis.RedisError):
        return False


def _make_pass(store) -> tuple[str, str]:
    """A green pass signed with the store's key, valid now (real time: the servers use the real clock)."""
    from cases.codes import claims, jws
    from cases.codes.card_number import make_card_number
    from cases.models import Pass, PassColour
    from cases.services.passes import keystore

    now = datetime.now(UTC)
    key = keystore(str(store.settings.keys_dir)).ensure_active(now=now - timedelta(minutes=1))
    p = Pass(colour=PassColour.green, issued_at=now, valid_until=now + timedelta(days=14), region_code="370202", masked_name="张*", kid=key.kid, token="", card_number="", issued_by="test")
    p.card_number = make_card_number(p.id)
    p.token = jws.sign(claims.build_claims(pass_id=p.id, colour="green", issued_at=now, valid_until=p.valid_until, region="370202", name="张三", id_number="370202199001011234", hash_key=store.settings.secret("idhash")), key)
    with store.session() as s:
        s.add(p)
        s.commit()
    return p.id, "SDHP1:" + p.token


def _env(store, redis_url: str | None) -> dict[str, str]:
    env = os.environ.copy()
    env.update(PYTHONPATH=str(ROOT), HEALTHPASS_DATABASE_URL=str(store.engine.url.render_as_string(hide_password=False)), HEALTHPASS_DATA_DIR=str(store.settings.data_dir))
    env["HEALTHPASS_DATABASE_URL"] = env["HEALTHPASS_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    if redis_url:
        env["HEALTHPASS_REDIS_URL"] = redis_url
        env["HEALTHPASS_REDIS_PREFIX"] = f"hp-test-{uuid.uuid4().hex[:8]}"
    else:
        env.pop("HEALTHPASS_REDIS_URL", None)
    return env


class Hammer:
    """Threads verifying one QR on each server without pause; each answer is kept with its send time."""

    def __init__(self, urls: list[str], qr: str, threads_per_server: int = 2):
        self.qr, self.stop = qr, threading.Event()
        self.answers: list[tuple[str, float, str]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(u,), daemon=True) for u in urls for _ in range(threads_per_server)]

    def run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not self.stop.is_set():
                sent = time.monotonic()
                r = client.post("/api/v1/checkpoint/verify", json={"qr": self.qr, "temperature": 36.5})
                assert r.status_code == 200, r.text
                with self.lock:
                    self.answers.append((url, sent, r.json()["result"]))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(15)

    def after(self, t: float) -> list[tuple[str, float, str]]:
        with self.lock:
            return [a for a in self.answers if a[1] > t]


@pytest.fixture(params=["sqlite", "postgres", "sqlite+redis"])
def served(request, tmp_path, monkeypatch):
    """The seeded store and two API processes on it (started as `serve` starts its API)."""
    from ops.cli import uvicorn_argv, wait_http
    from cases.seed import seed

    kind = request.param
    redis_url = None
    if kind.endswith("+redis"):
        if not _redis_up():
            pytest.skip("Redis not reachable at 127.0.0.1:6379")
        redis_url = "redis://127.0.0.1:6379/0"
    from tests.conftest import _make_store

    store = _make_store(request.getfixturevalue("pg_url" if kind == "postgres" else "sqlite_url"), kind, tmp_path / "var", monkeypatch)
    with store.session() as s:
        seed(s, at=datetime.now(UTC), hash_key=store.settings.secret("idhash"))
        s.commit()
    env = _env(store, redis_url)
    if redis_url:  # the CLI revoker below and this process publish on the servers' channel
        monkeypatch.setenv("HEALTHPASS_REDIS_URL", redis_url)
        monkeypatch.setenv("HEALTHPASS_REDIS_PREFIX", env["HEALTHPASS_REDIS_PREFIX"])
    procs, urls = [], []
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(2):
        port = _free_port()
        out = open(logs / f"api{i}.log", "wb")  # noqa: SIM115 (the server's log, open while it runs)
        procs.append(subprocess.Popen(uvicorn_argv("web.main:app", host="127.0.0.1", port=port), env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs):
            assert wait_http(url + "/.well-known/jwks.json", seconds=60, proc=proc), (logs / "api0.log").read_text()[-3000:]
            # Each process's channel is up (else its caches would not be used and this shows nothing).
            deadline = time.monotonic() + 20
            while not (feed := httpx.get(url + "/healthz", timeout=10).json()["components"]["revocations"])["connected"]:
                assert time.monotonic() < deadline, feed
                time.sleep(0.1)
            assert feed["channel"] == {"sqlite": "file", "postgres": "postgres", "sqlite+redis": "redis"}[kind]
        yield store, urls, env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(env["HEALTHPASS_REDIS_PREFIX"] + ":*"):
                client.delete(key)
        from cases import db

        db.reset_engine()


def _check(hammer: Hammer, urls: list[str], returned: float) -> None:
    time.sleep(1.0)  # keep hammering after the revoke returned
    after = hammer.after(returned)
    for url in urls:
        mine = [a for a in after if a[0] == url]
        assert len(mine) >= 10, f"{url} answered only {len(mine)} verifications after the revoke"
    passed = [a for a in after if a[2] == "PASS"]
    assert not passed, f"{len(passed)} of {len(after)} verifications sent after the revoke returned said PASS"


def test_r4_revocation_reaches_every_api_process_before_the_revoke_returns(served):
    store, urls, env = served
    pass_id, qr = _make_pass(store)
    with Hammer(urls, qr) as hammer:
        deadline = time.monotonic() + 30
        while not all(any(a[0] == u and a[2] == "PASS" for a in hammer.after(0)) for u in urls):
            assert time.monotonic() < deadline, "the pass never verified PASS on both processes"
            time.sleep(0.05)
        time.sleep(1.0)  # both processes now answer from their caches
        with httpx.Client(base_url=urls[0], timeout=30) as admin:
            token = admin.post("/api/v1/auth/token", data={"username": "admin", "password": "demo-pass-2026"}).json()["access_token"]
            r = admin.post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "re-decided after a complaint"}, headers={"Authorization": f"Bearer {token}"})
        returned = time.monotonic()
        assert r.status_code == 200, r.text
        _check(hammer, urls, returned)

    # The same through the CLI, a third process that is not a server.
    pass_id, qr = _make_pass(store)
    with Hammer(urls, qr) as hammer:
        deadline = time.monotonic() + 30
        while not all(any(a[0] == u and a[2] == "PASS" for a in hammer.after(0)) for u in urls):
            assert time.monotonic() < deadline, "the second pass never verified PASS on both processes"
            time.sleep(0.05)
        time.sleep(1.0)
        done = subprocess.run([sys.executable, "-m", "ops.cli", "pass", "revoke", pass_id, "--reason", "revoked at the console"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        returned = time.monotonic()
        assert done.returncode == 0, done.stderr
        _check(hammer, urls, returned)
