"""The attachment table: the bytes with what is known of them. Rows are never edited."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from cases.types import UTCDateTime


class Attachment(SQLModel, table=True):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    item: str = Field(max_length=200)  # the requested item this file answers
    filename: str = Field(max_length=200)  # as the applicant named it, cleaned (shown, never used as a path)
    content_type: str = Field(max_length=40)  # from the content's magic bytes, not the client's header
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: datetime = Field(sa_type=UTCDateTime)
