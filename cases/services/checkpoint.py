"""The checkpoint decision (R4) with keys and the revocation set cached in memory:
a PASS costs one signature check and no store round trip."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from cases.codes import Decision, decide, normalise_card_number
from cases.codes.errors import InvalidCardNumber
from cases.models import Pass
from cases.services.passes import keystore
from cases.settings import Settings

REFRESH_SECONDS = 5.0


@dataclass
class _Cache:
    keys: dict = field(default_factory=dict)
    revoked: frozenset = frozenset()
    version: int = 0
    loaded_at: float = 0.0
    source: tuple = ()


_cache = _Cache()
_lock = threading.Lock()


def revocation_version(session: Session) -> tuple[int, frozenset[str]]:
    rows = session.exec(select(Pass.id).where(Pass.revoked_at != None)).all()  # noqa: E711
    return len(rows), frozenset(rows)


def _refresh(session: Session, settings: Settings, now: datetime) -> _Cache:
    with _lock:
        source = (str(settings.keys_dir), str(session.get_bind().url))
        if time.monotonic() - _cache.loaded_at < REFRESH_SECONDS and _cache.keys and _cache.source == source:
            return _cache
        if _cache.source != source:
            _cache.version, _cache.source = -1, source
        store = keystore(str(settings.keys_dir))
        store.ensure_active(now=now)
        _cache.keys = store.public_keys(now=now, validity=timedelta(days=settings.pass_validity_days))
        count = session.exec(select(func.count()).select_from(Pass).where(Pass.revoked_at != None)).one()  # noqa: E711
        if count != _cache.version:
            _cache.version, _cache.revoked = revocation_version(session)
        _cache.loaded_at = time.monotonic()
        return _cache


def invalidate() -> None:
    _cache.loaded_at = 0.0
    _cache.keys = {}


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
    decision = decide(token=qr, keys=cache.keys, revoked=cache.revoked, now=now, temperature=temperature, fever_threshold=settings.fever_threshold)
    if "unknown_key" in decision.reasons and time.monotonic() - cache.loaded_at > 0.5:
        invalidate()  # a key rotated in another process since the last refresh
        cache = _refresh(session, settings, now)
        decision = decide(token=qr, keys=cache.keys, revoked=cache.revoked, now=now, temperature=temperature, fever_threshold=settings.fever_threshold)
    return decision
