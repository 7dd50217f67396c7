"""The checkpoint decision (R4) with keys and the revocation set cached in memory:
a PASS costs one signature check and no store round trip.

The revocation set is trusted only while cases/revocation_feed.py vouches for it (the push channel
is connected, or the SQLite stamp is unchanged); a revocation committed anywhere is applied here
before its revoke call returns. Without that, a PASS is confirmed against the store by primary key."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from collections.abc import Mapping

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cases import revocation_feed
from cases.codes import Decision, decide, normalise_card_number
from cases.codes.errors import InvalidCardNumber
from cases.models import Pass
from cases.services.passes import keystore
from cases.settings import Settings

REFRESH_SECONDS = 5.0  # the keys (rotation); revocations are pushed


@dataclass(frozen=True)
class _Cache:
    # Immutable and swapped whole: readers (the event loop) take no lock and never see half a refresh.
    keys: dict = field(default_factory=dict)
    revoked: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # pass id -> revoke_reason (R2: "superseded")
    version: int = 0
    loaded_at: float = 0.0
    source: tuple = ()
    feed_token: object = None  # what the revocation feed said before the set was read


_cache = _Cache()
_lock = threading.Lock()


def revocation_version(session: Session) -> tuple[int, MappingProxyType]:
    """(count, read-only mapping revoked pass id -> revoke_reason). Iterating it gives the ids;
    the reason lets the checkpoint answer ``superseded`` rather than ``revoked`` (R2)."""
    rows = session.exec(select(Pass.id, Pass.revoke_reason).where(Pass.revoked_at.is_not(None))).all()
    return len(rows), MappingProxyType({pid: reason for pid, reason in rows})


def _source(settings: Settings, engine: Engine) -> tuple:
    return (str(settings.keys_dir), str(engine.url))


def _keys_fresh(cache: _Cache, source: tuple) -> bool:
    return bool(cache.keys) and time.monotonic() - cache.loaded_at < REFRESH_SECONDS and cache.source == source


def _trusted(cache: _Cache, engine: Engine) -> bool:
    return revocation_feed.feed(engine).valid(cache.feed_token)


def cached(settings: Settings, engine: Engine) -> _Cache | None:
    """The cache if its keys are fresh and its revocation set current, else None; no lock and no
    I/O but one stat of the SQLite stamp (safe in the event loop)."""
    cache = _cache
    return cache if _keys_fresh(cache, _source(settings, engine)) and _trusted(cache, engine) else None


def _refresh(session: Session, settings: Settings, now: datetime) -> _Cache:
    global _cache
    with _lock:
        engine = session.get_bind()
        source = _source(settings, engine)
        if _keys_fresh(_cache, source) and _trusted(_cache, engine):
            return _cache
        # The feed's token is read before the store: a revocation committed after the read below
        # changes the token (or is pushed into this set under the lock), never slips between.
        token = revocation_feed.feed(engine).token()
        version = _cache.version if _cache.source == source else -1
        revoked = _cache.revoked
        if _keys_fresh(_cache, source):
            keys = _cache.keys
        else:
            store = keystore(str(settings.keys_dir))
            store.ensure_active(now=now)
            keys = store.public_keys(now=now, validity=timedelta(days=settings.pass_validity_days))
        count = session.exec(select(func.count()).select_from(Pass).where(Pass.revoked_at.is_not(None))).one()
        if count != version:
            version, revoked = revocation_version(session)
        loaded_at = _cache.loaded_at if keys is _cache.keys else time.monotonic()
        _cache = _Cache(keys=keys, revoked=revoked, version=version, loaded_at=loaded_at, source=source, feed_token=token)
        return _cache


def invalidate() -> None:
    """Reload on the next verify. Under the lock: a refresh that read the store before the
    caller's commit cannot then stamp its old revocation set as fresh."""
    global _cache
    with _lock:
        _cache = _Cache(revoked=_cache.revoked, version=_cache.version, source=_cache.source)


def _with(revoked: MappingProxyType, more: Mapping[str, str | None]) -> MappingProxyType:
    return MappingProxyType({**revoked, **more})


