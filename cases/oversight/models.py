"""Tables of the provincial office's oversight (R21, R22).

The audit items themselves are `cases.models.ProvincialAuditItem` (other parts of the
system add rows there); these tables hold what the office does with them."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from cases.types import UTCDateTime


def _ts(**kw):
    return Field(sa_type=UTCDateTime, **kw)


class AuditOutcome(str, Enum):
    """R21: what the provincial office found. Every value but `justified` is upheld
    against the responsible community or unit."""

    justified = "justified"
    prevarication = "prevarication"
    refusal_without_reason = "refusal_without_reason"
    disapproval_without_reason = "disapproval_without_reason"


class AuditItemHistory(SQLModel, table=True):
    """Append-only history of an audit item: claims, outcomes and re-openings, with notes."""

    id: Optional[int] = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="provincialaudititem.id", index=True)
    action: str  # claimed | outcome | reopened
    outcome: Optional[str] = None
    note: Optional[str] = None
    by_user_id: str
    at: datetime = _ts()


class ThresholdAlert(SQLModel, table=True):
    """R22: an area went over a threshold in a period; the provincial leading group office
    was notified. The unique key makes the notice go out once per rule, area and period."""

    __table_args__ = (UniqueConstraint("rule", "area_code", "period_start"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    rule: str
    area_level: str  # city | county | community
    area_code: str = Field(index=True)
    period_start: date
    period_end: date  # exclusive
    value: float
    threshold: float
    cases: int = 0
    notification_id: Optional[int] = Field(default=None, foreign_key="notification.id")
    created_at: datetime = _ts()


class OversightCheck(SQLModel, table=True):
    """When a periodic oversight step last ran (thresholds: at most once per interval)."""

    name: str = Field(primary_key=True)
    checked_at: datetime = _ts()
