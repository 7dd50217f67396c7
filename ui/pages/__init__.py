"""Server-rendered pages for applicants, issuers, supervisors, the provincial office and
checkpoint operators. Routes stay thin: parse, authorize, call a service, render.

Sessions: the `hp_session` cookie holds the same signed token as the API (HttpOnly,
SameSite=Lax). Every POST made with a signed-in session must carry a CSRF token: an
HMAC of that session token under a server secret (`csrf_token_for`), sent in the form
field `csrf_token` (or the `X-CSRF-Token` header). The sign-in form itself is protected
by a double-submit cookie (`hp_login`). Applicant forms (the daily health report, the answer to
a supplement request) are authorised by the case's access token alone, never the cookie, and
carry a hidden HMAC derived from it (`applicant_form_token`, where the choice is explained).
No page needs JavaScript for its core action.

Modules: `session` (cookie, CSRF, form tokens, the `Page`), `common` (headers, formatting,
redirects), `words` (status, colour and reason words from the catalogue), and one module of routes per audience: `public`,
`apply`, `case`, `applicant_forms`, `auth`, `issuer`, `supervisor`, `notifications`,
`staff_case`, `checkpoint`, `reporting` (R23), `language` (the switcher; the language itself is
chosen per request in ui/i18n.py).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from ui.pages import admin, unit  # noqa: I001  (units and admins)
from ui.pages import applicant_forms, apply, auth, case, checkpoint, complaints, issuer, notifications, province, public, reporting, staff_case, supervisor, trends
from ui.pages import recover
from ui.pages import observation_review
from ui.pages import language
from ui.pages.common import SECURITY_HEADERS, duration, home_for, iso, local, redirect
from ui.pages.session import (
    COOKIE,
    CSRF_FIELD,
    FORM_TOKEN_FIELD,
    LOGIN_COOKIE,
    FormDep,
    Page,
    PageDep,
    PageRefused,
    SignInRequired,
    applicant_form_token,
    csrf_token_for,
    form_data,
    page,
)
from ui.pages.supervisor import supervisor_overview
from ui.pages.words import (
    ACTION_WORDS,
    CHANNEL_WORDS,
    COLOUR_WORDS,
    CONTACT_METHODS,
    DAY_WORDS,
    ID_TYPES,
    OUTCOME_WORDS,
    REASON_WORDS,
    SLA_WORDS,
    STATUS_WORDS,
    STEP_OF_STATUS,
    STEPS,
    SYMPTOM_WORDS,
)
from ui.i18n import LanguageMiddleware, one_language
from ui.render import templates

__all__ = [
    "COOKIE", "CSRF_FIELD", "FORM_TOKEN_FIELD", "LOGIN_COOKIE", "SECURITY_HEADERS", "FormDep", "Page", "PageDep",
    "PageRefused", "SignInRequired", "applicant_form_token", "csrf_token_for", "duration", "form_data", "home_for",
    "iso", "local", "mount", "page", "redirect", "supervisor_overview",
    "ACTION_WORDS", "CHANNEL_WORDS", "COLOUR_WORDS", "CONTACT_METHODS", "DAY_WORDS", "ID_TYPES", "OUTCOME_WORDS",
    "REASON_WORDS", "SLA_WORDS", "STATUS_WORDS", "STEP_OF_STATUS", "STEPS", "SYMPTOM_WORDS",
]

HERE = Path(__file__).parent.parent  # the `ui` package: its static/ directory


def mount(app: FastAPI) -> None:
    """Add the pages and the vendored static files to the application."""
    app.add_middleware(LanguageMiddleware)  # every request's language (ui/i18n.py); the API's JSON stays English

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return redirect("/login?" + urlencode({"next": exc.next_url}) if exc.next_url else "/login")

    @app.exception_handler(PageRefused)
    async def _refused(request: Request, exc: PageRefused) -> Response:
        html = templates().get_template("error.html").render(title=one_language(exc.title), message=one_language(exc.message), path=request.url.path, **exc.viewer)
        return HTMLResponse(html, status_code=exc.status, headers=SECURITY_HEADERS)

    app.include_router(recover.router)  # lost-link recovery; before `case`, whose /cases/{case_id} would take /cases/recover
    app.include_router(unit.router)
    app.include_router(admin.router)
    for module in (public, apply, case, applicant_forms, auth, issuer, supervisor, checkpoint, reporting, notifications, staff_case, trends, complaints, province):
        app.include_router(module.router)
    app.include_router(observation_review.router)
    app.include_router(language.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
