"""Directory tables: one entry per county or community, and the log of every change."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from cases.types import UTCDateTime


class DirectoryEntry(SQLModel, table=True):
    """What the public reads for one county (service account, app, complaint telephone)
    or one handling community (location and contact). Seeded from regions.json, then
    maintained by the county's supervisor."""

    region_code: str = Field(primary_key=True, foreign_key="region.code", max_length=12)
    county_code: str = Field(index=True, max_length=12)  # the county itself, or the community's county
    complaint_phone: Optional[str] = None  # counties
    service_account: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))  # counties: name_zh/name_en/how_zh/how_en
    app: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))  # counties: same keys
    address: Optional[str] = None  # communities
    phone: Optional[str] = None  # communities
    hours: Optional[str] = None  # communities: opening hours
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = "seed"


class DirectoryChange(SQLModel, table=True):
    """One changed field of one entry: who, when, before and after (append-only)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    region_code: str = Field(index=True, max_length=12)
    county_code: str = Field(index=True, max_length=12)
    field: str
    before: Optional[str] = None
    after: Optional[str] = None
    note: Optional[str] = None
    actor: str  # username
    at: datetime = Field(sa_type=UTCDateTime)
