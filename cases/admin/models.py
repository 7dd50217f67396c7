"""The administration log: append-only, one row per change an admin (or a unit) makes outside a
case's timeline (accounts, calendar days and imports, key rotations, refusals without a case)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from cases.models import ts


class AdminEvent(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = ts()
    actor: str  # the username who made the change
    # user_created | user_disabled | user_enabled | password_reset | calendar_imported | calendar_day_set | key_rotated | unit_refusal
    action: str = Field(index=True)
    target: str = Field(default="", index=True)  # a username, a date, a year, a kid, a unit code
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
