"""Passes: JWKS, QR image, printable card, checkpoint verification, revocation (R1-R4)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ApplicantToken, NowDep, OptionalUser, SessionDep, SettingsDep, TokenDep, require
from cases.clock import SHANGHAI
from cases.codes import Decision, InvalidCardNumber, check_card_number
from cases.db import get_engine, session_scope
from cases.errors import NotFound
from cases.models import Pass, Region, Role, User
from cases.services import checkpoint
from cases.services.access import load_case_for_reader
from cases.services.passes import CARD_NAME, CARD_NAME_ZH, keystore, revoke

router = APIRouter(tags=["passes"])

# SMART Health Cards require issuers to serve their keys with CORS open to any origin, so a
# verifier running in a browser can fetch them; the same holds for the revocation list. Only
# these public, credential-free documents get it (never a route that reads a token or cookie).
PUBLIC_CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **PUBLIC_CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Cache-Control, If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
}
JWKS_PATH = "/.well-known/jwks.json"
SIGNED_REVOCATIONS_PATH = "/.well-known/revocations.jws"
REVOCATIONS_PATH = "/api/v1/passes/revocations"


def _preflight() -> Response:
    return Response(status_code=204, headers=PREFLIGHT)


for _path in (JWKS_PATH, SIGNED_REVOCATIONS_PATH, REVOCATIONS_PATH):
    router.add_api_route(_path, _preflight, methods=["OPTIONS"], include_in_schema=False, name=f"preflight {_path}")


@router.get(JWKS_PATH, summary="Public keys that sign passes and the revocation list (RFC 7517)", tags=["public"])
def jwks(settings: SettingsDep, now: NowDep, response: Response) -> dict[str, Any]:
    response.headers.update(PUBLIC_CORS)
    store = keystore(str(settings.keys_dir))
    store.ensure_active(now=now)
    return store.jwks(now=now, validity=timedelta(days=settings.pass_validity_days))


@router.get(
    SIGNED_REVOCATIONS_PATH,
    tags=["public", "checkpoint"],
    summary="Signed revocation list for offline checkpoints (compact JWS, ES256)",
    description="A compact JWS signed with a key of `/.well-known/jwks.json` (header `typ` "
    "`sdhp-revocations+jwt`). Payload: `version`, `issued_at`, `next_update` (NumericDate) and "
    "`entries` `[{pid, reason: revoked|superseded, revoked_at}]` of every revoked pass not yet "
    "expired. A verifier must check the signature and refuse the list once `next_update` has passed.",
    response_class=Response,
    responses={200: {"content": {"application/jose": {"schema": {"type": "string"}}}}},
)
def signed_revocations(session: SessionDep, settings: SettingsDep, now: NowDep) -> Response:
    from cases.services.revocation_list import signed_revocation_list

    body = signed_revocation_list(session=session, settings=settings, now=now)
    # No shared cache may keep it past next_update; a client may keep it that long.
    headers = {**PUBLIC_CORS, "Cache-Control": "no-cache"}
    return Response(body, media_type="application/jose", headers=headers)


def _readable_pass(session: Session, pass_id: str, *, user: User | None, token: str | None, settings) -> Pass:
    p = session.get(Pass, pass_id)
    if p is None or p.application_id is None:
        raise NotFound("pass not found")
    load_case_for_reader(session, p.application_id, user=user, token=token, settings=settings)
    return p




@router.get("/api/v1/passes/{pass_id}/qr.png", summary="The pass as a QR image", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def qr_png(pass_id: str, session: SessionDep, settings: SettingsDep, user: OptionalUser, token: ApplicantToken) -> Response:
    from cases.codes import to_qr_text
    from cases.codes.qr import qr_png as render

    p = _readable_pass(session, pass_id, user=user, token=token, settings=settings)
    return Response(render(to_qr_text(p.token)), media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def card_context(session: Session, p: Pass) -> dict[str, Any]:
    from cases.codes import to_qr_text
    from cases.codes.qr import qr_svg

    region = session.get(Region, p.region_code)
    return {
        "card_name_en": CARD_NAME,
        "card_name_zh": CARD_NAME_ZH,
        "colour": p.colour.value,
        "masked_name": p.masked_name,
        "card_number": p.card_number,
        "valid_from": p.issued_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        "valid_until": p.valid_until.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        "qr_svg": qr_svg(to_qr_text(p.token)),
        "qr_text": to_qr_text(p.token),
        "region_name": f"{region.name_zh} {region.name_en}" if region else p.region_code,
    }


@router.get("/api/v1/passes/{pass_id}/card", summary="Printable A6 paper card (HTML, or PDF with format=pdf)", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def card(pass_id: str, session: SessionDep, settings: SettingsDep, user: OptionalUser, token: ApplicantToken, format: Literal["html", "pdf"] = "html") -> Response:
    p = _readable_pass(session, pass_id, user=user, token=token, settings=settings)
    ctx = card_context(session, p)
    if format == "pdf":
        from cases.codes.pdf import card_pdf
        from cases.codes.qr import qr_png as render

        pdf = card_pdf(qr_png=render(ctx["qr_text"]), card_number=p.card_number, masked_name=p.masked_name, colour=ctx["colour"], valid_until=ctx["valid_until"], region_name=ctx["region_name"], valid_from=ctx["valid_from"])
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{p.card_number}.pdf"'})
    from cases.codes.card_html import card_html

    return HTMLResponse(card_html(ctx))


class VerifyIn(BaseModel):
    qr: str | None = Field(default=None, max_length=4096, description="the scanned QR text (SDHP1: prefix optional)")
    card_number: str | None = Field(default=None, max_length=64, description="the paper card's number, typed in when the QR is damaged (full-width characters accepted; a wrong check character is a 422 'check the number')")
    temperature: float = Field(ge=30.0, le=45.0, description="°C measured at the checkpoint")
    id_number: str | None = Field(default=None, max_length=64, description="optional: the number of the ID document shown; the answer's id_match says whether the pass was issued to it")

    @field_validator("card_number")
    @classmethod
    def readable_card_number(cls, value: str | None) -> str | None:
        # A typing mistake is not a decision about a person: answer "check the number" (422),
        # using the card's check character, instead of DENY "unknown_card".
        if not value:
            return value
        try:
            return check_card_number(value)
        except InvalidCardNumber as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def one_of(self):
        if bool(self.qr) == bool(self.card_number):
            raise ValueError("give exactly one of qr or card_number")
        return self


class VerifyOut(BaseModel):
    result: Literal["PASS", "DENY"]
    reasons: list[str]
    colour: str | None
    valid_until: datetime | None
    masked_name: str | None
    card_name: str | None = None
    isolation_required: bool = False  # R4: a valid pass and normal temperature pass without isolation
    id_match: bool | None = Field(default=None, description="with id_number: does the ID document belong to this pass (null: not asked, or the pass cannot tell)")


VERIFY_EXAMPLES = {
    "qr": {"summary": "Scanned QR", "value": {"qr": "SDHP1:eyJhbGciOiJFUzI1NiIs...", "temperature": 36.5}},
    "card_number": {"summary": "Paper card number typed in", "value": {"card_number": "SD-Q06W-45WQ-8K2G-A", "temperature": 36.5}},
}


VERIFY_DESCRIPTION = (
    "A scanned QR (`qr`) is verified for anyone, signed in or not: its signature says everything, "
    "as it does offline with `/.well-known/jwks.json`. A typed card number (`card_number`) needs the "
    "bearer token of a checkpoint operator (role `checkpoint`): the number alone is no proof of "
    "holding the card, and anyone who knew one would learn its colour and the masked name."
)


@router.post("/api/v1/checkpoint/verify", response_model=VerifyOut, tags=["checkpoint"], summary="PASS or DENY with every reason (R4)", description=VERIFY_DESCRIPTION)
async def verify(body: Annotated[VerifyIn, Body(openapi_examples=VERIFY_EXAMPLES)], settings: SettingsDep, now: NowDep, token: TokenDep) -> VerifyOut:
    # Nothing about who passed is stored here (privacy): the answer is computed and forgotten.
    # async: a QR with the cache fresh is decided in the event loop (one signature check, no
    # thread hop, no Session); the store is touched in the threadpool only to refresh the cache
    # or to look up a typed-in card number.
    d = checkpoint.decide_cached(settings=settings, engine=get_engine(), now=now, temperature=body.temperature, qr=body.qr) if body.qr is not None else None
    if d is None:
        d = await run_in_threadpool(_verify_in_store, body, settings, now, token)
    id_match = checkpoint.id_document_matches(d, body.id_number, settings=settings) if body.id_number else None
    return VerifyOut(result=d.result, reasons=d.reasons, colour=d.colour, valid_until=d.valid_until, masked_name=d.masked_name, card_name=d.card_name, id_match=id_match)


def _verify_in_store(body: VerifyIn, settings, now: datetime, token: str | None = None) -> Decision:
    with session_scope() as session:
        if body.card_number is not None:
            _require_checkpoint(session, settings, now, token)
        return checkpoint.verify(session=session, settings=settings, now=now, temperature=body.temperature, qr=body.qr, card_number=body.card_number)


def _require_checkpoint(session: Session, settings, now: datetime, token: str | None) -> None:
    # Read here, not as a dependency: a QR is decided in the event loop without a store session.
    # The bearer token only: on a POST the UI's cookie carries no authority (see api/deps.py).
    from cases.security import decode_token

    from cases.scope import may_verify_card_number

    payload = decode_token(token, settings=settings, at=now) if token else None
    user = session.get(User, payload["sub"]) if payload else None
    if user is None or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a card number is verified only by a signed-in checkpoint operator; sign in (role checkpoint) or scan the QR", headers={"WWW-Authenticate": "Bearer"})
    if not may_verify_card_number(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a card number is verified only by a checkpoint operator (role checkpoint); scan the QR instead")


@router.get(REVOCATIONS_PATH, tags=["checkpoint"], summary="Revoked pass ids (unsigned); offline checkpoints use the signed `/.well-known/revocations.jws`", description="Unsigned and without a freshness date: fine for learning cheaply (with `since`) whether anything changed, but not enough to PASS anyone offline. `healthpass pass verify` accepts only the signed list.")
def revocations(session: SessionDep, response: Response, since: Annotated[int | None, Query(ge=0, description="the version you hold")] = None) -> dict[str, Any]:
    response.headers.update(PUBLIC_CORS)
    version, revoked = checkpoint.revocation_version(session)
    if since is not None and since == version:
        return {"version": version, "changed": False, "revoked": []}
    return {"version": version, "changed": True, "revoked": sorted(revoked)}


class RevokeIn(BaseModel):
    reason: str = Field(min_length=5, max_length=500)

    model_config = {"json_schema_extra": {"examples": [{"reason": "re-decided after a complaint: the applicant is a close contact"}]}}


@router.post("/api/v1/passes/{pass_id}/revoke", summary="Revoke a pass", tags=["passes"])
def revoke_pass(pass_id: str, body: RevokeIn, session: SessionDep, now: NowDep, user: Annotated[User, require(Role.admin, Role.auditor, Role.supervisor)]) -> dict[str, Any]:
    p = session.get(Pass, pass_id)
    if p is None:
        raise NotFound("pass not found")
    if user.role == Role.supervisor:
        # A supervisor revokes only passes of cases in their region; others do not learn it exists.
        from cases.services.access import can_read
        from cases.models import Application

        if p.application_id is None or not can_read(user, session.get(Application, p.application_id)):
            raise NotFound("pass not found")
    revoke(session=session, pass_=p, reason=body.reason, by=user.id, at=now)
    # The commit returns once every API process has the revocation (cases/revocation_feed.py).
    session.commit()
    return {"id": p.id, "revoked_at": p.revoked_at, "reason": p.revoke_reason}
