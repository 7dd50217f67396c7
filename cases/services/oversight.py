"""The provincial office's oversight (R21, R22): the audit queue and its evidence, claims and
outcomes, the league table of areas, and the thresholds that notify the provincial leading
group office.

Audit items come from every source through `raise_item` (idempotent by `source_key`):
breaches (sla_service), auto-issues and rejections (audit._close, so an issuer's and a
supervisor's decision alike), supplement pauses (audit.decide), unit refusals (R17),
roster gaps (R18, roster.notify_gaps) and complaints (added by the complaint intake with
kind "complaint"). An upheld outcome (anything but `justified`) counts against the
responsible community or unit.
"""
from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import case as sql_case
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import Conflict, Invalid, NotFound
from cases.events import record_event
from cases.models import (
    Application,
    AuditTask,
    CaseEvent,
    ComparisonRecord,
    ContactAttempt,
    Notification,
    ProvincialAuditItem,
    Region,
    RegionLevel,
    ResponsibilityRecord,
    Unit,
    User,
)
from cases.oversight.models import AuditItemHistory, AuditOutcome, OversightCheck, ThresholdAlert
from cases.settings import Settings

log = logging.getLogger(__name__)

PROVINCE = "370000"
LEADING_GROUP = "province_leading_group"  # Notification.recipient_level of R22's notices

# kind -> what the queue says about it (the sources of R21's queue)
SOURCES: dict[str, str] = {
    "breach": "SLA breached (R13)",
    "auto_issue": "green pass issued by the system after the timeout (R12)",
    "rejection": "application rejected",
    "red_list_override": "approved despite a red-list hit",
    "unit_refusal": "unit refused to apply for an employee (R17)",
    "supplement_pause": "clock paused waiting for the applicant",
    "complaint": "complaint from the public (R20)",
    "roster_gap": "community without a signed-in issuer (R18)",
}
UPHELD = tuple(o.value for o in AuditOutcome if o != AuditOutcome.justified)


# ------------------------------------------------------------ thin rejections ---

@dataclass(frozen=True)
class _Record:
    """What the case's record holds for judging a rejection reason."""

    hit_outcomes: frozenset[str]
    contact_attempts: int


# reason_code -> (test that the record backs the reason, what is missing when it does not).
# A reason not listed here is not judged (it cannot be: the closed list of audit.REJECTION_REASONS).
THIN_RULES: dict[str, tuple[Callable[[_Record], bool], str]] = {
    "false_declaration": (lambda r: bool(r.hit_outcomes - {"clear"}), "the comparison found nothing that shows the declaration false"),
    "comparison_confirmed": (lambda r: "confirmed" in r.hit_outcomes, "the comparison shows no confirmed or suspected record"),
    "comparison_close_contact": (lambda r: "close_contact" in r.hit_outcomes, "the comparison shows no close-contact record"),
    "identity_not_established": (lambda r: r.contact_attempts >= 2, "fewer than two contact attempts recorded before refusing for identity (R19)"),
}


def thin_reason(*, session: Session, application_id: str, task_id: str | None, reason_code: str | None) -> str | None:
    """Why a rejection's reason is not backed by the record, or None when it is."""
    rule = THIN_RULES.get(reason_code or "")
    if rule is None:
        return None
    comparison = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == application_id)).first()
    outcomes = frozenset(str(h.get("outcome")) for h in (comparison.hits if comparison else []) if isinstance(h, dict))
    attempts = 0
    if task_id is not None:
        attempts = session.exec(select(func.count()).select_from(ContactAttempt).where(ContactAttempt.audit_task_id == task_id)).one()
    backed, missing = rule
    return None if backed(_Record(hit_outcomes=outcomes, contact_attempts=int(attempts))) else missing


# ------------------------------------------------------------------- sources ---

def raise_item(
    *,
    session: Session,
    kind: str,
    at: datetime,
    summary: str,
    source_key: str | None,
    application_id: str | None = None,
    region_code: str | None = None,
    responsible_kind: str | None = None,
    responsible_code: str | None = None,
    thin: str | None = None,
    check: bool = True,
) -> ProvincialAuditItem | None:
    """Put an item in the provincial audit queue once per `source_key` (None: always).
    `check=False` skips the look-up when the caller already knows the item is new (the
    sweep's breach, guarded by its responsibility record)."""
    if check and source_key is not None:
        if session.exec(select(ProvincialAuditItem.id).where(ProvincialAuditItem.source_key == source_key)).first() is not None:
            return None
    item = ProvincialAuditItem(
        kind=kind, application_id=application_id, region_code=region_code or responsible_code, summary=summary[:2000], created_at=at,
        source_key=source_key, responsible_kind=responsible_kind, responsible_code=responsible_code or region_code,
        thin=thin is not None, thin_reason=thin,
    )
    session.add(item)
    return item


