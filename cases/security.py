"""Passwords (argon2) and short-lived signed API tokens."""
from __future__ import annotations

from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from cases.settings import Settings

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
    except Exception:
        return False


def create_token(*, user_id: str, role: str, at: datetime, settings: Settings) -> str:
    payload = {"sub": user_id, "role": role, "iat": int(at.timestamp()), "exp": int((at + timedelta(minutes=settings.access_token_minutes)).timestamp())}
    return jwt.encode(payload, settings.secret("token"), algorithm="HS256")


def decode_token(token: str, *, settings: Settings, at: datetime) -> dict | None:
    try:
        # exp is checked against the injected clock, not the machine's, so simulated time works.
        payload = jwt.decode(token, settings.secret("token"), algorithms=["HS256"], options={"verify_exp": False})
    except jwt.PyJWTError:
        return None
    if payload.get("exp", 0) <= at.timestamp():
        return None
    return payload
