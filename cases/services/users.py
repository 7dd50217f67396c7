"""Accounts, administered: list, create, disable/enable, reset a password. Every change is
written to the administration log. A disabled account cannot sign in, and its existing
sessions stop working at once (the API and the pages read `User.active` on every request)."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlmodel import Session, select

from cases.admin.log import record_admin_event
from cases.errors import Forbidden, Invalid, NotFound
from cases.models import Role, User
from cases.security import hash_password
from cases.seed import create_user

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 128


def list_users(*, session: Session, role: Role | None = None, active: bool | None = None) -> list[User]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active == active)  # noqa: E712
    return list(session.exec(query.order_by(User.username)))


def get_user(*, session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", field="user")
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"password: at most {MAX_PASSWORD} characters", field="password")


def create_account(
    *, session: Session, by: User, username: str, password: str, role: str, at: datetime, full_name: str = "",
    region: str | None = None, unit: str | None = None,
) -> User:
    """An admin creates any account; the scope is a region (community, county, city…) or a unit."""
    username = username.strip()
    if not USERNAME.match(username):
        raise Invalid("username: 3–64 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", field="username")
    try:
        role_value = Role(role)
    except ValueError:
        raise Invalid(f"role: one of {', '.join(r.value for r in Role if r != Role.applicant)}", field="role") from None
    if role_value == Role.applicant:
        raise Invalid("role: applicants have no account (they use the access link of their case)", field="role")
    if len(full_name) > 100:
        raise Invalid("full_name: at most 100 characters", field="full_name")
    _check_password(password)
    region = (region or "").strip() or None
    unit = (unit or "").strip() or None
    if region and not re.fullmatch(r"\d{6}(\d{6})?", region):
        raise Invalid("region: a region code of 6 (city, county) or 12 (community) digits", field="region")
    if role_value == Role.unit and not unit:
        raise Invalid("unit: a unit account belongs to a unit", field="unit")
    if role_value == Role.supervisor and not region:
        raise Invalid("region: a supervisor supervises a region (community, county, city or 370000)", field="region")
    try:
        user = create_user(session, username=username, password=password, role=role_value, at=at, region=region, unit=unit, full_name=full_name.strip())
    except Invalid as exc:
        # create_user names the CLI's options; the form's fields are region and unit.
        field = {"scope": "region", "community": "region"}.get(exc.field or "", exc.field)
        raise Invalid(exc.message.replace("--community", "region").replace("--unit", "unit"), field=field) from None
    except Exception as exc:  # Conflict: the username is taken
        if getattr(exc, "status_code", None) == 409:
            exc.field = "username"
        raise
    record_admin_event(session, actor=by.username, action="user_created", target=username, at=at,
                       data={"role": role_value.value, "region": region, "unit": unit})
    return user


def set_active(*, session: Session, by: User, user_id: str, active: bool, at: datetime) -> User:
    user = get_user(session=session, user_id=user_id)
    if not active and user.id == by.id:
        raise Forbidden("user: an admin cannot disable their own account", field="user")
    if user.active != active:
        user.active = active
        session.add(user)
        record_admin_event(session, actor=by.username, action="user_enabled" if active else "user_disabled", target=user.username, at=at)
    return user


def reset_password(*, session: Session, by: User, user_id: str, at: datetime, new_password: str | None = None) -> tuple[User, str | None]:
    """Set `new_password`, or a random temporary one that is returned (shown once, never stored
    in clear). Returns the user and the temporary password (None when one was given)."""
    user = get_user(session=session, user_id=user_id)
    temporary = None
    if new_password:
        _check_password(new_password)
    else:
        temporary = new_password = secrets.token_urlsafe(12)
    user.password_hash = hash_password(new_password)
    session.add(user)
    record_admin_event(session, actor=by.username, action="password_reset", target=user.username, at=at,
                       data={"temporary": temporary is not None})
    return user, temporary
