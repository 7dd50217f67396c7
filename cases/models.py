"""The case store: every case, timer, decision, pass and the append-only event log.

Tables follow the SQLModel ladder where an API reads or writes them
(XBase -> XCreate/XPublic -> X(table=True)); Prefect holds orchestration state only.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from cases.types import UTCDateTime


def new_id() -> str:
    return uuid.uuid4().hex


def ts(**kw) -> Any:
    """A timezone-aware timestamp column."""
    return Field(sa_type=UTCDateTime, **kw)


# ---------------------------------------------------------------- regions ---

class RegionLevel(str, Enum):
    province = "province"
    city = "city"
    county = "county"
    community = "community"


class Region(SQLModel, table=True):
    """Province -> city -> county -> community (village), GB/T 2260 style codes.
    Deliberately no column for local extra requirements (R5)."""

    code: str = Field(primary_key=True, max_length=12)
    level: RegionLevel
    parent_code: Optional[str] = Field(default=None, foreign_key="region.code", index=True)
    name_zh: str
    name_en: str
    complaint_phone: Optional[str] = None  # counties (R20)
    address: Optional[str] = None  # communities (R20)
    phone: Optional[str] = None


class Unit(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=16)
    name: str
    county_code: str = Field(foreign_key="region.code", index=True)


# ------------------------------------------------------------------ users ---

class Role(str, Enum):
    applicant = "applicant"
    unit = "unit"
    issuer = "issuer"
    supervisor = "supervisor"
    auditor = "auditor"  # provincial office
    checkpoint = "checkpoint"
    admin = "admin"
    hotline = "hotline"  # complaint hotline operator (R20)


class User(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    full_name: str = ""
    password_hash: str
    role: Role
    # Scope: a region code (community for issuers, any level for supervisors) or a unit.
    region_code: Optional[str] = Field(default=None, foreign_key="region.code", index=True)
    unit_code: Optional[str] = Field(default=None, foreign_key="unit.code", index=True)
    active: bool = True
    created_at: datetime = ts()


class IssuerSignIn(SQLModel, table=True):
    """The explicit daily sign-in of an issuer (R18), not just a login."""

    __table_args__ = (UniqueConstraint("user_id", "work_date"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    work_date: date
    signed_in_at: datetime = ts()


# ------------------------------------------------------------------ cases ---

class CaseKind(str, Enum):
    arrival = "arrival"
    standard = "standard"


class CaseChannel(str, Enum):
    wechat = "wechat"
    app = "app"
    counter = "counter"
    unit = "unit"


class CaseStatus(str, Enum):
    submitted = "submitted"  # stored; flow run not started yet
    declared = "declared"
    compared = "compared"
    observing = "observing"  # arrivals in 14-day observation (R8)
    awaiting_audit = "awaiting_audit"
    awaiting_applicant = "awaiting_applicant"  # supplement requested: clock paused
    approved = "approved"
    rejected = "rejected"
    auto_issued = "auto_issued"  # R12
    completed = "completed"  # pass issued, flow finished


OPEN_STATUSES = (
    CaseStatus.submitted,
    CaseStatus.declared,
    CaseStatus.compared,
    CaseStatus.observing,
    CaseStatus.awaiting_audit,
    CaseStatus.awaiting_applicant,
)


class Applicant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("id_type", "id_hash"),)
    id: str = Field(default_factory=new_id, primary_key=True)
    id_type: str
    id_hash: str = Field(index=True)  # keyed hash: registries match on this, not the number
    id_masked: str
    name: str
    phone_masked: str
    phone_hash: str
    created_at: datetime = ts()


class ApplicationBase(SQLModel):
    kind: CaseKind
    channel: CaseChannel
    community_code: str = Field(foreign_key="region.code", index=True)
    unit_code: Optional[str] = Field(default=None, foreign_key="unit.code", index=True)
    county_code: str = Field(index=True)
    city_code: str = Field(index=True)


OPEN_WORK_WHERE = "status IN ('awaiting_audit', 'awaiting_applicant')"


class Application(ApplicationBase, table=True):
    """The case. One Prefect flow run per row (R14)."""

    # The supervisor dashboard (issue 13, migration 0005_supervision): open work in due order,
    # and on PostgreSQL its state counts from the index alone; auto-issued passes newest first.
    __table_args__ = (
        Index(
            "ix_application_open_due", "sla_due_at", "id",
            postgresql_where=text(OPEN_WORK_WHERE), sqlite_where=text(OPEN_WORK_WHERE),
            postgresql_include=["city_code", "county_code", "community_code", "channel", "status", "breached_at", "decision"],
        ),
        Index("ix_application_auto_issued", "decided_at", postgresql_where=text("decision = 'auto_issue'"), sqlite_where=text("decision = 'auto_issue'")),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    reference: str = Field(unique=True, index=True)  # human-readable case number
    applicant_id: str = Field(foreign_key="applicant.id", index=True)
    status: CaseStatus = Field(default=CaseStatus.submitted, index=True)
    submitted_at: datetime = ts()
    needs_verification: bool = False  # counter: starts the 6-hour clock (R10)
    idempotency_key: Optional[str] = Field(default=None, unique=True)
    access_token_hash: str
    comparison_outcome: Optional[str] = None
    red_list: bool = False
    rule_version: Optional[str] = None
    decided_at: Optional[datetime] = ts(default=None)
    decision: Optional[str] = None
    # SLA clock (computed by sla/, stored here; timers fire from sla_timer rows)
    sla_started_at: Optional[datetime] = ts(default=None)
    sla_due_at: Optional[datetime] = ts(default=None)
    sla_paused_at: Optional[datetime] = ts(default=None)
    sla_paused_seconds: float = 0.0
    # The due time depends on a year without an official schedule (sla/provisional.py);
    # recomputed when the year's schedule is imported.
    sla_provisional: bool = Field(default=False)
    breached_at: Optional[datetime] = ts(default=None)
    observation_ends_at: Optional[datetime] = ts(default=None)
    flow_run_id: Optional[str] = None
    flow_state: Optional[str] = None
    updated_at: datetime = ts()


class Declaration(SQLModel, table=True):
    """The applicant's signed, timestamped statement (R15). Edits add versions."""

    __table_args__ = (UniqueConstraint("application_id", "version"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    version: int = 1
    channel: str
    content: dict = Field(sa_column=Column(JSON, nullable=False))  # exactly as submitted
    content_hash: str  # sha256 of the canonical JSON
    signature: str  # server HMAC over hash + time: the statement cannot be altered silently
    declared_at: datetime = ts()


class ComparisonRecord(SQLModel, table=True):
    """Result of the big-data comparison (R14, R15)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", unique=True)
    outcome: str
    red_list: bool = False
    hits: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sources: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rule_version: Optional[str] = None
    compared_at: datetime = ts()


class AuditStatus(str, Enum):
    open = "open"  # offered to the holder's signed-in issuers
    claimed = "claimed"
    waiting_applicant = "waiting_applicant"
    decided = "decided"
    cancelled = "cancelled"


class AuditTask(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    application_id: str = Field(foreign_key="application.id", unique=True)
    holder_kind: str  # "community" | "unit": who is responsible (R13)
    holder_code: str = Field(index=True)
    status: AuditStatus = Field(default=AuditStatus.open, index=True)
    claimed_by: Optional[str] = Field(default=None, foreign_key="user.id")
    claimed_at: Optional[datetime] = ts(default=None)
    decision: Optional[str] = None
    reason_code: Optional[str] = None
    explanation: Optional[str] = None
    missing_items: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decided_by: Optional[str] = None
    decided_at: Optional[datetime] = ts(default=None)
    created_at: datetime = ts()


class ContactAttempt(SQLModel, table=True):
    """R19: the issuer verifies an applicant they do not know; the clock keeps running."""

    id: Optional[int] = Field(default=None, primary_key=True)
    audit_task_id: str = Field(foreign_key="audittask.id", index=True)
    method: str
    note: str
    by_user_id: str
    at: datetime = ts()


class PassColour(str, Enum):
    green = "green"
    yellow = "yellow"
    red = "red"


class Pass(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    application_id: Optional[str] = Field(default=None, foreign_key="application.id", index=True)
    colour: PassColour
    issued_at: datetime = ts()
    valid_until: datetime = ts()
    region_code: str
    masked_name: str
    kid: str
    token: str = Field(sa_column=Column(Text, nullable=False))
    card_number: str = Field(unique=True, index=True)
    card_name: str = "Shandong Health Pass Card"  # R1: legacy imports keep their old name here
    issued_by: str  # user id or "system"
    revoked_at: Optional[datetime] = ts(default=None)
    revoke_reason: Optional[str] = None


# ------------------------------------------------------------- SLA timers ---

class SlaTimer(SQLModel, table=True):
    """A durable timer: the sweep fires rows whose due_at has passed (ARCHITECTURE: timers live in the store)."""

    __table_args__ = (
        UniqueConstraint("application_id", "kind"),
        Index("ix_slatimer_pending_due", "pending", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id")
    kind: str  # reminder_50 | warn_80 | breach | city_1wd | province_2wd | auto_issue | observation_end | ...
    level: Optional[str] = None
    due_at: datetime = ts()
    fired_at: Optional[datetime] = ts(default=None)
    cancelled_at: Optional[datetime] = ts(default=None)
    pending: bool = Field(default=True)  # fired or cancelled -> False; the sweep reads (pending, due_at)
    provisional: bool = Field(default=False)  # due_at computed on the provisional calendar


class Notification(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: Optional[str] = Field(default=None, foreign_key="application.id", index=True)
    recipient_level: str  # applicant | issuer | community_head | county | city | province | unit
    recipient_code: Optional[str] = Field(default=None, index=True)  # region/unit code
    kind: str
    message: str
    created_at: datetime = ts(index=True)
    read_at: Optional[datetime] = ts(default=None)
    # A supervisor acknowledges it (cases/services/actions.py): who (user id) and when.
    acknowledged_by: Optional[str] = None
    acknowledged_at: Optional[datetime] = ts(default=None)
    recipient_user_id: Optional[str] = Field(default=None, index=True)  # a nudge names one issuer


class ResponsibilityRecord(SQLModel, table=True):
    """R13: who held the case when it breached, for how long, and what came of it."""

    __table_args__ = (Index("ix_responsibilityrecord_breach_at", "breach_at", "id"),)  # breaches newest first (issue 13)

    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", unique=True)
    responsible_kind: str
    responsible_code: str = Field(index=True)
    issuers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ownership: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    due_at: datetime = ts()
    breach_at: datetime = ts()
    delay_seconds: Optional[float] = None
    outcome: Optional[str] = None
    created_at: datetime = ts()


class ProvincialAuditItem(SQLModel, table=True):
    """R21: breaches, refusals, thin rejections and complaints for the provincial office."""

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str  # breach | auto_issue | rejection | red_list_override | unit_refusal | supplement_pause | complaint | roster_gap
    application_id: Optional[str] = Field(default=None, foreign_key="application.id", index=True)
    region_code: Optional[str] = Field(default=None, index=True)
    summary: str
    created_at: datetime = ts()
    outcome: Optional[str] = None  # cases.oversight.models.AuditOutcome
    closed_at: Optional[datetime] = ts(default=None)
    # Idempotency: each source raises its item once (e.g. "breach:<case id>").
    source_key: Optional[str] = Field(default=None, unique=True, index=True)
    responsible_kind: Optional[str] = None  # community | unit | county (whom an upheld outcome counts against)
    responsible_code: Optional[str] = Field(default=None, index=True)
    thin: bool = False  # a rejection whose reason the record does not back
    thin_reason: Optional[str] = None
    claimed_by: Optional[str] = Field(default=None, foreign_key="user.id")
    claimed_at: Optional[datetime] = ts(default=None)
    note: Optional[str] = None
    reopened_count: int = 0


class CalendarOverride(SQLModel, table=True):
    """Days whose status is fixed: provincial changes (e.g. an extended Spring Festival,
    source "provincial") and the days of an imported State Council schedule ("official").
    A provincial change wins over the official day of the same date."""

    day: date = Field(primary_key=True)
    is_workday: bool
    reason: str
    source: str = Field(default="provincial")  # provincial | official
    created_at: datetime = ts()


class CalendarYear(SQLModel, table=True):
    """A year of the working calendar: whether its official schedule was imported (and from
    what), and whether the provincial office was told it is missing (once: the primary key)."""

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    imported_at: Optional[datetime] = ts(default=None)  # official schedule loaded
    imported_by: Optional[str] = None
    source_name: Optional[str] = None  # the file's name as given
    sha256: Optional[str] = None  # of the file's bytes
    holidays: int = 0
    workdays: int = 0
    missing_notified_at: Optional[datetime] = ts(default=None)


# -------------------------------------------------------------- event log ---

class CaseEvent(SQLModel, table=True):
    """Append-only case timeline; each event is hash-chained to the previous one of its case."""

    __table_args__ = (UniqueConstraint("application_id", "seq"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    seq: int
    at: datetime = ts()
    actor: str  # user id, "applicant", "system", "flow:<task>"
    action: str
    reason: Optional[str] = None
    before: Optional[str] = None
    after: Optional[str] = None
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str
    hash: str


# ----------------------------------------------------------------- outbox ---

class FlowDispatch(SQLModel, table=True):
    """Outbox: orchestration work the workers owe Prefect. Committed with the case,
    so a case accepted while Prefect is down is driven once Prefect is back."""

    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    action: str  # start | resume
    created_at: datetime = ts()
    next_attempt_at: datetime = ts(index=True)
    attempts: int = 0
    done_at: Optional[datetime] = ts(default=None)
    pending: bool = Field(default=True, index=True)
    last_error: Optional[str] = None


class RunLease(SQLModel, table=True):
    """Which worker may propose a new state for a flow run just now, on any machine. Every worker
    looks for dead workers' runs on its own tick; two that read the same run would otherwise both
    requeue it, the second crashing the run the first had just handed to a live worker."""

    flow_run_id: str = Field(primary_key=True)
    holder: str
    expires_at: datetime = ts(index=True)


# ----------------------------------------------- comparison registries (R14) ---
# Loaded with `healthpass data import SOURCE FILE.csv`; people are keyed by a keyed hash,
# never by a raw ID or phone number.

class SourceStatus(SQLModel, table=True):
    name: str = Field(primary_key=True)
    version: str
    fresh_as_of: datetime = ts()
    max_age_hours: float = 48.0
    available: bool = True  # an operator can mark a source down; the comparison then says "incomplete"


class RegistryRecord(SQLModel, table=True):
    """One row of a comparison source (risk_areas, close_contacts, confirmed_cases, roaming,
    border_entries), as `cases.comparison.csv_import` parsed it. Looked up by keyed hash."""

    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    kind: str
    key: str = Field(unique=True)  # digest of the content: re-importing a feed is idempotent
    id_hash: Optional[str] = Field(default=None, index=True)
    phone_hash: Optional[str] = Field(default=None, index=True)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    imported_at: datetime = ts()


class DailyReport(SQLModel, table=True):
    """R8: one health report a day during isolation observation."""

    __table_args__ = (UniqueConstraint("application_id", "day"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    day: date
    temperature: float
    symptoms: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    location_confirmed: bool = True
    abnormal: bool = False
    late: bool = False
    reported_at: datetime = ts()
    resolved_at: Optional[datetime] = ts(default=None)  # community recorded an outcome for an abnormal report


# --------------------------------------------------------------- processes ---

class Heartbeat(SQLModel, table=True):
    """A long-lived process says it is alive (each healthpass worker, wherever it runs): /healthz
    reads the age of its last beat, and on the same host whether its pid still runs."""

    name: str = Field(primary_key=True)  # "worker:<worker name>"
    host: str
    pid: int
    state: str  # e.g. "running", "waiting for Prefect"
    started_at: datetime = ts()
    beat_at: datetime = ts()
from cases.reporting import models as _reporting_models  # noqa: E402,F401  (R23 tables)


# Tables of the domain folders (their own modules), imported so the metadata sees them.
from cases.trends import models as _trends_models  # noqa: E402,F401


from cases.complaints.models import Complaint, ComplaintEvent  # noqa: E402,F401  (R20 tables)
from cases.directory.models import DirectoryChange, DirectoryEntry  # noqa: E402,F401


from cases.oversight import models as _oversight_models  # noqa: E402,F401  (registers the oversight tables)
from cases.recovery.models import RecoveryChallenge  # noqa: E402,F401  (lost-link recovery codes)

from cases.admin import models as _admin_models  # noqa: E402,F401  (the administration log)
from cases.attachments.models import Attachment  # noqa: E402,F401  (supplement answers' files)
