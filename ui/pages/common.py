"""Shared page helpers: security headers, time and number formatting, redirects."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import RedirectResponse

from cases.clock import SHANGHAI, aware
from cases.models import Role, User

# Nothing is loaded from elsewhere: no CDN, no web fonts, no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages carry personal data and access tokens
}


def local(dt: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) timestamp in Asia/Shanghai local time."""
    if dt is None:
        return "—"
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return aware(dt).astimezone(SHANGHAI).strftime(fmt)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = abs(int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    return (f"{d} d " if d else "") + (f"{h} h " if d or h else "") + f"{m} min"


def iso(dt: datetime | None) -> str:
    return "" if dt is None else aware(dt).isoformat()


def _value(x: Any) -> str:
    """An enum member or a plain string, as its string value."""
    return str(getattr(x, "value", x))


def _number(text: str) -> float | str | None:
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(url: str | None) -> str | None:
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url and url.isprintable() and " " not in url:
        return url
    return None


def home_for(user: User) -> str:
    return {
        Role.issuer: "/issuer",
        Role.supervisor: "/supervisor",
        Role.auditor: "/supervisor",
        Role.admin: "/supervisor",
        Role.checkpoint: "/checkpoint",
        Role.unit: "/unit",
        Role.hotline: "/hotline",
    }.get(user.role, "/")
