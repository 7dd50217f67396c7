"""Revocations pushed to every process at once (R4).

Each API process decides scanned QRs from an in-memory revocation set (cases/services/checkpoint.py).
That set may be trusted only while this module says it is current, and a revocation's commit does
not return to its caller before every process that trusts its set has applied it:

* SQLite (one machine): the revoking process replaces a stamp file beside the database after its
  commit; a verification compares one ``os.stat`` of it with the stamp read before its set was
  loaded, and reloads from the store when it changed. No thread, no wait.
* PostgreSQL: ``NOTIFY healthpass_revocations`` inside the revoking transaction (delivered only if it
  commits); each process LISTENs on its own connection.
* Redis (``HEALTHPASS_REDIS_URL`` set): PUBLISH after the commit; each process SUBSCRIBEs.

For the two networked channels a listener thread heartbeats its connection every HEARTBEAT_SECONDS
and acknowledges the server time up to which it has applied every revocation (PostgreSQL: in its
``application_name``, visible in ``pg_stat_activity``; Redis: in a hash). The revoking process, after
its commit, waits until every registered listener acknowledges a time after that commit. A listener
that is stuck or cut off stops trusting its set LEASE_SECONDS after its last good heartbeat (then each
PASS is checked against the store by primary key), and the revoker waits at most that long: so once a
revocation has returned, no process answers PASS for that pass, whichever way the race goes.
"""
from __future__ import annotations

import logging
import os
import select as _select
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger("healthpass.revocations")

CHANNEL = "healthpass_revocations"  # PostgreSQL; Redis: "<HEALTHPASS_REDIS_PREFIX>:revocations"
APP_NAME = "healthpass-revocations"  # PostgreSQL listeners: "<APP_NAME> <acknowledged server time>"
LEASE_SECONDS = 1.5  # a listener's set is trusted this long after its last good heartbeat
HEARTBEAT_SECONDS = 0.25
_PENDING = "healthpass_revoked_ids"
FALLBACK = "each pass is looked up in the store before PASS"

# Callbacks of the in-memory caches (the checkpoint registers its own): cases/ stays free of cycles.
_on_revoked: list[Callable[[Mapping[str, str | None]], None]] = []  # pass id -> revoke_reason
_on_reconnect: list[Callable[[], None]] = []


def on_revoked(callback: Callable[[Mapping[str, str | None]], None]) -> None:
    _on_revoked.append(callback)


def on_reconnect(callback: Callable[[], None]) -> None:
    _on_reconnect.append(callback)


def _apply(revoked: Mapping[str, str | None]) -> None:
    # The reason travels with the id: the checkpoint answers "superseded" rather than "revoked" (R2).
    if revoked:
        for callback in _on_revoked:
            callback(dict(revoked))


# ------------------------------------------------------------------ publishing ---

def note_revoked(session: Session, pass_ids: Iterable[str] | Mapping[str, str | None]) -> None:
    """Announce revocations made without the ORM (a bulk UPDATE of ``pass.revoked_at``); ORM
    changes of ``Pass.revoked_at`` are found by the flush hook below. A mapping gives each
    pass's ``revoke_reason``."""
    reasons = dict(pass_ids) if isinstance(pass_ids, Mapping) else dict.fromkeys(pass_ids)
    ids = [str(i) for i in reasons]
    if not ids:
        return
    session.info.setdefault(_PENDING, {}).update({str(k): v for k, v in reasons.items()})
    if _channel(session.get_bind()) == "postgres":
        conn = session.connection()
        for pid in ids:
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": pid})


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _ctx) -> None:
    from cases.models import Pass

    revoked: dict[str, str | None] = {}
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Pass):
            added = inspect(obj).attrs.revoked_at.history.added
            if added and added[0] is not None:
                revoked[obj.id] = obj.revoke_reason
    note_revoked(session, revoked)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    engine = session.get_bind()
    _apply(ids)  # this process at once
    publish_committed(engine, ids)


def publish_committed(engine: Engine, ids: Iterable[str]) -> None:
    """After the commit: tell the other processes and return once each has applied it (or has
    stopped trusting its set)."""
    ids = list(ids)
    kind = _channel(engine)
    try:
        if kind == "file":
            _write_stamp(_stamp_path(engine))
        elif kind == "redis":
            _redis_publish_and_wait(ids)
        elif kind == "postgres":
            _pg_wait(engine)
    except Exception:  # the commit stands; a listener that missed it is untrusted by then (lease)
        log.exception("revocation push failed; waiting out the lease")
        time.sleep(LEASE_SECONDS + 0.1)


def _channel(engine: Engine) -> str | None:
    from cases.settings import get_settings

    if get_settings().redis_url:
        return "redis"
    if engine.dialect.name == "postgresql":
        return "postgres"
    return "file" if _stamp_path(engine) else None


# ------------------------------------------------------------------ SQLite stamp ---

