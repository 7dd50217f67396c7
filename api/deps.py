"""Typed dependencies, as in the FastAPI full-stack template."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Iterator

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from cases.clock import get_clock
from cases.db import get_engine
from cases.models import Role, User
from cases.security import decode_token
from cases.settings import Settings, get_settings

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


async def get_now() -> datetime:
    # async: a trivial dependency should not hop to the threadpool on every request
    return get_clock().now()


async def settings_dep() -> Settings:
    return get_settings()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
NowDep = Annotated[datetime, Depends(get_now)]
TokenDep = Annotated[str | None, Depends(oauth2)]


def optional_user(session: SessionDep, settings: SettingsDep, now: NowDep, request: Request, token: TokenDep) -> User | None:
    if not token and request.method in ("GET", "HEAD"):
        # The UI's session cookie may read the API, never change it: a cross-site POST would carry
        # the cookie, so state-changing API calls need the bearer token (no CSRF through the API).
        token = request.cookies.get("hp_session")
    if not token:
        return None
    payload = decode_token(token, settings=settings, at=now)
    if payload is None:
        return None
    user = session.get(User, payload["sub"])
    return user if user is not None and user.active else None


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in or token expired", headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def require(*roles: Role):
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(r.value for r in roles)}")
        return user

    return Depends(check)


# The token handed out at submission is ASCII (hex); anything else is refused here, naming the
# parameter, before it reaches a constant-time comparison that cannot take non-ASCII text.
TOKEN_PATTERN = r"^[A-Za-z0-9_\-]+$"


def applicant_token(
    x_access_token: Annotated[str | None, Header(max_length=128, pattern=TOKEN_PATTERN, description="the applicant's access token from the submission")] = None,
    access_token: Annotated[str | None, Query(max_length=128, pattern=TOKEN_PATTERN, description="the applicant's access token (alternative to the X-Access-Token header)")] = None,
) -> str | None:
    """The applicant proves access with the token given at submission, as a header or a query parameter."""
    return x_access_token or access_token


ApplicantToken = Annotated[str | None, Depends(applicant_token)]
