"""Lost case link: the applicant names the case (its reference) and themselves (document type
and number as declared, and name); a one-time code goes by SMS to the phone declared in the
case; the right code within 10 minutes and 5 attempts gives a fresh access link.

Choices (README, "Lost your case link"):
- **No oracle.** The answer to a request is the same whether the reference exists, the identity
  matched, or a limit silently withheld the SMS: a challenge row is stored every time (a decoy
  when nothing matched, whose code was never sent and can never succeed), so the code form, its
  expiry and its attempt count behave alike too. No digit of the phone is shown: digits shown
  only on a match would be the oracle, and showing them for a bare reference would hand part of
  the phone to whoever holds a case number.
- **The code** is 6 random digits, stored as an HMAC under a server secret (`var/secrets/`),
  valid 10 minutes, at most 5 attempts (counted with a conditional UPDATE, so parallel guesses
  cannot exceed it), single use; a newer code for the case replaces the older one.
- **The old link is revoked.** Success stores a new random access token for the case; the
  earlier one (possibly on the lost phone or in a leaked message) stops working.
- **Limits.** Per client (the API's guard, `HEALTHPASS_RATE_LIMIT_RECOVERY` a minute), per
  reference (`HEALTHPASS_RECOVERY_PER_REFERENCE` a minute: 429, it depends only on what was
  typed) and per phone (`HEALTHPASS_RECOVERY_PER_PHONE` a minute) plus
  `HEALTHPASS_RECOVERY_CODES_PER_CASE_HOUR` codes a case and hour: these two depend on the match,
  so they never answer 429; the SMS is withheld and the timeline says so.
- Every request, code sent or withheld, failed and successful verification is an event on the
  case's timeline (never the code)."""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable

import anyio
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlmodel import Session, col, func, select, update

from cases import validation
from cases.clock import SHANGHAI
from cases.errors import DomainError, Invalid
from cases.events import record_event
from cases.models import Applicant, Application
from cases.recovery.models import RecoveryChallenge
from cases.recovery.sms import SmsSender
from cases.services.applications import latest_declaration
from cases.settings import Settings

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
ID_TYPES = ("resident_id", "passport", "hmt_permit")
REFERENCE = re.compile(r"^HP\d{8}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
CODE = re.compile(r"^\d{6}$")

# (bucket, key, limit per minute) -> None when allowed, else seconds until the window resets.
# The faces pass the API's rate limiter (api/ratelimit.py: Redis when configured).
Limiter = Callable[[str, str, int], "float | None"]


class RecoverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHPASS_", extra="ignore")

    recovery_per_reference: int = Field(default=5, ge=0)  # code requests naming one reference, a minute (0: off)
    recovery_per_phone: int = Field(default=3, ge=0)  # codes sent to one phone, a minute (0: off)
    recovery_codes_per_case_hour: int = Field(default=6, ge=0)  # codes sent for one case, an hour (0: off)


@lru_cache
def recovery_settings() -> RecoverySettings:
    return RecoverySettings()


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, field: str, retry_after: float):
        super().__init__(message, field=field)
        self.retry_after = retry_after


@dataclass
class CodeRequested:
    challenge_id: str
    expires_at: datetime


@dataclass
class Recovered:
    application: Application
    access_token: str


def _code_hash(challenge_id: str, code: str, settings: Settings) -> str:
    return hmac.new(settings.secret("recovery"), f"{challenge_id}|{code}".encode(), hashlib.sha256).hexdigest()


def _same_name(typed: str, declared: str) -> bool:
    """Names as people type them: width, case and spaces do not matter (张 三 = 张三, li na = LI NA)."""
    def norm(s: str) -> str:
        return "".join(unicodedata.normalize("NFKC", s).casefold().split())

    return bool(declared) and hmac.compare_digest(norm(typed).encode(), norm(declared).encode())


