"""R23 tables: reporting obligations (data, not code), the cities each one binds, the cities'
reports and an append-only event log of what happened to them."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from cases.models import ts


class ImplementationStatus(str, Enum):
    """What a city says about its implementation of the notice."""

    implemented = "implemented"
    partially_implemented = "partially_implemented"
    not_implemented = "not_implemented"


class ReportingObligation(SQLModel, table=True):
    """A deadline by which cities report to the provincial office (e.g. the notice's 6 March 2020)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    due_at: datetime = ts()  # end of the day in Asia/Shanghai unless a time was given
    all_cities: bool = True
    created_by: str  # user id, or "seed"
    created_at: datetime = ts()


class ReportingObligationCity(SQLModel, table=True):
    """One city bound by one obligation. `overdue_pending` is True until the city reports or the
    overdue notification went out: the sweep reads only (overdue_pending, due_at), so its cost
    grows with the obligations falling due, not with the history."""

    __table_args__ = (
        UniqueConstraint("obligation_id", "city_code"),
        Index("ix_reportingobligationcity_overdue", "overdue_pending", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="reportingobligation.id", index=True)
    city_code: str = Field(foreign_key="region.code", index=True)
    due_at: datetime = ts()  # the obligation's, copied for the sweep's index
    overdue_pending: bool = Field(default=True)
    overdue_notified_at: Optional[datetime] = ts(default=None)


class CityReport(SQLModel, table=True):
    """A city's report for one obligation. `submitted_at` is the first submission (it decides
    on time / late); an amendment changes the content and `amended_at`, never `submitted_at`."""

    __table_args__ = (UniqueConstraint("obligation_id", "city_code"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="reportingobligation.id", index=True)
    city_code: str = Field(foreign_key="region.code", index=True)
    status: ImplementationStatus
    implementation: str = Field(sa_column=Column(Text, nullable=False))
    city_numbers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    county_numbers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # {county code: [numbers]}
    submitted_by: str
    submitted_at: datetime = ts()
    amended_at: Optional[datetime] = ts(default=None)
    version: int = 1


class ReportingEvent(SQLModel, table=True):
    """Append-only log of the reporting domain (obligation created, report submitted or amended,
    overdue notified): who, when, what."""

    id: Optional[int] = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="reportingobligation.id", index=True)
    city_code: Optional[str] = Field(default=None, index=True)
    action: str  # obligation_created | report_submitted | report_amended | overdue_notified
    actor: str
    at: datetime = ts()
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
