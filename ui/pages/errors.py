"""The HTML 404 and 500 pages a browser gets (api/errors.py decides when; the API's paths keep
their JSON errors)."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from ui.i18n import COOKIE, language_of
from ui.pages.common import SECURITY_HEADERS
from ui.render import templates


def error_page(request: Request, status: int) -> HTMLResponse:
    # No store session here (a 500 may be the store's): rendered as for someone signed out.
    # Nothing from the request but its path reaches the page, and never the exception.
    with language_of(cookie=request.cookies.get(COOKIE), accept_language=request.headers.get("accept-language"), here=request.url.path):
        html = templates().get_template("error.html").render(kind="not_found" if status == 404 else "server_error", status=status, path=request.url.path, user=None, csrf_token=None)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
