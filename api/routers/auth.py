from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
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


@router.post("/token", response_model=Token, summary="OAuth2 password flow: a short-lived bearer token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep, now: NowDep) -> Token:
    user = session.exec(select(User).where(User.username == form.username)).first()
    if user is None or not user.active or not verify_password(form.password, user.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    token = create_token(user_id=user.id, role=user.role.value, at=now, settings=settings)
    return Token(access_token=token, role=user.role.value, expires_in=settings.access_token_minutes * 60)