def _network(client: str) -> str:
    """The client's network for the timeline (a /24 or /48), not its address: the timeline is kept
    for good and the applicant reads it too, while the full address stays in the challenge row."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def _checked(*, reference: str, id_type: str, id_number: str, name: str, at: datetime) -> tuple[str, str, str, str]:
    """The typed fields, normalised; Invalid naming the first bad one (their shape only: nothing
    here depends on any case)."""
    reference = (reference or "").strip().upper()
    if not REFERENCE.match(reference):
        raise Invalid("the case number looks like HP20260303-ABCD-EFGH", field="reference")
    if id_type not in ID_TYPES:
        raise Invalid(f"the document type is one of {', '.join(ID_TYPES)}", field="id_type")
    try:
        id_number = validation.check_id_number(id_type, id_number, today=at.astimezone(SHANGHAI).date())
    except ValueError as exc:
        raise Invalid(str(exc), field="id_number") from None
    try:
        name = validation.check_name((name or "").strip())
    except ValueError as exc:
        raise Invalid(str(exc), field="name") from None
    return reference, id_type, id_number, name


def _declared_phone(session: Session, app: Application, applicant: Applicant, *, id_type: str, id_number: str, name: str, settings: Settings) -> str | None:
    """The phone declared in the case when the identity matches it, else None."""
    if applicant.id_type != id_type:
        return None
    if not hmac.compare_digest(validation.hash_id_number(id_number, key=settings.secret("idhash")), applicant.id_hash):
        return None
    content = latest_declaration(session, app.id).content or {}
    if not (_same_name(name, applicant.name) or _same_name(name, str(content.get("name") or ""))):
        return None
    try:
        return validation.check_mobile(str(content.get("phone") or ""))
    except ValueError:  # purged under the retention policy, or never a mobile: nothing to send to
        return None


def request_code(
    *,
    session: Session,
    settings: Settings,
    at: datetime,
    reference: str,
    id_type: str,
    id_number: str,
    name: str,
    client: str,
    limit: Limiter,
    sender: SmsSender,
) -> CodeRequested:
    """Store a challenge and, when the details match a case, text its code to the case's phone.
    The answer is the same whatever matched. The caller commits."""
    reference, id_type, id_number, name = _checked(reference=reference, id_type=id_type, id_number=id_number, name=name, at=at)
    rs = recovery_settings()
    wait = limit("recovery_reference", reference, rs.recovery_per_reference) if rs.recovery_per_reference else None
    if wait is not None:
        raise RateLimited(f"too many code requests for this case number; retry in {int(wait) + 1} s", field="reference", retry_after=wait)

    app = session.exec(select(Application).where(Application.reference == reference)).first()
    phone = None
    if app is not None:
        applicant = session.get(Applicant, app.applicant_id)
        phone = _declared_phone(session, app, applicant, id_type=id_type, id_number=id_number, name=name, settings=settings) if applicant else None

    challenge_id = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = RecoveryChallenge(
        id=challenge_id, application_id=app.id if app else None, matched=False, code_hash=_code_hash(challenge_id, code, settings),
        created_at=at, expires_at=at + timedelta(minutes=CODE_MINUTES), client=client[:64],
    )
    if app is None:
        session.add(challenge)  # a decoy: nothing to record, nobody to text
        return CodeRequested(challenge_id, challenge.expires_at)

    # "public" until the code proves it: whoever typed the details is not known to be the applicant.
    record_event(session, application_id=app.id, actor="public", action="link_recovery_requested", at=at,
                 reason="lost-link recovery requested" + ("" if phone else "; the identity details did not match the case"),
                 data={"details_matched": phone is not None, "client": _network(client)})
    withheld = None
    if phone is not None:
        if rs.recovery_per_phone and limit("recovery_phone", phone, rs.recovery_per_phone) is not None:
            withheld = f"more than {rs.recovery_per_phone} codes a minute to this phone"
        elif rs.recovery_codes_per_case_hour and _codes_sent_last_hour(session, app.id, at) >= rs.recovery_codes_per_case_hour:
            withheld = f"more than {rs.recovery_codes_per_case_hour} codes an hour for this case"
    if phone is not None and withheld is None:
        # One live code per case: a newer code replaces the older ones (their attempts do not add up).
        # Decoys (requests with wrong details) stay as they are: replacing them would tell their sender something.
        session.exec(update(RecoveryChallenge).where(
            col(RecoveryChallenge.application_id) == app.id, col(RecoveryChallenge.matched).is_(True), col(RecoveryChallenge.used_at).is_(None),
        ).values(used_at=at))
        challenge.matched = True
        session.add(challenge)
        session.flush()
        sender.send(phone, f"【山东省健康通行卡】找回案件 {reference} 的验证码：{code}，{CODE_MINUTES} 分钟内有效，请勿告诉他人。"
                           f" Health pass: code {code} reopens case {reference}; valid {CODE_MINUTES} min. Never share it.")
        record_event(session, application_id=app.id, actor="system", action="link_recovery_code_sent", at=at,
                     reason=f"one-time code sent by SMS to {validation.mask_phone(phone)}, valid {CODE_MINUTES} minutes",
                     data={"phone": validation.mask_phone(phone), "expires_at": challenge.expires_at.isoformat()})
    else:
        session.add(challenge)
        if withheld:
            record_event(session, application_id=app.id, actor="system", action="link_recovery_code_withheld", at=at,
                         reason=f"no code sent: {withheld}", data={"phone": validation.mask_phone(phone or "")})
    return CodeRequested(challenge_id, challenge.expires_at)


def _codes_sent_last_hour(session: Session, application_id: str, at: datetime) -> int:
    return session.exec(
        select(func.count()).select_from(RecoveryChallenge).where(
            RecoveryChallenge.application_id == application_id, col(RecoveryChallenge.matched).is_(True),
            RecoveryChallenge.created_at > at - timedelta(hours=1),
        )
    ).one()


def challenge_open(session: Session, challenge_id: str, *, at: datetime) -> bool:
    """Whether the code form of this challenge is still worth showing (not used, not expired)."""
    c = session.get(RecoveryChallenge, challenge_id[:64])
    return c is not None and c.used_at is None and c.expires_at > at and c.attempts < MAX_ATTEMPTS


def verify_code(*, session: Session, settings: Settings, at: datetime, challenge_id: str, code: str, client: str) -> Recovered:
    """The code of a challenge: a fresh access token for the case, the earlier one revoked.
    Commits itself, also when it refuses: a wrong attempt must count."""
    code = (code or "").strip()
    if not CODE.match(code):
        raise Invalid("the code is the 6 digits of the text message", field="code")
    challenge = session.get(RecoveryChallenge, (challenge_id or "")[:64])
    if challenge is None:
        raise Invalid("this code request is unknown; ask for a new code", field="challenge")

    def refuse(message: str, reason: str) -> Invalid:
        if challenge.application_id:
            record_event(session, application_id=challenge.application_id, actor="public", action="link_recovery_failed", at=at,
                         reason=reason, data={"client": _network(client), "attempt": challenge.attempts})
        session.commit()
        return Invalid(message, field="code")

    if challenge.used_at is not None:
        raise refuse("this code was already used or replaced by a newer one; ask for a new code", "code already used or replaced")
    if challenge.expires_at <= at:
        raise refuse(f"this code has expired (codes are valid {CODE_MINUTES} minutes); ask for a new code", "code expired")
    # Count the attempt first, conditionally: parallel guesses cannot go past MAX_ATTEMPTS.
    counted = session.exec(
        update(RecoveryChallenge)
        .where(col(RecoveryChallenge.id) == challenge.id, col(RecoveryChallenge.used_at).is_(None), col(RecoveryChallenge.attempts) < MAX_ATTEMPTS)
        .values(attempts=RecoveryChallenge.attempts + 1)
    ).rowcount
    session.refresh(challenge)
    if not counted:
        raise refuse(f"too many wrong codes ({MAX_ATTEMPTS}); ask for a new code", "too many wrong codes")
    right = hmac.compare_digest(_code_hash(challenge.id, code, settings), challenge.code_hash)
    if not (right and challenge.matched):  # a decoy never succeeds, even guessed
        left = MAX_ATTEMPTS - challenge.attempts
        raise refuse(f"wrong code; {left} attempt{'s' if left != 1 else ''} left" if left else f"wrong code; that was the last of {MAX_ATTEMPTS} attempts, ask for a new code",
                     f"wrong code (attempt {challenge.attempts} of {MAX_ATTEMPTS})")
    used = session.exec(
        update(RecoveryChallenge).where(col(RecoveryChallenge.id) == challenge.id, col(RecoveryChallenge.used_at).is_(None)).values(used_at=at)
    ).rowcount
    if not used:
        raise refuse("this code was already used; ask for a new code", "code already used")
    app = session.get(Application, challenge.application_id)
    token = secrets.token_urlsafe(30)
    # The same digest cases.services.applications.token_matches compares with.
    app.access_token_hash = hashlib.sha256(token.encode()).hexdigest()
    session.add(app)
    record_event(session, application_id=app.id, actor="applicant", action="link_recovery_succeeded", at=at,
                 reason="code accepted: a fresh access link was issued and the earlier link revoked", data={"client": _network(client)})
    session.commit()
    return Recovered(app, token)


def limiter_of(scope: dict) -> Limiter:
    """The request's rate limiter, which the API's guard puts in the ASGI scope (api/limits.py,
    counted in Redis when configured), as a `Limiter` for a synchronous handler (those run in a
    worker thread, hence the hop back to the event loop). Without one nothing is limited."""
    limiter = scope.get("healthpass.rate_limiter")

    def limit(bucket: str, key: str, per_minute: int) -> float | None:
        if limiter is None or per_minute <= 0:
            return None
        return anyio.from_thread.run(functools.partial(limiter.hit, client=key, bucket=bucket, limit=per_minute))

    return limit