def _pushed(revoked: Mapping[str, str | None]) -> None:
    # Called by the feed (its listener thread, or the revoking thread after its commit) before the
    # revocation is acknowledged; under the lock so a refresh in flight cannot swap it away.
    global _cache
    with _lock:
        if any(_cache.revoked.get(pid, "?") != reason for pid, reason in revoked.items()):
            _cache = replace(_cache, revoked=_with(_cache.revoked, revoked))


def _resubscribed() -> None:
    # Revocations may have been missed while the channel was down: the next verify reloads the set.
    global _cache
    with _lock:
        _cache = replace(_cache, version=-1, feed_token=None)


revocation_feed.on_revoked(_pushed)
revocation_feed.on_reconnect(_resubscribed)


def verify(*, session: Session, settings: Settings, now: datetime, temperature: float, qr: str | None = None, card_number: str | None = None) -> Decision:
    """Paper card number or QR: the same decision path (R3)."""
    cache = _refresh(session, settings, now)
    if qr is None:
        try:
            normalised = normalise_card_number(card_number or "")
        except InvalidCardNumber:
            return Decision(result="DENY", reasons=["malformed"] + (["fever"] if not temperature < settings.fever_threshold else []), colour=None, valid_until=None, masked_name=None, pass_id=None)
        row = session.exec(select(Pass.token).where(Pass.card_number == normalised)).first()
        if row is None:
            return Decision(result="DENY", reasons=["unknown_card"] + (["fever"] if not temperature < settings.fever_threshold else []), colour=None, valid_until=None, masked_name=None, pass_id=None)
        qr = row
    decision = _decide(cache, qr=qr, settings=settings, now=now, temperature=temperature)
    if _key_may_be_new(decision, cache):
        invalidate()  # a key rotated in another process since the last refresh
        cache = _refresh(session, settings, now)
        decision = _decide(cache, qr=qr, settings=settings, now=now, temperature=temperature)
    if decision.pass_id and not {"revoked", "superseded"} & set(decision.reasons) and not _trusted(cache, session.get_bind()):
        # The channel is down (or never came up): the pass is looked up in the store.
        row = session.exec(select(Pass.revoked_at, Pass.revoke_reason).where(Pass.id == decision.pass_id)).first()
        if row is not None and row[0] is not None:
            decision = _decide(replace(cache, revoked=_with(cache.revoked, {decision.pass_id: row[1]})), qr=qr, settings=settings, now=now, temperature=temperature)
    return decision


def _decide(cache: _Cache, *, qr: str, settings: Settings, now: datetime, temperature: float) -> Decision:
    return decide(token=qr, keys=cache.keys, revoked=cache.revoked, now=now, temperature=temperature, fever_threshold=settings.fever_threshold)


def _key_may_be_new(decision: Decision, cache: _Cache) -> bool:
    return "unknown_key" in decision.reasons and time.monotonic() - cache.loaded_at > 0.5


def decide_cached(*, settings: Settings, engine: Engine, now: datetime, temperature: float, qr: str) -> Decision | None:
    """The QR decision from a fresh cache, without the store (for the event loop); None when
    the store is needed (stale cache, or a key the cache may not know yet): then use ``verify``."""
    cache = cached(settings, engine)
    if cache is None:
        return None
    decision = _decide(cache, qr=qr, settings=settings, now=now, temperature=temperature)
    return None if _key_may_be_new(decision, cache) else decision


def id_document_matches(decision: Decision, id_number: str, *, settings: Settings) -> bool | None:
    """Was this pass issued to the ID document shown? Only for a pass whose signature verified
    (its claims are trusted); ``None`` when the pass cannot tell (an idh of the old kind)."""
    from cases.codes.claims import checkpoint_idh_key, idh_matches

    if decision.pass_id is None or decision.idh is None:
        return None
    return idh_matches({"pid": decision.pass_id, "idh": decision.idh}, id_number, key=checkpoint_idh_key(settings.secret("idhash")))