# ---------------------------------------------------------------- read models ---

class HolderTime(BaseModel):
    kind: str
    code: str
    seconds: float


class ContactRow(BaseModel):
    method: str
    note: str
    by: str
    at: datetime


class TimelineRow(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    reason: str | None = None


class HistoryRow(BaseModel):
    action: str
    outcome: str | None = None
    note: str | None = None
    by: str
    at: datetime


class AuditItemRow(BaseModel):
    id: int
    kind: str
    source: str
    status: Literal["open", "claimed", "closed"]
    application_id: str | None = None
    reference: str | None = None
    case_url: str | None = None  # the staff view, never the applicant's page
    region_code: str | None = None
    responsible_kind: str | None = None
    responsible_code: str | None = None
    summary: str
    thin: bool = False
    thin_reason: str | None = None
    created_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    outcome: AuditOutcome | None = None
    note: str | None = None
    closed_at: datetime | None = None
    reopened_count: int = 0


class AuditItemPage(BaseModel):
    total: int
    offset: int
    limit: int
    counts_by_kind: dict[str, int]
    items: list[AuditItemRow]


class Decision(BaseModel):
    decision: str | None = None
    reason_code: str | None = None
    explanation: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    comparison_outcome: str | None = None
    comparison_hits: list[dict] = []


class AuditItemDetail(BaseModel):
    item: AuditItemRow
    decision: Decision | None = None
    timeline: list[TimelineRow] = []
    contact_attempts: list[ContactRow] = []
    holders: list[HolderTime] = []
    responsibility_issuers: list[str] = []
    history: list[HistoryRow] = []
    upheld_against_responsible: int = 0  # upheld findings (all time) against this item's community or unit


def staff_case_url(application_id: str | None) -> str | None:
    return f"/staff/cases/{application_id}" if application_id else None


def _status(item: ProvincialAuditItem) -> str:
    return "closed" if item.closed_at is not None else ("claimed" if item.claimed_by else "open")


def _usernames(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i and i != "system"})
    if not wanted:
        return {}
    return {u.id: u.username for u in session.exec(select(User).where(User.id.in_(wanted)))}


def _row(item: ProvincialAuditItem, reference: str | None, names: dict[str, str]) -> AuditItemRow:
    return AuditItemRow(
        id=item.id, kind=item.kind, source=SOURCES.get(item.kind, item.kind), status=_status(item),
        application_id=item.application_id, reference=reference, case_url=staff_case_url(item.application_id),
        region_code=item.region_code, responsible_kind=item.responsible_kind, responsible_code=item.responsible_code or item.region_code,
        summary=item.summary, thin=item.thin, thin_reason=item.thin_reason, created_at=item.created_at,
        claimed_by=names.get(item.claimed_by or "", item.claimed_by), claimed_at=item.claimed_at,
        outcome=AuditOutcome(item.outcome) if item.outcome in AuditOutcome._value2member_map_ else None,
        note=item.note, closed_at=item.closed_at, reopened_count=item.reopened_count or 0,
    )


def _item_query(*, kind: str | None, status: str | None, thin: bool | None, outcome: str | None, area: str | None, since: datetime | None, until: datetime | None, index: _AreaIndex | None):
    query = select(ProvincialAuditItem, Application.reference).join(Application, Application.id == ProvincialAuditItem.application_id, isouter=True)
    if kind:
        query = query.where(ProvincialAuditItem.kind == kind)
    if status == "open":
        query = query.where(ProvincialAuditItem.closed_at.is_(None), ProvincialAuditItem.claimed_by.is_(None))
    elif status == "claimed":
        query = query.where(ProvincialAuditItem.closed_at.is_(None), ProvincialAuditItem.claimed_by.is_not(None))
    elif status == "closed":
        query = query.where(ProvincialAuditItem.closed_at.is_not(None))
    if thin is not None:
        query = query.where(ProvincialAuditItem.thin == thin)
    if outcome:
        query = query.where(ProvincialAuditItem.outcome == outcome)
    if since is not None:
        query = query.where(ProvincialAuditItem.created_at >= since)
    if until is not None:
        query = query.where(ProvincialAuditItem.created_at < until)
    if area and area != PROVINCE and index is not None:
        codes = index.codes_under(area)
        level = index.level_of(area)
        column = {"city": Application.city_code, "county": Application.county_code, "community": Application.community_code}[level]
        from sqlalchemy import or_

        query = query.where(or_(column == area, ProvincialAuditItem.responsible_code.in_(codes), ProvincialAuditItem.region_code.in_(codes)))
    return query