def _stamp_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    return _stamp_for(engine.url.database)


@lru_cache(maxsize=32)
def _stamp_for(database: str | None) -> Path | None:
    if not database or database == ":memory:":
        return None  # one process: the local callbacks are enough
    return Path(database).resolve().with_name(Path(database).name + "-revocations")


def _write_stamp(path: Path) -> None:
    # Replaced, not rewritten: a new inode is a change even where mtimes are coarse.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(f"{time.time_ns()} {os.getpid()}\n")
    os.replace(tmp, path)


def read_stamp(path: Path | str) -> tuple:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


# ------------------------------------------------------------------ trust ---

class _Feed:
    """What a cache asks before trusting its revocation set: ``token()`` before loading it from the
    store, ``valid(token)`` at each decision."""

    kind = "none"

    def token(self) -> object:
        return None

    def valid(self, token: object) -> bool:
        return False

    def status(self) -> dict:
        return {"channel": self.kind, "connected": False, "fallback": FALLBACK}


class _StampFeed(_Feed):
    kind = "file"

    def __init__(self, path: Path):
        self.path = path
        self._path = str(path)

    def token(self) -> object:
        return read_stamp(self._path)

    def valid(self, token: object) -> bool:
        # One stat per verification: about 6 µs measured on the shared 2-core dev machine (timeit).
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return token == ()
        return token == (st.st_ino, st.st_mtime_ns, st.st_size)

    def status(self) -> dict:
        return {"channel": "file", "connected": True, "stamp": str(self.path)}


class _Listener(_Feed, threading.Thread):
    """A LISTEN/SUBSCRIBE connection in a daemon thread; reconnects with back-off."""

    def __init__(self, engine: Engine):
        threading.Thread.__init__(self, name=f"revocations-{self.kind}", daemon=True)
        self.engine = engine
        self.epoch = 0  # +1 per (re)subscription: a set loaded before it may have missed something
        self.trusted_until = 0.0
        self.stopped = threading.Event()
        self.error: str | None = None

    def token(self) -> object:
        return self.epoch if self.trusted() else None

    def valid(self, token: object) -> bool:
        return token is not None and token == self.epoch and time.monotonic() < self.trusted_until

    def trusted(self) -> bool:
        return time.monotonic() < self.trusted_until

    def status(self) -> dict:
        out = {"channel": self.kind, "connected": self.trusted()}
        if not out["connected"]:
            out["fallback"] = FALLBACK
            if self.error:
                out["error"] = self.error
        return out

    def stop(self) -> None:
        self.stopped.set()
        self.trusted_until = 0.0

    def run(self) -> None:
        backoff = 0.2
        while not self.stopped.is_set():
            try:
                self.serve()
                backoff = 0.2
            except Exception as exc:  # noqa: BLE001  (any failure: untrusted, reconnect with back-off)
                self.trusted_until = 0.0
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("revocation listener (%s) lost: %s; retrying in %.1fs", self.kind, self.error, backoff)
                self.stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def resubscribed(self) -> None:
        self.trusted_until = 0.0
        self.epoch += 1
        for callback in _on_reconnect:
            callback()

    def applied(self, ids: set[str]) -> None:
        """Apply notified ids, reading them back from the store: only committed revocations count."""
        if not ids:
            return
        from sqlmodel import select

        from cases.models import Pass

        with Session(self.engine) as session:
            rows = session.execute(select(Pass.id, Pass.revoke_reason).where(Pass.id.in_(sorted(ids)), Pass.revoked_at.is_not(None))).all()
        _apply({pid: reason for pid, reason in rows})


class _PgListener(_Listener):
    kind = "postgres"

    def serve(self) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        ids: set[str] = set()
        with psycopg.connect(url, autocommit=True, application_name=f"{APP_NAME} 0") as conn:
            conn.add_notify_handler(lambda n: ids.add(n.payload))
            conn.execute(f"LISTEN {CHANNEL}")
            self.resubscribed()
            self.error = None
            while not self.stopped.is_set():
                started = time.monotonic()
                # Every NOTIFY committed before this statement ran reaches the handler before its
                # answer (PostgreSQL delivers pending notifications before ReadyForQuery).
                at = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
                pending, ids = ids, set()
                self.applied(pending)
                conn.execute("SELECT set_config('application_name', %s, false)", (f"{APP_NAME} {at:.6f}",))
                self.trusted_until = started + LEASE_SECONDS
                _select.select([conn.fileno()], [], [], HEARTBEAT_SECONDS)


def _pg_wait(engine: Engine) -> None:
    deadline = time.monotonic() + LEASE_SECONDS + 0.1
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        committed = conn.execute(text("SELECT extract(epoch FROM clock_timestamp())::float8")).scalar_one()
        while time.monotonic() < deadline:
            names = conn.execute(
                text("SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE :p"),
                {"p": APP_NAME + " %"},
            ).scalars().all()
            if all(float(n.rsplit(" ", 1)[1]) >= committed for n in names):
                return
            time.sleep(0.005)
    log.warning("a revocation listener did not acknowledge within %.1fs; its set is no longer trusted", LEASE_SECONDS)


