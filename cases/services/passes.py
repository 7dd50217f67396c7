"""Issuing and revoking passes (R1-R3, R7, R9, R12). A pass is a signed JWS the QR carries.

One valid pass per person (R2): :func:`issue_pass` is the one place a case's pass is issued
(arrival yellow R7, decisions, auto-issue R12, observation end R9 all come here), and it
supersedes every earlier unexpired, unrevoked pass of the same person - the same
``applicant.id_hash``, and legacy imports whose ``idh`` the person's ID number reproduces.
Superseding is a revocation with reason ``superseded`` (so the revocation list and the
checkpoint cache carry it; the checkpoint answers DENY ``superseded``), evented in both
cases' timelines. :func:`revoke` likewise revokes every live pass of the person."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from cases import revocation_feed  # noqa: F401  (its session hooks push every committed revocation)
from cases.codes import claims as claim_mod
from cases.codes._b64 import b64u_decode
from cases.events import record_event
from cases.models import Applicant, Application, Pass, PassColour
from cases.settings import Settings

CARD_NAME = "Shandong Health Pass Card"
CARD_NAME_ZH = "山东省健康通行卡"
SUPERSEDED = "superseded"  # revoke_reason of a pass replaced by a later pass of the same person


@lru_cache
def keystore(directory: str):
    from cases.codes.keys import KeyStore

    return KeyStore(Path(directory))


def active_pass(session: Session, application_id: str) -> Pass | None:
    return session.exec(
        select(Pass)
        .where(Pass.application_id == application_id, Pass.revoked_at.is_(None))
        .order_by(Pass.issued_at.desc())
    ).first()


def _claims_of(token: str) -> dict:
    """The payload of a token from our own store (signed by us; no signature check needed)."""
    try:
        return json.loads(b64u_decode(token.split(".")[1]))
    except (IndexError, ValueError):
        return {}


def _lock_person(session: Session, id_hash: str) -> list[str]:
    """The person's applicant ids (one per document type), locked so two passes of one person
    issued at once cannot both stay valid: their rows FOR UPDATE on PostgreSQL; on SQLite the
    database's one write lock, taken by a no-op write before the person's passes are read (the
    driver opens a transaction only at the first write, so reads before it could be stale)."""
    query = select(Applicant.id).where(Applicant.id_hash == id_hash).order_by(Applicant.id)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        query = query.with_for_update()
    elif dialect == "sqlite":
        session.execute(update(Applicant).where(Applicant.id_hash == id_hash).values(id_hash=Applicant.id_hash))
    return list(session.exec(query).all())


def _legacy_of_person(p: Pass, *, id_number: str | None, id_hash: str | None, secret: bytes) -> bool:
    """Is this imported card (no case) the person's? Its ``idh`` is either the old person-wide
    keyed hash (equal to ``applicant.id_hash`` for a validated number) or a per-pass hash the
    person's ID number reproduces."""
    idh = _claims_of(p.token).get("idh")
    if not isinstance(idh, str):
        return False
    if id_hash is not None and idh == id_hash:
        return True
    if id_number is None:
        return False
    if idh.startswith(claim_mod.IDH_PREFIX):
        return idh == claim_mod.pass_id_hash(pass_id=p.id, id_number=id_number, key=claim_mod.checkpoint_idh_key(secret))
    return idh == claim_mod.id_hash(id_number, key=secret)


def person_live_passes(session: Session, *, applicant_ids: list[str], id_hash: str | None, id_number: str | None, at: datetime, settings: Settings) -> list[Pass]:
    """Every unexpired, unrevoked pass of one person: of their cases, and the imported legacy
    cards that can be tied to them. Legacy cards are few and expire 14 days after issue (R2),
    so checking the live ones one by one is cheap."""
    live = (Pass.revoked_at.is_(None), Pass.valid_until > at)
    found: list[Pass] = []
    if applicant_ids:
        found += session.exec(
            select(Pass).join(Application, Pass.application_id == Application.id).where(Application.applicant_id.in_(applicant_ids), *live).order_by(Pass.issued_at)
        ).all()
    secret = settings.secret("idhash")
    found += [
        p for p in session.exec(select(Pass).where(Pass.application_id.is_(None), *live).order_by(Pass.issued_at)).all()
        if _legacy_of_person(p, id_number=id_number, id_hash=id_hash, secret=secret)
    ]
    return found