def list_items(
    *, session: Session, kind: str | None = None, status: str | None = None, thin: bool | None = None, outcome: str | None = None,
    area: str | None = None, since: datetime | None = None, until: datetime | None = None, offset: int = 0, limit: int = 50,
) -> AuditItemPage:
    """The queue, newest first, filtered and paged (`limit` 0: every row, for CSV)."""
    if since is not None and until is not None and until <= since:
        raise Invalid("until must be later than since", field="until")
    index = None
    if area and area != PROVINCE:
        index = area_index(session)
        if area not in index.regions:
            raise Invalid(f"unknown region {area}", field="area")
    query = _item_query(kind=kind, status=status, thin=thin, outcome=outcome, area=area, since=since, until=until, index=index)
    sub = query.subquery()
    total = session.exec(select(func.count()).select_from(sub)).one()
    counts = dict(session.exec(select(sub.c.kind, func.count()).group_by(sub.c.kind)).all())
    ordered = query.order_by(ProvincialAuditItem.created_at.desc(), ProvincialAuditItem.id.desc()).offset(offset)
    if limit:
        ordered = ordered.limit(limit)
    rows = list(session.exec(ordered))
    names = _usernames(session, (i.claimed_by for i, _ in rows))
    return AuditItemPage(total=total, offset=offset, limit=limit, counts_by_kind={k: int(v) for k, v in counts.items()}, items=[_row(i, ref, names) for i, ref in rows])


def _view(session: Session, item: ProvincialAuditItem) -> AuditItemRow:
    application = session.get(Application, item.application_id) if item.application_id else None
    return _row(item, application.reference if application else None, _usernames(session, [item.claimed_by]))


def _get(session: Session, item_id: int) -> ProvincialAuditItem:
    item = session.get(ProvincialAuditItem, item_id)
    if item is None:
        raise NotFound(f"audit item {item_id} not found")
    return item


def item_detail(*, session: Session, item_id: int) -> AuditItemDetail:
    """An item with its evidence: the case timeline, the decision and its reason, the
    contact attempts (R19), the holders and how long each had the case (R13), and what the
    provincial office did with it so far."""
    item = _get(session, item_id)
    history = list(session.exec(select(AuditItemHistory).where(AuditItemHistory.item_id == item.id).order_by(AuditItemHistory.id)))
    application = session.get(Application, item.application_id) if item.application_id else None
    names = _usernames(session, [item.claimed_by, *(h.by_user_id for h in history)])
    detail = AuditItemDetail(
        item=_row(item, application.reference if application else None, names),
        history=[HistoryRow(action=h.action, outcome=h.outcome, note=h.note, by=names.get(h.by_user_id, h.by_user_id), at=h.at) for h in history],
    )
    responsible = item.responsible_code or item.region_code
    if responsible:
        detail.upheld_against_responsible = counts_against(session=session, codes=[responsible]).get(responsible, 0)
    if application is None:
        return detail
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    comparison = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == application.id)).first()
    events = list(session.exec(select(CaseEvent).where(CaseEvent.application_id == application.id).order_by(CaseEvent.seq)))
    attempts = list(session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id).order_by(ContactAttempt.id))) if task else []
    record = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first()
    people = _usernames(session, [*(e.actor for e in events), *(a.by_user_id for a in attempts), task.decided_by if task else None])
    detail.decision = Decision(
        decision=application.decision, reason_code=task.reason_code if task else None, explanation=task.explanation if task else None,
        decided_by=people.get(task.decided_by or "", task.decided_by) if task else None, decided_at=application.decided_at,
        comparison_outcome=comparison.outcome if comparison else application.comparison_outcome, comparison_hits=list(comparison.hits) if comparison else [],
    )
    detail.timeline = [TimelineRow(seq=e.seq, at=e.at, actor=people.get(e.actor, e.actor), action=e.action, reason=e.reason) for e in events]
    detail.contact_attempts = [ContactRow(method=a.method, note=a.note, by=people.get(a.by_user_id, a.by_user_id), at=a.at) for a in attempts]
    if record is not None:
        detail.holders = [HolderTime(kind=o.get("kind", ""), code=o.get("code", ""), seconds=float(o.get("seconds", 0))) for o in record.ownership]
        detail.responsibility_issuers = list(record.issuers)
    return detail