class _RedisListener(_Listener):
    kind = "redis"

    def __init__(self, engine: Engine, url: str):
        super().__init__(engine)
        self.url = url
        self.id = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def serve(self) -> None:
        import redis

        channel, self.acks = _redis_names()
        client = redis.Redis.from_url(self.url, socket_timeout=LEASE_SECONDS)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel)
            while (m := pubsub.get_message(timeout=LEASE_SECONDS)) is None or m["type"] != "subscribe":
                if self.stopped.is_set():
                    return
            _redis_ack(client, self.acks, self.id, 0.0)  # registered before trusted: revokers wait for it
            self.resubscribed()
            self.error = None
            ids: set[str] = set()
            while not self.stopped.is_set():
                started = time.monotonic()
                at = _redis_time(client)  # before the PING: every PUBLISH before `at` precedes the pong
                pubsub.ping()
                while True:
                    m = pubsub.get_message(timeout=LEASE_SECONDS)
                    if m is None:
                        raise TimeoutError("no pong from Redis")
                    if m["type"] == "message":
                        ids.add(m["data"].decode())
                    elif m["type"] == "pong":
                        break
                pending, ids = ids, set()
                self.applied(pending)
                _redis_ack(client, self.acks, self.id, at)
                self.trusted_until = started + LEASE_SECONDS
                m = pubsub.get_message(timeout=HEARTBEAT_SECONDS)
                if m is not None and m["type"] == "message":
                    ids.add(m["data"].decode())
        finally:
            pubsub.close()
            client.hdel(self.acks, self.id)
            client.close()


def _redis_names() -> tuple[str, str]:
    from cases.settings import get_settings

    channel = f"{get_settings().redis_prefix}:revocations"
    return channel, channel + ":acks"


def _redis_time(client) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def _redis_ack(client, acks: str, listener: str, at: float) -> None:
    # "<acknowledged time> <expiry>": an entry of a listener that died is ignored after its expiry.
    client.hset(acks, listener, f"{at:.6f} {_redis_time(client) + 4 * LEASE_SECONDS:.6f}")


def _redis_publish_and_wait(ids: list[str]) -> None:
    import redis

    from cases.settings import get_settings

    deadline = time.monotonic() + LEASE_SECONDS + 0.1
    channel, acks = _redis_names()
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=LEASE_SECONDS)
    try:
        for pid in ids:
            client.publish(channel, pid)
        committed = _redis_time(client)
        while time.monotonic() < deadline:
            pending = []
            for listener, value in client.hgetall(acks).items():
                acked, expires = (float(v) for v in value.split())
                if expires < committed:
                    client.hdel(acks, listener)
                elif acked < committed:
                    pending.append(listener)
            if not pending:
                return
            time.sleep(0.005)
    finally:
        client.close()


# ------------------------------------------------------------------ process state ---

_listener: _Listener | None = None
_lock = threading.Lock()


def start(engine: Engine) -> _Feed:
    """Start this process's listener for the store (API startup). SQLite needs none."""
    global _listener
    from cases.settings import get_settings

    with _lock:
        if _listener is not None and _listener.engine is engine and _listener.is_alive():
            return _listener
        if _listener is not None:
            _listener.stop()
        kind = _channel(engine)
        if kind == "redis":
            _listener = _RedisListener(engine, get_settings().redis_url)
        elif kind == "postgres":
            _listener = _PgListener(engine)
        else:
            _listener = None
            return feed(engine)
        _listener.start()
        return _listener


def stop() -> None:
    global _listener
    with _lock:
        if _listener is not None:
            _listener.stop()
            _listener = None


def wait_connected(seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _listener is None or _listener.trusted():
            return True
        time.sleep(0.02)
    return False


def feed(engine: Engine) -> _Feed:
    """The feed that vouches for a cache of this store in this process (on every verification:
    kept cheap)."""
    listener = _listener
    if listener is not None and (listener.engine is engine or listener.engine.url == engine.url):
        return listener
    known = _feeds.get(id(engine))
    if known is not None and known[0] is engine:
        return known[1]
    found = _stamp_feed(_stamp_path(engine)) if _channel(engine) == "file" else _NO_FEED
    if len(_feeds) > 32:
        _feeds.clear()
    _feeds[id(engine)] = (engine, found)
    return found


_NO_FEED = _Feed()
_feeds: dict[int, tuple[Engine, _Feed]] = {}


@lru_cache(maxsize=32)
def _stamp_feed(path: Path) -> _StampFeed:
    return _StampFeed(path)


def status(engine: Engine) -> dict:
    return feed(engine).status()
