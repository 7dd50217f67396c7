"""The recovery challenge: one row per code request, whether or not the details matched."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from cases.models import ts


class RecoveryChallenge(SQLModel, table=True):
    """A one-time code request. A request whose details match no case gets a row too (a decoy
    whose code was never sent and can never succeed): expiry and the attempt count then behave
    the same either way, so the code form is no oracle for which details were right."""

    id: str = Field(primary_key=True)  # random, unguessable: the handle the code form carries
    application_id: Optional[str] = Field(default=None, foreign_key="application.id", index=True)  # the case the reference named, if any
    matched: bool = False  # reference and identity matched; only then was a code sent
    code_hash: str  # HMAC-SHA256 of the code under a server secret; the code itself is never stored
    created_at: datetime = ts()
    expires_at: datetime = ts()
    attempts: int = 0
    used_at: Optional[datetime] = ts(default=None)  # succeeded, or superseded by a newer code for the case
    client: str = ""  # the requesting client's address, for staff reading the timeline
