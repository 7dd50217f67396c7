"""Complaint tables: the complaint (contact kept, shown masked only) and its events."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from cases.types import UTCDateTime

CATEGORIES = ("refused", "delayed", "extra_conditions", "rude", "other")  # extra_conditions: R16


class Complaint(SQLModel, table=True):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    reference: str = Field(unique=True, index=True, max_length=32)  # CP<date>-XXXX-XXXX
    token_hash: str  # sha256 of the complainant's access token (the token itself is never stored)
    channel: str  # online | hotline
    category: str
    region_code: str = Field(index=True, max_length=12)  # the county or community complained about
    county_code: str = Field(index=True, max_length=12)
    application_id: Optional[str] = Field(default=None, foreign_key="application.id", index=True)
    contact_name: Optional[str] = None  # shown masked only
    contact_phone: Optional[str] = None  # shown masked only
    description: str
    status: str = Field(default="open", index=True)  # open | closed
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    recorded_by: Optional[str] = None  # the hotline operator's username
    audit_item_id: Optional[int] = None
    response: Optional[str] = None
    responded_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    responded_by: Optional[str] = None


class ComplaintEvent(SQLModel, table=True):
    """Received, closed: the complaint's own timeline (append-only)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    complaint_id: str = Field(foreign_key="complaint.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str
    action: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
