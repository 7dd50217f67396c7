"""Lost case link (pages): /cases/recover asks for the case number and the identity as declared
and sends a one-time code by SMS; /cases/recover/code takes the code and redirects to the case
with a fresh link. Plain forms, no JavaScript; the same answer whether or not anything matched
(cases/recovery/service.py explains the choices).

Form protection as on the public complaint form: a signed-in browser must send its session's
CSRF token. The code form also carries a hidden HMAC of the challenge (`form_token`), like the
applicant forms: stateless, no cookie (the WeChat and app webviews may drop one), bound to this
one form."""
from __future__ import annotations

import hashlib
import hmac
import math
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.errors import DomainError
from cases.recovery import service, sms
from ui.i18n import _
from ui.pages.common import redirect
from ui.pages.session import FORM_TOKEN_FIELD, FormDep, Page, PageDep
from ui.pages.words import ID_TYPES

router = APIRouter(include_in_schema=False)
FIELDS = ("reference", "id_type", "id_number", "name")


def _form_token(challenge: str, p: Page) -> str:
    return hmac.new(p.settings.secret("csrf"), f"recover|code|{challenge}".encode(), hashlib.sha256).hexdigest()


def _client(p: Page) -> str:
    return p.request.client.host if p.request.client else "unknown"


def _request_form(p: Page, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200, headers: dict | None = None) -> HTMLResponse:
    response = p.render("recover.html", status=status, values=values, errors=errors or {}, id_types=ID_TYPES)
    response.headers.update(headers or {})
    return response


def _code_form(p: Page, challenge: str, errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    return p.render("recover_code.html", status=status, challenge=challenge, form_token=_form_token(challenge, p), errors=errors or {},
                    open=service.challenge_open(p.session, challenge, at=p.now))  # the text says 10 minutes, 5 attempts (service)


@router.get("/cases/recover", response_class=HTMLResponse)
def recover_form(p: PageDep, case: str | None = None) -> HTMLResponse:
    values = dict.fromkeys(FIELDS, "")
    values["reference"] = (case or "").strip()[:32]
    return _request_form(p, values)


@router.post("/cases/recover")
def recover_request(p: PageDep, form: FormDep) -> Response:
    p.check_csrf(form)
    values = {f: str(form.get(f) or "")[:64] for f in FIELDS}
    try:
        r = service.request_code(session=p.session, settings=p.settings, at=p.now, client=_client(p), limit=service.limiter_of(p.request.scope),
                                 sender=sms.get_sender(), **values)
    except service.RateLimited as exc:
        return _request_form(p, values, {exc.field: exc.message}, status=429, headers={"Retry-After": str(math.ceil(exc.retry_after))})
    except DomainError as exc:
        return _request_form(p, values, {exc.field or "form": exc.message}, status=exc.status_code)
    p.session.commit()
    return redirect("/cases/recover/code?" + urlencode({"challenge": r.challenge_id}))


@router.get("/cases/recover/code", response_class=HTMLResponse)
def recover_code_form(p: PageDep, challenge: str = "") -> HTMLResponse:
    return _code_form(p, challenge[:64])


@router.post("/cases/recover/code")
def recover_verify(p: PageDep, form: FormDep) -> Response:
    p.check_csrf(form)
    challenge = str(form.get("challenge") or "")[:64]
    sent = str(form.get(FORM_TOKEN_FIELD) or "")
    if not hmac.compare_digest(sent.encode(), _form_token(challenge, p).encode()):
        return _code_form(p, challenge, {"form": _("This form is missing its security token. Ask for a new code.")}, status=403)
    try:
        r = service.verify_code(session=p.session, settings=p.settings, at=p.now, challenge_id=challenge, code=str(form.get("code") or ""), client=_client(p))
    except DomainError as exc:
        return _code_form(p, challenge, {exc.field or "form": exc.message}, status=exc.status_code)
    return redirect(f"/cases/{quote(r.application.id, safe='')}?" + urlencode({"access_token": r.access_token}))
