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


# Tolerated clock difference between the process that issued a token and the one checking it
# (several API workers or machines): a token whose `iat` is a second or two "in the future"
# is not a forged one.
TOKEN_LEEWAY = timedelta(seconds=30)


def decode_token(token: str, *, settings: Settings, at: datetime, leeway: timedelta = TOKEN_LEEWAY) -> dict | None:
    try:
        # iat and exp are checked against the injected clock (below), not the machine's, so
        # simulated time works and one skewed clock does not refuse every fresh token.
        payload = jwt.decode(
            token, settings.secret("token"), algorithms=["HS256"], leeway=leeway,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["sub", "iat", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    try:
        iat, exp = float(payload["iat"]), float(payload["exp"])
    except (TypeError, ValueError):
        return None
    now, slack = at.timestamp(), leeway.total_seconds()
    if iat > now + slack or exp <= now - slack:
        return None
    return payload
