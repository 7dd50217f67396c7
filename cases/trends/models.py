"""Daily roll-ups for the trends pages: one row per (region, day) at every level of the tree.

A trends request for a city over 12 weeks reads 84 rows by primary key instead of scanning
100,000 cases. Rows are rebuilt whole by `cases.services.trends.rollup_day` (delete + insert
of one day in one transaction), so running it twice gives the same rows.
"""
from __future__ import annotations

from datetime import date, datetime
from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from cases.models import Application, ProvincialAuditItem, ts


class TrendDaily(SQLModel, table=True):
    """What happened on one local day (Asia/Shanghai) in one region (province, city, county
    or community); cases count in every region above their community."""

    __tablename__ = "trend_daily"
    # region first: a request reads one region's consecutive days (a range scan of the key).
    region_code: str = Field(primary_key=True, max_length=12)
    day: date = Field(primary_key=True)
    level: str  # province | city | county | community
    submitted: int = 0  # cases submitted that day
    decided: int = 0  # audit decisions that day: approve + reject + auto_issue
    approved: int = 0
    rejected: int = 0
    auto_issued: int = 0  # R12: the system's green pass after a breach
    decided_breached: int = 0  # decisions that day on cases that had breached (R11)
    breaches: int = 0  # cases whose SLA breached that day (R13 records)
    complaints: int = 0  # provincial audit items of kind "complaint" created that day (R20)
    # Decision time in working minutes (R11 calendar, pauses for the applicant excluded):
    # {minutes: count}. Mergeable across days and regions, exact to the minute, and bounded
    # by the number of distinct minute values, so median and p90 of any period are exact.
    decision_minutes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TrendRollup(SQLModel, table=True):
    """When each day was last rolled up, and whether that day had ended by then (final)."""

    __tablename__ = "trend_rollup"
    day: date = Field(primary_key=True)
    rolled_at: datetime = ts()
    final: bool = False
    cases: int = 0  # decisions + submissions + breaches + complaints read for the day
    seconds: float = 0.0  # how long the roll-up took


# The roll-up reads one day of each timestamp; these keep that a range scan at 100,000+ cases.
Index("ix_trends_application_decided_at", Application.decided_at)
Index("ix_trends_application_submitted_at", Application.submitted_at)
Index("ix_trends_application_breached_at", Application.breached_at)
Index("ix_trends_auditem_kind_created", ProvincialAuditItem.kind, ProvincialAuditItem.created_at)

__all__ = ["TrendDaily", "TrendRollup"]
