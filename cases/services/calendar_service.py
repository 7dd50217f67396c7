"""The working calendar in the store: importing a year's official schedule, recomputing the
deadlines that were computed on the provisional calendar, and warning the provincial office
(once) that next year's schedule is missing.

The rules (provisional holidays, the file format, working-time arithmetic) live in `sla`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

import sla
from cases.clock import SHANGHAI
from cases.events import record_event
from cases.models import (
    Application,
    CalendarOverride,
    CalendarYear,
    CaseStatus,
    Notification,
    SlaTimer,
)
from cases.services import sla_service
from cases.settings import Settings
from sla.calendar import library_covers
from sla.schedule import Schedule

PROVINCE = "370000"
MISSING_KIND = "calendar_schedule_missing"


@dataclass
class ImportResult:
    year: int
    holidays: int
    workdays: int
    replaced: bool  # the year had an imported schedule before
    kept_provincial: list[date] = field(default_factory=list)  # provincial overrides that win over the file
    recomputed: list[tuple[str, datetime | None, datetime | None]] = field(default_factory=list)  # (case, old due, new due)


def import_schedule(
    *, session: Session, schedule: Schedule, at: datetime, by: str, source_name: str, sha256: str, settings: Settings
) -> ImportResult:
    """Store the official schedule of `schedule.year` (replacing an earlier import of that
    year), record it, and recompute every open provisional deadline. The caller commits."""
    year = schedule.year
    row = session.get(CalendarYear, year)
    replaced = row is not None and row.imported_at is not None
    if row is None:
        row = CalendarYear(year=year)
    row.imported_at, row.imported_by, row.source_name, row.sha256 = at, by, source_name, sha256
    row.holidays, row.workdays = len(schedule.holidays), len(schedule.workdays)
    session.add(row)

    days = schedule.days()
    existing = {
        o.day: o
        for o in session.exec(select(CalendarOverride).where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)))
    }
    result = ImportResult(year=year, holidays=len(schedule.holidays), workdays=len(schedule.workdays), replaced=replaced)
    for d, o in existing.items():
        if o.source == "official" and d not in days:
            session.delete(o)  # a day the new file no longer names follows the week again
    for d, (working, name) in days.items():
        o = existing.get(d)
        if o is not None and o.source != "official":
            result.kept_provincial.append(d)  # a provincial change (e.g. an extension) stays
            continue
        o = o or CalendarOverride(day=d, is_workday=working, reason=name, source="official")
        o.is_workday, o.reason, o.source, o.created_at = working, name, "official", at
        session.add(o)
    session.add(
        Notification(
            recipient_level="province",
            recipient_code=PROVINCE,
            kind="calendar_schedule_imported",
            message=f"The official working calendar of {year} was imported by {by} from {source_name} "
            f"({result.holidays} holidays, {result.workdays} adjusted working days, sha256 {sha256[:12]}).",
            created_at=at,
        )
    )
    session.flush()
    result.recomputed = recompute_provisional(session=session, at=at, settings=settings, reason=f"official schedule of {year} imported")
    return result


def _recomputed_due(application: Application, cal: sla.WorkingCalendar, settings: Settings) -> datetime:
    """The due time the clock would have on `cal`: the SLA from the start, plus the time
    the clock was paused (working time for online cases, clock time at the counter)."""
    channel = sla_service.channel_of(application)
    clock = sla.start_clock(started_at=application.sla_started_at, channel=channel, calendar=cal, needs_verification=True, policy=sla_service.policy(settings))
    paused = timedelta(seconds=application.sla_paused_seconds)
    if not paused:
        return clock.due_at
    return cal.add_working_time(clock.due_at, paused) if channel is sla.Channel.ONLINE else clock.due_at + paused


def recompute_provisional(*, session: Session, at: datetime, settings: Settings, reason: str) -> list[tuple[str, datetime | None, datetime | None]]:
    """Recompute every open deadline that was computed on the provisional calendar, with
    the calendar as it is now (the caller has just changed it); one event per case. The
    sweep then acts on the new due times (pending timers keep their rows, new due_at)."""
    cal = sla_service.calendar(session, settings)
    with_timers = select(SlaTimer.application_id).where(SlaTimer.pending == True, SlaTimer.provisional == True)  # noqa: E712
    cases = session.exec(
        select(Application)
        .where(
            Application.status.in_([CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant]),
            Application.sla_started_at != None,  # noqa: E711
            or_(Application.sla_provisional == True, Application.id.in_(with_timers)),  # noqa: E712
        )
        .order_by(Application.id)
    ).all()
    out = []
    for application in cases:
        old = application.sla_due_at
        if application.breached_at is None:
            application.sla_due_at = _recomputed_due(application, cal, settings)
        application.sla_provisional = sla_service.due_is_provisional(application, cal)
        session.add(application)
        if application.sla_paused_at is None and application.status == CaseStatus.awaiting_audit:
            # Re-arms only timers still pending (fired ones are facts; a paused clock has
            # none: resuming builds its ladder on the calendar of that day).
            timers = {t.kind: t for t in session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id))}
            sla_service._schedule_ladder(session=session, application=application, cal=cal)
            auto = timers.get("auto_issue")
            if auto is not None and auto.pending and auto.provisional and application.breached_at is not None:
                auto.due_at = sla.auto_issue_at(breach_at=application.breached_at, calendar=cal, policy=sla_service.policy(settings))
                auto.provisional = cal.is_provisional_between(application.breached_at, auto.due_at)
                session.add(auto)
        data = {
            "old_due_at": old.isoformat() if old else None,
            "due_at": application.sla_due_at.isoformat() if application.sla_due_at else None,
            "provisional": application.sla_provisional,
        }
        record_event(session, application_id=application.id, actor="system", action="sla_recomputed", at=at, reason=reason, data=data)
        out.append((application.id, old, application.sla_due_at))
    session.flush()
    return out


def missing_years(cal: sla.WorkingCalendar, now: datetime) -> list[int]:
    """Years whose official schedule is missing and needed now: this year, and from
    1 November next year too."""
    local = now.astimezone(SHANGHAI)
    years = [local.year] + ([local.year + 1] if local.month >= 11 else [])
    return [y for y in years if not cal.covers(y)]


def notify_missing_schedule(*, session: Session, now: datetime, settings: Settings) -> list[int]:
    """Tell the provincial office, once per year, that a needed official schedule is
    missing (idempotent across sweeps and processes: the year's row is claimed by a
    conditional update). Returns the years notified now. The caller commits."""
    local = now.astimezone(SHANGHAI)
    candidates = [local.year] + ([local.year + 1] if local.month >= 11 else [])
    # Cheap on every sweep: chinesecalendar's years need no store read at all.
    candidates = [y for y in candidates if not library_covers(y)]
    if not candidates:
        return []
    cal = sla_service.calendar(session, settings)
    notified = []
    for year in missing_years(cal, now):
        if year not in candidates:
            continue
        if session.get(CalendarYear, year) is None:
            try:
                with session.begin_nested():
                    session.add(CalendarYear(year=year))
            except IntegrityError:
                pass  # another sweep created it: the update below decides who notifies
        won = session.exec(
            update(CalendarYear)
            .where(CalendarYear.year == year, CalendarYear.missing_notified_at == None, CalendarYear.imported_at == None)  # noqa: E711
            .values(missing_notified_at=now)
        ).rowcount
        if won:
            session.add(
                Notification(
                    recipient_level="province",
                    recipient_code=PROVINCE,
                    kind=MISSING_KIND,
                    message=f"The official working calendar of {year} has not been imported: deadlines in {year} are computed "
                    f"on the provisional calendar (statutory holidays, no adjusted working days) and marked provisional. "
                    f"Import the State Council's schedule with `healthpass calendar import FILE`.",
                    created_at=now,
                )
            )
            notified.append(year)
    return notified
