"""The pass signing keys, seen and rotated by an admin (cases/codes/keys.py keeps them on disk).

Status of a key: `active` (signs new passes, published), `published` (retired, still in the
JWKS while a pass it signed can be valid: retired_at + validity in the future), `retired`
(no pass it signed is valid any more; no longer published)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from cases.admin.log import record_admin_event
from cases.codes.keys import KeyStore


@dataclass
class KeyRow:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    status: str  # active | published | retired
    published_until: datetime | None  # retired keys: the end of the last pass they can have signed


def key_rows(*, store: KeyStore, now: datetime, validity: timedelta) -> list[KeyRow]:
    """Every key on record: the active one first, then the others newest first."""
    published = set(store.public_keys(now=now, validity=validity))
    rows = []
    for key in store.all_keys():
        if key.retired_at is None:
            status, until = "active", None
        else:
            status, until = ("published" if key.kid in published else "retired"), key.retired_at + validity
        rows.append(KeyRow(key.kid, key.created_at, key.retired_at, status, until))
    rows.sort(key=lambda r: r.created_at, reverse=True)
    return sorted(rows, key=lambda r: r.status != "active")  # stable: keeps newest first


def rotate(*, session: Session, store: KeyStore, by: str, at: datetime) -> str:
    """A new active key; the old one is retired now and stays published for verification
    until the passes it signed expire. Returns the new kid. The caller commits the event."""
    previous = store.ensure_active(now=at).kid
    key = store.rotate(now=at)
    record_admin_event(session, actor=by, action="key_rotated", target=key.kid, at=at, data={"previous": previous})
    return key.kid
