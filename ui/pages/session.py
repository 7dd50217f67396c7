"""Sessions: the `hp_session` cookie, CSRF tokens, applicant form tokens, the signed-in user
and the `Page` every route receives."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Annotated, Any, Iterator

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from cases.clock import get_clock
from cases.db import get_engine
from cases.models import Role, User
from cases.security import decode_token
from cases.settings import Settings, get_settings
from ui.i18n import _, one_language
from ui.pages.common import SECURITY_HEADERS, duration, iso, local
from ui.render import templates

# The pages' own dependencies (the same three the API declares in api/deps.py): the two faces
# call cases/ and never import each other.
def _session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


async def _now() -> datetime:
    return get_clock().now()


async def _settings() -> Settings:
    return get_settings()


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
NowDep = Annotated[datetime, Depends(_now)]

COOKIE = "hp_session"
LOGIN_COOKIE = "hp_login"
CSRF_FIELD = "csrf_token"


def csrf_token_for(session_token: str, settings: Settings) -> str:
    """The CSRF token of one session: an HMAC of the session token (so it changes with it)."""
    return hmac.new(settings.secret("csrf"), b"csrf|" + session_token.encode(), hashlib.sha256).hexdigest()


# Applicant forms (daily report, supplement answer) are authorised by the case's access token,
# never by the session cookie: the POST routes look the case up with `user=None`, so a signed-in
# staff member's browser carries no authority a cross-site form could borrow. A forger would need
# the access token itself. As the CSRF-equivalent we chose a hidden HMAC (`form_token`) of the
# form's purpose, the case id and the access token, over echoing the raw access token in the
# body: it is stateless like the session CSRF token (no cookie, which the WeChat and app webviews
# applicants use may drop), it is bound to one form (a report form's token does not submit a
# supplement), and it keeps one rule for this module: every state-changing form carries a
# server-derived hidden token checked in constant time. It adds nothing against someone who holds
# the access token: that link is the applicant's credential and must be kept like one.
FORM_TOKEN_FIELD = "form_token"


def applicant_form_token(case_id: str, access_token: str, purpose: str, settings: Settings) -> str:
    message = f"applicant|{purpose}|{case_id}|{access_token}".encode()
    return hmac.new(settings.secret("csrf"), message, hashlib.sha256).hexdigest()


class SignInRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


class PageRefused(Exception):
    """A 403/404 page. Given the `Page`, it keeps what the navigation needs (who is signed in,
    the sign-out form's CSRF token) as plain values: the handler renders after the request's
    store session has closed, when the `User` row can no longer be read."""

    def __init__(self, status: int, title: str, message: str, page: Page | None = None):
        self.status, self.title, self.message = status, title, message
        self.viewer: dict[str, Any] = {"user": None, "csrf_token": None}
        if page is not None and page.user is not None:
            self.viewer = {"user": SimpleNamespace(username=page.user.username, role=page.user.role), "csrf_token": page.csrf}


_MESSAGES = ("title", "message", "error", "notice", "done")


@dataclass
class Page:
    """What every route knows: the request, store, settings, clock and the signed-in user."""

    request: Request
    session: Session
    settings: Settings
    now: datetime
    user: User | None
    token: str | None  # the session token of the signed-in user (cookie only)

    @property
    def csrf(self) -> str | None:
        return csrf_token_for(self.token, self.settings) if self.token else None

    def check_csrf(self, form: FormData) -> None:
        """Any POST made with a signed-in session must carry the session's CSRF token."""
        if self.token is None:
            return
        sent = str(form.get(CSRF_FIELD) or self.request.headers.get("x-csrf-token") or "")
        if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
            raise PageRefused(403, _("Request refused"), _("This form is missing its security token or it has expired. Reload the page and try again."), self)

    def staff(self, *roles: Role, form: FormData | None = None) -> User:
        if self.user is None:
            # After signing in, come back to the page (a POST's target cannot be re-sent as a GET).
            raise SignInRequired(str(self.request.url.path) if self.request.method == "GET" else "")
        if form is not None:
            self.check_csrf(form)
        if roles and self.user.role not in roles:
            raise PageRefused(403, _("Not for your role"), _("This page is for: {roles}.").format(roles=", ".join(r.value for r in roles)), self)
        return self.user

    def render(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        for key in _MESSAGES:  # transition: older "English. 中文。" messages show the page's language
            if isinstance(ctx.get(key), str):
                ctx[key] = one_language(ctx[key])
        html = templates().get_template(name).render(
            user=self.user,
            csrf_token=self.csrf,
            now=self.now,
            path=self.request.url.path,
            local=local,
            duration=duration,
            iso=iso,
            health_reports_open=_health_reports_open(self),
            **ctx,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _health_reports_open(page: Page) -> int:
    """The issuer's count of abnormal daily reports waiting for an outcome, shown in the nav (R8)."""
    if page.user is None or page.user.role != Role.issuer:
        return 0
    from cases.scope import scope_for
    from cases.services.observation import open_abnormal_count

    return open_abnormal_count(page.session, scope=scope_for(page.session, page.user))


def _cookie_user(request: Request, session: Session, settings: Settings, now: datetime) -> tuple[User | None, str | None]:
    # Only the cookie: a bearer header carries no ambient authority, and the CSRF token is tied to the cookie.
    token = request.cookies.get(COOKIE)
    if not token:
        return None, None
    payload = decode_token(token, settings=settings, at=now)
    if payload is None:
        return None, None
    user = session.get(User, payload.get("sub"))
    if user is None or not user.active:
        return None, None
    return user, token


def page(request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> Page:
    user, token = _cookie_user(request, session, settings, now)
    return Page(request=request, session=session, settings=settings, now=now, user=user, token=token)


async def form_data(request: Request) -> FormData:
    return await request.form()


PageDep = Annotated[Page, Depends(page)]
FormDep = Annotated[FormData, Depends(form_data)]
