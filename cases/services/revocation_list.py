"""The signed revocation list served to offline checkpoints (R4): the store's revoked,
unexpired passes, signed with the active pass key (format: ``cases.codes.revocation_list``)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from cases.clock import aware
from cases.codes.revocation_list import Entry, reason_code, sign_revocation_list
from cases.models import Pass
from cases.services.passes import keystore
from cases.settings import Settings


def signed_revocation_list(*, session: Session, settings: Settings, now: datetime) -> str:
    """A compact JWS, fresh until ``now + revocation_list_minutes``.

    Passes already expired are left out (a checkpoint denies them anyway), so the list stays
    as small as the passes in circulation. ``version`` counts every revocation ever made, the
    same number as ``GET /api/v1/passes/revocations``.
    """
    version = session.exec(select(func.count()).select_from(Pass).where(Pass.revoked_at.is_not(None))).one()
    rows = session.exec(
        select(Pass.id, Pass.revoke_reason, Pass.revoked_at).where(Pass.revoked_at.is_not(None), Pass.valid_until > now)
    ).all()
    entries = [Entry(pid, reason_code(reason), aware(at)) for pid, reason, at in rows]
    key = keystore(str(settings.keys_dir)).ensure_active(now=now)
    return sign_revocation_list(
        entries=entries,
        version=version,
        issued_at=now,
        next_update=now + timedelta(minutes=settings.revocation_list_minutes),
        key=key,
    )
