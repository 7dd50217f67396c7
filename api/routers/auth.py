from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlmodel import select

from api.deps import NowDep, SessionDep, SettingsDep
from cases.models import User
from cases.security import create_token, verify_password

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    expires_in: int


@router.post("/token", response_model=Token, summary="OAuth2 password flow: a short-lived bearer token", responses={401: {"description": "Wrong username or password"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep, now: NowDep) -> Token:
    _check_credentials(form)
    user = session.exec(select(User).where(User.username == form.username)).first()
    if user is None or not user.active or not verify_password(form.password, user.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    token = create_token(user_id=user.id, role=user.role.value, at=now, settings=settings)
    return Token(access_token=token, role=user.role.value, expires_in=settings.access_token_minutes * 60)


def _check_credentials(form: OAuth2PasswordRequestForm) -> None:
    """Control characters (a NUL byte), unpaired surrogates and overlong values are a 422 naming
    the field -- before the store sees them (PostgreSQL refuses a NUL in a query parameter)."""
    errors = []
    for field, value, longest in (("username", form.username, 64), ("password", form.password, 256)):
        reason = None
        if len(value) > longest:
            reason = f"at most {longest} characters"
        elif any(ch < " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff" for ch in value):
            reason = "contains a control character or an unpaired surrogate"
        if reason:
            errors.append({"type": "value_error", "loc": ("body", field), "msg": f"{field} {reason}"})
    if errors:
        raise RequestValidationError(errors)
