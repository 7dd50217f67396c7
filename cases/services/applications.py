"""Submission of an application (step 1 of R14): the case is committed before any flow run exists."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases import validation
from cases.clock import SHANGHAI
from cases.errors import Conflict, Invalid, NotFound
from cases.events import record_event
from cases.models import (
    OPEN_STATUSES,
    Applicant,
    Application,
    CaseKind,
    CaseStatus,
    Declaration,
    Notification,
    Region,
    RegionLevel,
    Unit,
)
from cases.services import dispatch
from cases.settings import Settings


class DuplicateOpenCase(Conflict):
    """The person already has an open case and the caller has not shown it is theirs.
    The answer names no case: an ID number alone must not reveal someone's case."""

    code = "duplicate_open_case"

    def __init__(self) -> None:
        super().__init__(
            "an application for this person is already open; use your case link, or recover it with your case number "
            "and access token (ask your community if you lost them)",
            field="id_number",
        )


@dataclass
class Submitted:
    application: Application
    access_token: str | None  # None when a different client hit an existing open case
    created: bool


def access_token_for(case_id: str, *, settings: Settings) -> str:
    """Deterministic per case, so a retried submission (same Idempotency-Key) gets the same token back."""
    return hmac.new(settings.secret("access"), case_id.encode(), hashlib.sha256).hexdigest()[:40]


def token_matches(application: Application, token: str, *, settings: Settings) -> bool:
    # The stored hash is the case's current token: link recovery (cases/recovery) replaces it with
    # a fresh one, and from then the earlier link no longer opens the case.
    return hmac.compare_digest(_hash(token), application.access_token_hash)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: read aloud and typed without mix-ups


def _reference(session: Session, at: datetime) -> str:
    """HP<date>-XXXX-XXXX: 40 random bits a day. Six hex digits (24 bits) collided within
    a few thousand cases a day, and a collision failed the submission; at a province's
    volume (about a million a day) 40 bits collide about once in two days, so the rare
    one is drawn again."""
    while True:
        bits = secrets.randbits(40)
        code = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
        reference = f"HP{at:%Y%m%d}-{code[:4]}-{code[4:]}"
        with session.no_autoflush:  # the case's rows still go out in one flush at commit
            if session.exec(select(Application.id).where(Application.reference == reference)).first() is None:
                return reference


def canonical_hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


_hierarchy: dict[tuple[str, str], tuple[str, str, str]] = {}


def _community(session: Session, code: str) -> tuple[str, str, str]:
    """(community, county, city) codes. Cached: the region tree is reference data, and this
    lookup sits on the hot path of every submission."""
    key = (str(session.get_bind().url), code)
    if key not in _hierarchy:
        community = session.get(Region, code)
        if community is None or community.level != RegionLevel.community:
            raise Invalid(f"community {code} does not exist", field="community_code")
        county = session.get(Region, community.parent_code)
        _hierarchy[key] = (community.code, county.code, county.parent_code)
    return _hierarchy[key]


def submit_application(
    *,
    session: Session,
    payload,
    content: dict,
    settings: Settings,
    at: datetime,
    idempotency_key: str | None = None,
    submitted_by: str = "applicant",
    access_token: str | None = None,
    reader=None,
) -> Submitted:
    """Store the case, its declaration and its outbox row in the caller's transaction.

    `payload` is a validated ApplicationCreate; `content` the exact JSON submitted (kept as the
    signed statement, R15). Duplicates return the existing case only to a caller who proves it
    is theirs: the same Idempotency-Key (a replay), the case's `access_token`, or staff whose
    scope (`reader`, a `cases.scope.Scope`) covers the case. Anyone else gets
    `DuplicateOpenCase`, which names nothing about the case.
    """
    if idempotency_key:
        existing = session.exec(select(Application).where(Application.idempotency_key == idempotency_key)).first()
        if existing:
            return Submitted(existing, access_token_for(existing.id, settings=settings), created=False)

    community_code, county_code, city_code = _community(session, payload.community_code)
    if payload.unit_code and session.get(Unit, payload.unit_code) is None:
        raise Invalid(f"unit {payload.unit_code} does not exist", field="unit_code")

    hash_key = settings.secret("idhash")
    id_hash = validation.hash_id_number(payload.id_number, key=hash_key)
    applicant = session.exec(
        select(Applicant).where(Applicant.id_type == payload.id_type.value, Applicant.id_hash == id_hash)
    ).first()
    if applicant is None:
        applicant = Applicant(
            id_type=payload.id_type.value,
            id_hash=id_hash,
            id_masked=validation.mask_id(payload.id_number),
            name=payload.name,
            phone_masked=validation.mask_phone(payload.phone),
            phone_hash=validation.hash_phone(payload.phone, key=hash_key),
            created_at=at,
        )
        session.add(applicant)  # ids are made here, not by the database: no flush needed yet
    else:
        open_case = session.exec(
            select(Application).where(Application.applicant_id == applicant.id, Application.status.in_(OPEN_STATUSES))
        ).first()
        if open_case:
            if access_token and token_matches(open_case, access_token, settings=settings):
                return Submitted(open_case, access_token, created=False)
            if reader is not None and reader.covers_case(open_case):
                return Submitted(open_case, None, created=False)  # staff read it with their own account
            raise DuplicateOpenCase()

    application = Application(
        reference=_reference(session, at.astimezone(SHANGHAI)),
        applicant_id=applicant.id,
        kind=payload.kind.value,
        channel=payload.channel.value,
        community_code=community_code,
        unit_code=payload.unit_code,
        county_code=county_code,
        city_code=city_code,
        submitted_at=at,
        updated_at=at,
        needs_verification=bool(getattr(payload, "needs_verification", False)),
        idempotency_key=idempotency_key,
        access_token_hash="",
    )
    token = access_token_for(application.id, settings=settings)
    application.access_token_hash = _hash(token)
    session.add(application)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        session.rollback()
        existing = session.exec(select(Application).where(Application.idempotency_key == idempotency_key)).one()
        return Submitted(existing, access_token_for(existing.id, settings=settings), created=False)

    content_hash = canonical_hash(content)
    signature = hmac.new(settings.secret("statement"), f"{content_hash}|{at.isoformat()}".encode(), hashlib.sha256).hexdigest()
    session.add(
        Declaration(
            application_id=application.id,
            version=1,
            channel=application.channel,
            content=content,
            content_hash=content_hash,
            signature=signature,
            declared_at=at,
        )
    )
    record_event(
        session,
        first=True,
        application_id=application.id,
        actor=submitted_by,
        action="submitted",
        at=at,
        after=application.status,
        data={"kind": application.kind, "channel": application.channel, "declaration_hash": content_hash},
    )
    if application.kind == CaseKind.arrival:
        _arrival_at_once(session=session, application=application, applicant=applicant, settings=settings, at=at)
    dispatch.enqueue(session, application_id=application.id, action="start", at=at, new_case=True)
    return Submitted(application, token, created=True)


