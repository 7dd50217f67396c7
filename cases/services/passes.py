"""Issuing and revoking passes (R1-R3, R7, R9, R12). A pass is a signed JWS the QR carries."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session, select

from cases import revocation_feed  # noqa: F401  (its session hooks push every committed revocation)
from cases.events import record_event
from cases.models import Applicant, Application, Pass, PassColour
from cases.settings import Settings

CARD_NAME = "Shandong Health Pass Card"
CARD_NAME_ZH = "山东省健康通行卡"


@lru_cache
def keystore(directory: str):
    from cases.codes.keys import KeyStore

    return KeyStore(Path(directory))


def active_pass(session: Session, application_id: str) -> Pass | None:
    return session.exec(
        select(Pass)
        .where(Pass.application_id == application_id, Pass.revoked_at == None)  # noqa: E711
        .order_by(Pass.issued_at.desc())
    ).first()


def issue_pass(
    *,
    session: Session,
    application: Application,
    colour: str,
    by: str,
    at: datetime,
    settings: Settings,
) -> Pass:
    """Idempotent: a case that already holds a live pass of this colour gets that pass back.
    A new colour revokes the previous pass (yellow is revoked when green is issued)."""
    from cases.codes import card_number, claims, jws

    current = active_pass(session, application.id)
    if current is not None and current.colour == colour:
        return current
    if current is not None:
        revoke(session=session, pass_=current, reason=f"superseded by {colour} pass", by=by, at=at)

    from cases.services.applications import latest_declaration

    applicant = session.get(Applicant, application.applicant_id)
    id_number = latest_declaration(session, application.id).content["id_number"]
    key = keystore(str(settings.keys_dir)).ensure_active()
    valid_until = at + timedelta(days=settings.pass_validity_days)  # R2
    new = Pass(
        application_id=application.id,
        colour=PassColour(colour),
        issued_at=at,
        valid_until=valid_until,
        region_code=application.community_code,
        masked_name=claims.mask_name(applicant.name),
        kid=key.kid,
        token="",
        card_number="",
        issued_by=by,
    )
    new.card_number = card_number.make_card_number(new.id)
    token_claims = claims.build_claims(
        pass_id=new.id,
        colour=colour,
        issued_at=at,
        valid_until=valid_until,
        region=application.community_code[:6],  # county level: valid province-wide anyway (R2)
        name=applicant.name,
        id_number=id_number,
        hash_key=settings.secret("idhash"),
    )
    new.token = jws.sign(token_claims, key)
    session.add(new)
    session.flush()
    record_event(
        session,
        application_id=application.id,
        actor=by,
        action="pass_issued",
        at=at,
        after=colour,
        data={"pass_id": new.id, "card_number": new.card_number, "valid_until": valid_until.isoformat()},
    )
    return new


def revoke(*, session: Session, pass_: Pass, reason: str, by: str, at: datetime) -> Pass:
    if pass_.revoked_at is not None:
        return pass_
    pass_.revoked_at = at
    pass_.revoke_reason = reason
    session.add(pass_)
    if pass_.application_id:
        record_event(
            session,
            application_id=pass_.application_id,
            actor=by,
            action="pass_revoked",
            at=at,
            reason=reason,
            before=pass_.colour,
            data={"pass_id": pass_.id},
        )
    return pass_