# ---------------------------------------------------------------- the office acts ---

def _history(session: Session, item: ProvincialAuditItem, *, action: str, user: User, at: datetime, outcome: str | None = None, note: str | None = None) -> None:
    session.add(AuditItemHistory(item_id=item.id, action=action, outcome=outcome, note=note, by_user_id=user.id, at=at))
    if item.application_id:
        record_event(
            session, application_id=item.application_id, actor=user.id, action=f"provincial_audit_{action}", at=at, reason=note,
            data={"item_id": item.id, "kind": item.kind, **({"outcome": outcome} if outcome else {})},
        )


def claim_item(*, session: Session, item_id: int, user: User, at: datetime) -> AuditItemRow:
    """One auditor works an item at a time: a conditional update, atomic on both stores."""
    item = _get(session, item_id)
    if item.closed_at is not None:
        raise Conflict(f"audit item {item_id} is closed ({item.outcome}); re-open it first")
    if item.claimed_by == user.id:
        return _view(session, item)
    won = session.exec(
        update(ProvincialAuditItem)
        .where(ProvincialAuditItem.id == item_id, ProvincialAuditItem.claimed_by.is_(None), ProvincialAuditItem.closed_at.is_(None))
        .values(claimed_by=user.id, claimed_at=at)
    ).rowcount
    if not won:
        session.rollback()
        holder = _usernames(session, [_get(session, item_id).claimed_by]).values()
        raise Conflict(f"audit item {item_id} is already claimed by {', '.join(holder) or 'another auditor'}")
    session.refresh(item)
    _history(session, item, action="claimed", user=user, at=at)
    session.commit()
    return _view(session, item)


def _note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) < 5:
        raise Invalid("a note of at least 5 characters is required", field="note")
    return text


def record_outcome(*, session: Session, item_id: int, user: User, outcome: str, note: str | None, at: datetime) -> AuditItemRow:
    """R21: the finding, with a note; evented on the case and in the item's history."""
    if outcome not in AuditOutcome._value2member_map_:
        raise Invalid(f"outcome must be one of {', '.join(AuditOutcome._value2member_map_)}", field="outcome")
    text = _note(note)
    item = _get(session, item_id)
    if item.closed_at is not None:
        raise Conflict(f"audit item {item_id} already has the outcome {item.outcome}; re-open it to change it")
    if item.claimed_by != user.id:
        raise Conflict(f"claim audit item {item_id} before recording its outcome" if item.claimed_by is None else f"audit item {item_id} is claimed by another auditor")
    won = session.exec(
        update(ProvincialAuditItem)
        .where(ProvincialAuditItem.id == item_id, ProvincialAuditItem.claimed_by == user.id, ProvincialAuditItem.closed_at.is_(None))
        .values(outcome=outcome, note=text, closed_at=at)
    ).rowcount
    if not won:
        session.rollback()
        raise Conflict(f"audit item {item_id} changed meanwhile; reload it")
    session.refresh(item)
    _history(session, item, action="outcome", user=user, at=at, outcome=outcome, note=text)
    session.commit()
    return _view(session, item)


def reopen_item(*, session: Session, item_id: int, user: User, note: str | None, at: datetime) -> AuditItemRow:
    """A closed item goes back to the queue (unclaimed); its earlier outcome stays in the history."""
    text = _note(note)
    item = _get(session, item_id)
    if item.closed_at is None:
        raise Conflict(f"audit item {item_id} is not closed")
    won = session.exec(
        update(ProvincialAuditItem)
        .where(ProvincialAuditItem.id == item_id, ProvincialAuditItem.closed_at.is_not(None))
        .values(outcome=None, closed_at=None, claimed_by=None, claimed_at=None, note=text, reopened_count=ProvincialAuditItem.reopened_count + 1)
    ).rowcount
    if not won:
        session.rollback()
        raise Conflict(f"audit item {item_id} changed meanwhile; reload it")
    session.refresh(item)
    _history(session, item, action="reopened", user=user, at=at, note=text)
    session.commit()
    return _view(session, item)