def _arrival_at_once(*, session: Session, application: Application, applicant: Applicant, settings: Settings, at: datetime) -> None:
    """R7: a yellow pass at once on a valid arrival declaration; R6: community and unit are told."""
    from cases.services.passes import issue_pass

    issue_pass(session=session, application=application, colour="yellow", by="system", at=at, settings=settings)
    message = f"Arrival {application.reference} ({applicant.name}) declared; self-isolation pledged."
    session.add(Notification(application_id=application.id, recipient_level="community", recipient_code=application.community_code, kind="arrival_declared", message=message, created_at=at))
    if application.unit_code:
        session.add(Notification(application_id=application.id, recipient_level="unit", recipient_code=application.unit_code, kind="arrival_declared", message=message, created_at=at))


def get_application(session: Session, case_id: str) -> Application:
    application = session.get(Application, case_id)
    if application is None:
        # A reference as people type it: any case, spaces around it.
        application = session.exec(select(Application).where(Application.reference == case_id.strip().upper())).first()
    if application is None:
        raise NotFound(f"application {case_id} not found")
    return application


def latest_declaration(session: Session, application_id: str) -> Declaration:
    return session.exec(
        select(Declaration).where(Declaration.application_id == application_id).order_by(Declaration.version.desc())
    ).first()


# The statuses in which a declaration may still be amended: once decided it is closed (R15).
AMENDABLE = (
    CaseStatus.submitted, CaseStatus.declared, CaseStatus.compared, CaseStatus.observing,
    CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant,
)


def amend_declaration(*, session: Session, application: Application, payload, content: dict, settings: Settings, at: datetime) -> Declaration:
    """A later edit is a new version of the statement; earlier versions are never overwritten (R15).
    The person and the case's community stay the same: another person needs another application.
    The new version is compared again (R15), like the first one."""
    from cases.errors import Conflict
    from cases.services.comparison import compare_amendment

    # The case afresh, under its row lock on PostgreSQL (as a decision and the sweep take it): a
    # decision or an automatic pass that committed meanwhile closes the case to amendments, and
    # the flow's comparison step, which takes the same lock, sees this version or is seen by it.
    query = select(Application).where(Application.id == application.id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    application = session.exec(query).one()
    if application.status not in AMENDABLE:
        raise Conflict(f"the case is {application.status.value}; its declaration can no longer change")
    applicant = session.get(Applicant, application.applicant_id)
    if validation.hash_id_number(payload.id_number, key=settings.secret("idhash")) != applicant.id_hash or payload.id_type.value != applicant.id_type:
        raise Invalid("a declaration can be amended only by the same person (same ID)", field="id_number")
    if payload.community_code != application.community_code:
        raise Invalid("the community cannot change on an open case; apply again where you live", field="community_code")
    previous = latest_declaration(session, application.id)
    content_hash = canonical_hash(content)
    signature = hmac.new(settings.secret("statement"), f"{content_hash}|{at.isoformat()}".encode(), hashlib.sha256).hexdigest()
    declaration = Declaration(application_id=application.id, version=previous.version + 1, channel=previous.channel, content=content, content_hash=content_hash, signature=signature, declared_at=at)
    session.add(declaration)
    record_event(session, application_id=application.id, actor="applicant", action="declaration_amended", at=at, data={"version": declaration.version, "declaration_hash": content_hash, "previous_hash": previous.content_hash})
    # The new version is written (flushed) before the comparison record is looked up, so on
    # SQLite too either this finds the flow's record or the flow's step finds this version.
    session.flush()
    compare_amendment(session=session, application=application, declaration=declaration, at=at, settings=settings)
    return declaration
