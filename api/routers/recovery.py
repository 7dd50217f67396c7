"""Lost case link: ask for a one-time code by SMS (case reference + identity as declared), then
trade the code for a fresh access token. No account; rate-limited per client, reference and
phone. The answer to a request never says whether anything matched (cases/recovery/service.py)."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import NowDep, SessionDep, SettingsDep
from cases.recovery import service, sms

router = APIRouter(prefix="/api/v1/recovery", tags=["recovery"])
INVALID: dict = {422: {"description": "Invalid field, named in `detail[].loc`"}}
SENT = ("If the details match a case, a 6-digit code was sent by SMS to the phone declared in that case; it is valid 10 minutes. "
        "如信息与案件相符，验证码已发送至案件登记的手机，10 分钟内有效。")


class RecoveryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reference": "HP20260303-ABCD-EFGH", "id_type": "resident_id", "id_number": "370102199003070024", "name": "李娜"}]})
    reference: str = Field(max_length=32, description="the case number, HP…")
    id_type: Literal["resident_id", "passport", "hmt_permit"] = Field(description="the document type as declared")
    id_number: str = Field(max_length=32, description="the document number as declared")
    name: str = Field(max_length=50, description="the name as declared")


class CodeRequested(BaseModel):
    challenge: str = Field(description="send it back with the code to /api/v1/recovery/verify")
    expires_at: datetime
    message: str = Field(description="the same text whether or not the details matched")


class RecoveryVerify(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"challenge": "…", "code": "123456"}]})
    challenge: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    code: str = Field(max_length=16, description="the 6 digits of the text message")


class Recovered(BaseModel):
    case_id: str
    reference: str
    access_token: str = Field(description="the case's new access token; the earlier one no longer works")
    case_url: str


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/request", status_code=202, response_model=CodeRequested, responses=INVALID,
             summary="Ask for a one-time code to get back into a case (the answer never says whether the details matched)")
def request_code(body: RecoveryRequest, request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> CodeRequested:
    try:
        r = service.request_code(session=session, settings=settings, at=now, client=_client(request), limit=service.limiter_of(request.scope),
                                 sender=sms.get_sender(), **body.model_dump())
    except service.RateLimited as exc:
        raise HTTPException(429, exc.message, headers={"Retry-After": str(math.ceil(exc.retry_after))}) from None
    session.commit()
    return CodeRequested(challenge=r.challenge_id, expires_at=r.expires_at, message=SENT)


@router.post("/verify", response_model=Recovered, responses=INVALID,
             summary="Trade the code for a fresh access token (10 minutes, 5 attempts, single use; the old link is revoked)")
def verify_code(body: RecoveryVerify, request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> Recovered:
    r = service.verify_code(session=session, settings=settings, at=now, challenge_id=body.challenge, code=body.code, client=_client(request))
    app = r.application
    return Recovered(case_id=app.id, reference=app.reference, access_token=r.access_token,
                     case_url=f"/cases/{quote(app.id, safe='')}?" + urlencode({"access_token": r.access_token}))