# ---------------------------------------------------------------------- periods ---

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def period_bounds(*, today: date, start: date | None, end: date | None, optional: bool = False, default_days: int = 30) -> tuple[datetime | None, datetime | None, date | None, date | None]:
    """A period of whole days in Asia/Shanghai: [start 00:00, the day after `end` 00:00).
    Defaults: `end` today, `start` default_days - 1 before it; `optional` and neither given: no bounds."""
    if optional and start is None and end is None:
        return None, None, None, None
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise Invalid(f"{name} must lie between {EARLIEST} and {LATEST}", field=name)
    end = end or today
    start = start or max(end - timedelta(days=default_days - 1), EARLIEST)
    if end < start:
        raise Invalid("to must not be before from", field="to")
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=SHANGHAI),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI),
        start,
        end,
    )


# ---------------------------------------------------------------------- areas ---

@dataclass
class _AreaIndex:
    """Every region and unit code -> its city, county and community (from the region tree)."""

    regions: dict[str, Region]
    chain: dict[str, dict[str, str]]  # code -> {"city": .., "county": .., "community": .., "unit": ..}
    units: dict[str, Unit]

    def level_of(self, code: str) -> str:
        return self.regions[code].level.value

    def codes_under(self, code: str) -> list[str]:
        level = self.level_of(code)
        return sorted(c for c, ch in self.chain.items() if ch.get(level) == code)

    def area_of(self, code: str | None, level: str) -> str | None:
        return self.chain.get(code or "", {}).get(level)


def area_index(session: Session) -> _AreaIndex:
    regions = {r.code: r for r in session.exec(select(Region))}
    chain: dict[str, dict[str, str]] = {}
    for code in regions:
        out: dict[str, str] = {}
        current = regions.get(code)
        for _ in range(8):
            if current is None:
                break
            out[current.level.value] = current.code
            current = regions.get(current.parent_code) if current.parent_code else None
        chain[code] = out
    units = {u.code: u for u in session.exec(select(Unit))}
    for unit in units.values():
        chain[unit.code] = {**chain.get(unit.county_code, {}), "unit": unit.code}
    return _AreaIndex(regions=regions, chain=chain, units=units)


# ----------------------------------------------------------------- the league ---

LEVELS = ("city", "county", "community", "unit")  # a unit's row: its own cases and findings (R17)
LEAGUE_COLUMNS = (
    "area_code", "name", "level", "cases", "breaches", "breach_rate", "auto_issued", "auto_issue_rate",
    "decided", "rejections", "rejection_rate", "complaints", "upheld_findings", "roster_gaps",
)
SORT_KEYS = tuple(c for c in LEAGUE_COLUMNS if c not in ("level",))


class LeagueRow(BaseModel):
    area_code: str
    name: str
    level: str
    cases: int = 0
    breaches: int = 0
    breach_rate: float = 0.0
    auto_issued: int = 0
    auto_issue_rate: float = 0.0
    decided: int = 0
    rejections: int = 0
    rejection_rate: float = 0.0
    complaints: int = 0
    upheld_findings: int = 0
    roster_gaps: int = 0


class LeagueTable(BaseModel):
    level: str
    since: datetime
    until: datetime
    sort: str
    descending: bool
    total: int
    offset: int
    limit: int
    rows: list[LeagueRow]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _item_area(item_app: tuple, level: str, index: _AreaIndex) -> str | None:
    """The area of `level` an item counts in: its case's, else its responsible's (the tree)."""
    item, city, county, community, unit = item_app
    if level == "unit":  # a unit answers for what it held or refused, not for every employee's case
        code = item.responsible_code or item.region_code
        return code if code in index.units else None
    if item.application_id and city:
        return {"city": city, "county": county, "community": community}[level]
    return index.area_of(item.responsible_code or item.region_code, level)


