"""Signing in (double-submit login cookie) and signing out."""
from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from cases.models import User
from cases.security import create_token, verify_password
from ui.pages.common import _safe_next, home_for, redirect
from ui.pages.session import COOKIE, LOGIN_COOKIE, FormDep, Page, PageDep

router = APIRouter(include_in_schema=False)


def _login_page(p: Page, *, username: str = "", error: str | None = None, status: int = 200, next_url: str | None = None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    resp = p.render("login.html", status=status, username=username, error=error, nonce=nonce, next_url=_safe_next(next_url) or "")
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", secure=p.request.url.scheme == "https", path="/login")
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(p: PageDep, next: str | None = None) -> HTMLResponse:
    return _login_page(p, next_url=next)


@router.post("/login", response_class=HTMLResponse)
def login_submit(p: PageDep, form: FormDep) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or ""))
    cookie_nonce = p.request.cookies.get(LOGIN_COOKIE, "")
    sent_nonce = str(form.get("login_token") or "")
    if not cookie_nonce or not hmac.compare_digest(cookie_nonce.encode(), sent_nonce.encode()):
        return _login_page(p, username=username, error="The sign-in form expired; please try again. 登录表单已过期，请重试。", status=403, next_url=next_url)
    user = p.session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return _login_page(p, username=username, error="Wrong username or password. 用户名或密码错误。", status=401, next_url=next_url)
    token = create_token(user_id=user.id, role=user.role.value, at=p.now, settings=p.settings)
    resp = redirect(next_url or home_for(user))
    resp.set_cookie(COOKIE, token, max_age=p.settings.access_token_minutes * 60, httponly=True, samesite="lax", secure=p.request.url.scheme == "https", path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@router.get("/logout", response_class=HTMLResponse)
def logout_form(p: PageDep) -> Response:
    if p.user is None:
        return redirect("/")
    return p.render("logout.html")


@router.post("/logout")
def logout(p: PageDep, form: FormDep) -> Response:
    p.check_csrf(form)
    resp = redirect("/")
    resp.delete_cookie(COOKIE, path="/")
    return resp