def _id_number(session: Session, application_id: str) -> str:
    from cases.services.applications import latest_declaration

    return latest_declaration(session, application_id).content["id_number"]


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
    Otherwise the new pass supersedes every earlier live pass of the person (R2), this case's
    previous one (yellow when green is issued) included."""
    from cases.codes import card_number, jws

    current = active_pass(session, application.id)
    if current is not None and current.colour == colour:
        return current

    applicant = session.get(Applicant, application.applicant_id)
    applicant_ids = _lock_person(session, applicant.id_hash) or [applicant.id]
    id_number = _id_number(session, application.id)
    key = keystore(str(settings.keys_dir)).ensure_active()
    valid_until = at + timedelta(days=settings.pass_validity_days)  # R2
    new = Pass(
        application_id=application.id,
        colour=PassColour(colour),
        issued_at=at,
        valid_until=valid_until,
        region_code=application.community_code,
        masked_name=claim_mod.mask_name(applicant.name),
        kid=key.kid,
        token="",
        card_number="",
        issued_by=by,
    )
    new.card_number = card_number.make_card_number(new.id)
    token_claims = claim_mod.build_claims(
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
    earlier = person_live_passes(session, applicant_ids=applicant_ids, id_hash=applicant.id_hash, id_number=id_number, at=at, settings=settings)
    for old in earlier:
        _supersede(session, old=old, new=new, application=application, by=by, at=at)
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


def _supersede(session: Session, *, old: Pass, new: Pass, application: Application | None, by: str, at: datetime) -> None:
    """R2: the old pass is revoked with reason ``superseded``; the old case's timeline names the
    new pass and its case, the new case's timeline names the old pass (once, if it is another
    case's). An imported card (no case) has no timeline of its own."""
    old_case = session.get(Application, old.application_id) if old.application_id else None
    by_case = application.reference if application is not None else None
    _revoke_one(session, old, reason=SUPERSEDED, by=by, at=at, data={"superseded_by": new.id, "by_case": by_case})
    if application is not None and old.application_id != application.id:
        record_event(
            session,
            application_id=application.id,
            actor=by,
            action="pass_superseded",
            at=at,
            reason=SUPERSEDED,
            before=old.colour,
            data={"pass_id": old.id, "case": old_case.reference if old_case else None, "card_number": old.card_number, "by_pass": new.id},
        )


def settle_imported(*, session: Session, new: Pass, id_number: str, by: str, at: datetime, settings: Settings) -> None:
    """R2 for a card just imported (R1): of the person's live passes and this card, the one
    issued last stays valid, every other is superseded - an old card imported after a newer
    pass is imported superseded, and a newer imported card supersedes the older passes."""
    if new.revoked_at is not None or new.valid_until <= at:
        return
    from cases.validation import hash_id_number

    id_hash = hash_id_number(id_number, key=settings.secret("idhash"))
    applicant_ids = _lock_person(session, id_hash)
    others = [p for p in person_live_passes(session, applicant_ids=applicant_ids, id_hash=id_hash, id_number=id_number, at=at, settings=settings) if p.id != new.id]
    if not others:
        return
    everyone = [new, *others]
    latest = max(everyone, key=lambda p: (p.issued_at, p.id == new.id))
    latest_case = session.get(Application, latest.application_id) if latest.application_id else None
    for p in everyone:
        if p is not latest:
            _supersede(session, old=p, new=latest, application=latest_case, by=by, at=at)


def _revoke_one(session: Session, pass_: Pass, *, reason: str, by: str, at: datetime, data: dict | None = None) -> None:
    pass_.revoked_at = at
    pass_.revoke_reason = reason
    session.add(pass_)
    # Every API process's checkpoint cache has it before the commit returns: cases.revocation_feed
    # pushes each committed change of Pass.revoked_at, with its reason (R2, R4).
    if pass_.application_id:
        record_event(
            session,
            application_id=pass_.application_id,
            actor=by,
            action="pass_revoked",
            at=at,
            reason=reason,
            before=pass_.colour,
            data={"pass_id": pass_.id, **(data or {})},
        )


def revoke(*, session: Session, pass_: Pass, reason: str, by: str, at: datetime, settings: Settings | None = None) -> Pass:
    """Revoke the pass and, with the same reason, every other unexpired pass of its holder: a
    revocation (or a rejection) takes effect on the person, e-code and paper card alike. An
    imported card is tied to its holder by its ``idh`` when that is the old person-wide hash."""
    if pass_.revoked_at is not None:
        return pass_
    if settings is None:
        from cases.settings import get_settings

        settings = get_settings()
    others: list[Pass] = []
    if pass_.application_id:
        application = session.get(Application, pass_.application_id)
        applicant = session.get(Applicant, application.applicant_id)
        applicant_ids = _lock_person(session, applicant.id_hash) or [applicant.id]
        others = person_live_passes(session, applicant_ids=applicant_ids, id_hash=applicant.id_hash, id_number=_id_number(session, application.id), at=at, settings=settings)
    else:
        idh = _claims_of(pass_.token).get("idh")
        if isinstance(idh, str) and not idh.startswith(claim_mod.IDH_PREFIX):
            applicant_ids = _lock_person(session, idh)
            others = person_live_passes(session, applicant_ids=applicant_ids, id_hash=idh, id_number=None, at=at, settings=settings)
    _revoke_one(session, pass_, reason=reason, by=by, at=at)
    for other in others:
        if other.id != pass_.id and other.revoked_at is None:
            _revoke_one(session, other, reason=reason, by=by, at=at, data={"with_pass": pass_.id})
    return pass_