def area_counts(*, session: Session, level: str, since: datetime, until: datetime, index: _AreaIndex | None = None) -> dict[str, LeagueRow]:
    """Per area of `level`: cases submitted in [since, until) and what became of them
    (breached, auto-issued, rejected among those decided), complaints and roster gaps
    raised in the period, and upheld findings recorded in it (against the responsible
    community or unit)."""
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}", field="level")
    if until <= since:
        raise Invalid("until must be later than since", field="until")
    index = index or area_index(session)
    if level == "unit":
        rows = {code: LeagueRow(area_code=code, name=u.name, level=level) for code, u in index.units.items()}
    else:
        rows = {code: LeagueRow(area_code=code, name=r.name_zh, level=level) for code, r in index.regions.items() if r.level.value == level}
    column = {"city": Application.city_code, "county": Application.county_code, "community": Application.community_code, "unit": Application.unit_code}[level]
    stats = session.exec(
        select(
            column,
            func.count(),
            func.sum(sql_case((Application.breached_at.is_not(None), 1), else_=0)),
            func.sum(sql_case((Application.decision == "auto_issue", 1), else_=0)),
            func.sum(sql_case((Application.decision.is_not(None), 1), else_=0)),
            func.sum(sql_case((Application.decision == "reject", 1), else_=0)),
        )
        .where(Application.submitted_at >= since, Application.submitted_at < until)
        .group_by(column)
    )
    for code, cases, breaches, auto, decided, rejected in stats:
        if code is None:
            continue  # cases without a unit have no unit row
        row = rows.setdefault(code, LeagueRow(area_code=code, name=code, level=level))
        row.cases, row.breaches, row.auto_issued, row.decided, row.rejections = int(cases), int(breaches or 0), int(auto or 0), int(decided or 0), int(rejected or 0)
    items = select(ProvincialAuditItem, Application.city_code, Application.county_code, Application.community_code, Application.unit_code).join(
        Application, Application.id == ProvincialAuditItem.application_id, isouter=True
    )
    raised = items.where(ProvincialAuditItem.kind.in_(["complaint", "roster_gap"]), ProvincialAuditItem.created_at >= since, ProvincialAuditItem.created_at < until)
    for found in session.exec(raised):
        area = _item_area(found, level, index)
        if area in rows:
            if found[0].kind == "complaint":
                rows[area].complaints += 1
            else:
                rows[area].roster_gaps += 1
    upheld = items.where(ProvincialAuditItem.outcome.in_(UPHELD), ProvincialAuditItem.closed_at >= since, ProvincialAuditItem.closed_at < until)
    for found in session.exec(upheld):
        area = _item_area(found, level, index)
        if area in rows:
            rows[area].upheld_findings += 1
    for row in rows.values():
        row.breach_rate = _rate(row.breaches, row.cases)
        row.auto_issue_rate = _rate(row.auto_issued, row.cases)
        row.rejection_rate = _rate(row.rejections, row.decided)
    return rows


def league_table(
    *, session: Session, level: str, since: datetime, until: datetime, sort: str = "breach_rate", descending: bool = True,
    offset: int = 0, limit: int = 100, area: str | None = None,
) -> LeagueTable:
    """The league of cities, counties or communities for a period, sorted by any column
    (ties by code), paged (`limit` 0: every row, for CSV); `area` keeps those under it."""
    if sort not in SORT_KEYS:
        raise Invalid(f"sort must be one of {', '.join(SORT_KEYS)}", field="sort")
    index = area_index(session)
    rows = list(area_counts(session=session, level=level, since=since, until=until, index=index).values())
    if area and area != PROVINCE:
        if area not in index.regions:
            raise Invalid(f"unknown region {area}", field="area")
        area_level = index.level_of(area)
        rows = [r for r in rows if index.area_of(r.area_code, area_level) == area]
    rows.sort(key=lambda r: r.area_code)
    rows.sort(key=lambda r: getattr(r, sort), reverse=descending)
    page = rows[offset: offset + limit] if limit else rows[offset:]
    return LeagueTable(level=level, since=since, until=until, sort=sort, descending=descending, total=len(rows), offset=offset, limit=limit, rows=page)


# ---------------------------------------------------------------- thresholds (R22) ---

PERIOD_EPOCH = date(2020, 1, 6)  # a Monday: 7-day periods are ISO weeks


@dataclass(frozen=True)
class ThresholdRule:
    key: str
    title: str
    days: int  # the window measured, and the length of a period (one notice per period)
    setting: str  # the Settings field holding the limit
    value: Callable[[LeagueRow], float]
    unit: str


