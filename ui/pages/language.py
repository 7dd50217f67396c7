"""The language switcher: a plain link in every page's header (no JavaScript), remembered in the
`hp_lang` cookie, which wins over the browser's Accept-Language (ui/i18n.py)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from ui.i18n import COOKIE, LANGUAGES
from ui.pages.common import _safe_next, redirect

router = APIRouter(include_in_schema=False)


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str | None = None) -> RedirectResponse:
    # A language preference carries no authority, so a link (GET) may set it; an unknown language
    # changes nothing, and only a local path is followed back (no open redirect).
    response = redirect(_safe_next(next) or "/")
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, path="/", httponly=True, samesite="lax")
    return response