THRESHOLD_RULES: tuple[ThresholdRule, ...] = (
    ThresholdRule("breach_rate_7d", "Breach rate over 7 days", 7, "threshold_breach_rate_7d", lambda r: r.breach_rate, "share of cases"),
    ThresholdRule("upheld_findings_30d", "Upheld audit findings over 30 days", 30, "threshold_upheld_findings_30d", lambda r: float(r.upheld_findings), "findings"),
    ThresholdRule(
        "complaints_per_1000_30d", "Complaints per 1,000 cases over 30 days", 30, "threshold_complaints_per_1000_30d",
        lambda r: round(1000 * r.complaints / r.cases, 2) if r.cases else 0.0, "per 1,000 cases",
    ),
)
# Rates mean little on a handful of cases: rules over rates need this many cases in the window.
RATE_RULES = {"breach_rate_7d", "complaints_per_1000_30d"}


def period_of(day: date, days: int) -> tuple[date, date]:
    """The fixed period (start, end exclusive) of `days` days that holds `day`."""
    start = PERIOD_EPOCH + timedelta(days=((day - PERIOD_EPOCH).days // days) * days)
    return start, start + timedelta(days=days)


def evaluate_thresholds(*, session: Session, now: datetime, settings: Settings) -> list[ThresholdAlert]:
    """R22: each rule, over its trailing window, for every area of the configured levels;
    an area over the limit notifies the provincial leading group office once per period
    (the unique key (rule, area, period_start): no repeat while it stays over). Commits."""
    levels = [lvl.strip() for lvl in settings.threshold_levels.split(",") if lvl.strip() in LEVELS]
    day = now.astimezone(SHANGHAI).date()
    index = area_index(session)
    made: list[ThresholdAlert] = []
    for rule in THRESHOLD_RULES:
        limit = float(getattr(settings, rule.setting))
        if limit <= 0:
            continue  # switched off
        start, end = period_of(day, rule.days)
        done = set(session.exec(select(ThresholdAlert.area_code).where(ThresholdAlert.rule == rule.key, ThresholdAlert.period_start == start)))
        for level in levels:
            rows = area_counts(session=session, level=level, since=now - timedelta(days=rule.days), until=now, index=index)
            for row in rows.values():
                if row.area_code in done:
                    continue
                if rule.key in RATE_RULES and row.cases < settings.threshold_min_cases:
                    continue
                value = rule.value(row)
                if value <= limit:
                    continue
                alert = _alert(session, rule=rule, row=row, value=value, limit=limit, start=start, end=end, now=now)
                if alert is not None:
                    made.append(alert)
                    done.add(row.area_code)
    return made


def _alert(session: Session, *, rule: ThresholdRule, row: LeagueRow, value: float, limit: float, start: date, end: date, now: datetime) -> ThresholdAlert | None:
    """The alert and its notification in one savepoint: a concurrent sweeper that raised the
    same (rule, area, period) first wins, and this one writes nothing."""
    message = (
        f"R22: {row.level} {row.area_code} ({row.name}) is over the threshold '{rule.title}': {value:g} > {limit:g} {rule.unit} "
        f"({row.cases} cases in the window; period {start.isoformat()} to {(end - timedelta(days=1)).isoformat()})."
    )
    try:
        with session.begin_nested():
            note = Notification(recipient_level=LEADING_GROUP, recipient_code=PROVINCE, kind="threshold_exceeded", message=message, created_at=now)
            session.add(note)
            session.flush()
            alert = ThresholdAlert(
                rule=rule.key, area_level=row.level, area_code=row.area_code, period_start=start, period_end=end,
                value=value, threshold=limit, cases=row.cases, notification_id=note.id, created_at=now,
            )
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None
    session.commit()
    log.info("threshold %s exceeded in %s %s (period %s)", rule.key, row.level, row.area_code, start)
    return alert


def thresholds_if_due(*, session: Session, now: datetime, settings: Settings) -> int:
    """Called by the SLA sweep each minute: evaluates the thresholds at most once per
    `threshold_check_minutes` (one primary-key read otherwise). Returns the alerts raised."""
    interval = timedelta(minutes=settings.threshold_check_minutes)
    mark = session.get(OversightCheck, "thresholds")
    if mark is not None and mark.checked_at > now - interval:
        return 0
    if mark is None:
        mark = OversightCheck(name="thresholds", checked_at=now)
    else:
        won = session.exec(
            update(OversightCheck).where(OversightCheck.name == "thresholds", OversightCheck.checked_at <= now - interval).values(checked_at=now)
        ).rowcount
        if not won:
            session.rollback()
            return 0
    session.add(mark)
    mark.checked_at = now
    try:
        session.commit()
    except IntegrityError:  # another sweeper wrote the first mark
        session.rollback()
        return 0
    return len(evaluate_thresholds(session=session, now=now, settings=settings))


class AlertRow(BaseModel):
    id: int
    rule: str
    title: str
    area_level: str
    area_code: str
    area_name: str
    period_start: date
    period_end: date
    value: float
    threshold: float
    cases: int
    notified_at: datetime
    notification_id: int | None = None


class AlertPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[AlertRow]


def list_alerts(*, session: Session, rule: str | None = None, area: str | None = None, since: date | None = None, until: date | None = None, offset: int = 0, limit: int = 50) -> AlertPage:
    titles = {r.key: r.title for r in THRESHOLD_RULES}
    if rule is not None and rule not in titles:
        raise Invalid(f"rule must be one of {', '.join(titles)}", field="rule")
    for name, value in (("from", since), ("to", until)):
        if value is not None and not EARLIEST <= value <= LATEST + timedelta(days=1):
            raise Invalid(f"{name} must lie between {EARLIEST} and {LATEST}", field=name)
    query = select(ThresholdAlert)
    if rule:
        query = query.where(ThresholdAlert.rule == rule)
    if area:
        query = query.where(ThresholdAlert.area_code == area)
    if since:
        query = query.where(ThresholdAlert.period_start >= since)
    if until:
        query = query.where(ThresholdAlert.period_start < until)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    query = query.order_by(ThresholdAlert.created_at.desc(), ThresholdAlert.id.desc()).offset(offset)
    if limit:
        query = query.limit(limit)
    alerts = list(session.exec(query))
    names = {r.code: r.name_zh for r in session.exec(select(Region).where(Region.code.in_(sorted({a.area_code for a in alerts}))))} if alerts else {}
    return AlertPage(
        total=total, offset=offset, limit=limit,
        items=[
            AlertRow(
                id=a.id, rule=a.rule, title=titles.get(a.rule, a.rule), area_level=a.area_level, area_code=a.area_code, area_name=names.get(a.area_code, a.area_code),
                period_start=a.period_start, period_end=a.period_end, value=a.value, threshold=a.threshold, cases=a.cases, notified_at=a.created_at, notification_id=a.notification_id,
            )
            for a in alerts
        ],
    )


# ------------------------------------------------------------------------ CSV ---

def _cell(value: Any) -> str:
    """Spreadsheet-safe: a cell starting with = + - @ is not read as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).isoformat()
    if hasattr(value, "value"):
        value = value.value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def to_csv(rows: Iterable[BaseModel], columns: Iterable[str]) -> str:
    columns = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump() if hasattr(row, "model_dump") else dict(row)
        writer.writerow([_cell(getattr(row, c, data.get(c))) for c in columns])
    return out.getvalue()


ITEM_COLUMNS = ("id", "kind", "status", "reference", "responsible_kind", "responsible_code", "summary", "thin", "thin_reason", "created_at", "claimed_by", "outcome", "note", "closed_at", "reopened_count", "case_url")
ALERT_COLUMNS = ("id", "rule", "title", "area_level", "area_code", "area_name", "period_start", "period_end", "value", "threshold", "cases", "notified_at")


def counts_against(*, session: Session, codes: list[str] | None = None) -> dict[str, int]:
    """Upheld findings per responsible community or unit (all time), for `codes` if given."""
    out: dict[str, int] = defaultdict(int)
    query = select(ProvincialAuditItem.responsible_code, func.count()).where(ProvincialAuditItem.outcome.in_(UPHELD))
    if codes is not None:
        query = query.where(ProvincialAuditItem.responsible_code.in_(codes))
    for code, n in session.exec(query.group_by(ProvincialAuditItem.responsible_code)):
        out[code or ""] += int(n)
    return dict(out)


__all__ = [
    "AuditItemDetail", "AuditItemPage", "AuditItemRow", "AuditOutcome", "AlertPage", "AlertRow", "LeagueRow", "LeagueTable",
    "ALERT_COLUMNS", "ITEM_COLUMNS", "LEAGUE_COLUMNS", "LEVELS", "SORT_KEYS", "SOURCES", "THIN_RULES", "THRESHOLD_RULES", "RegionLevel",
    "area_counts", "claim_item", "counts_against", "evaluate_thresholds", "item_detail", "league_table", "list_alerts", "list_items",
    "period_bounds", "period_of", "raise_item", "record_outcome", "reopen_item", "staff_case_url", "thin_reason", "thresholds_if_due", "to_csv",
]
