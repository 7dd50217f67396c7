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


def recompute_provisional(*, session: Session, at: datetime, settings: Settings, reason: str, reaching: date | None = None) -> list[tuple[str, datetime | None, datetime | None]]:
    """Recompute every open deadline that was computed on the provisional calendar, with
    the calendar as it is now (the caller has just changed it); one event per case. The
    sweep then acts on the new due times (pending timers keep their rows, new due_at).
    `reaching`: one day changed; recompute too every open deadline due on or after it
    (a deadline due before the day is not moved by it)."""
    cal = sla_service.calendar(session, settings)
    with_timers = select(SlaTimer.application_id).where(SlaTimer.pending == True, SlaTimer.provisional == True)  # noqa: E712
    which = or_(Application.sla_provisional == True, Application.id.in_(with_timers))  # noqa: E712
    if reaching is not None:
        day_start = datetime.combine(reaching, datetime.min.time(), tzinfo=SHANGHAI)
        which = or_(which, Application.sla_due_at >= day_start)
    cases = session.exec(
        select(Application)
        .where(
            Application.status.in_([CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant]),
            Application.sla_started_at != None,  # noqa: E711
            which,
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


# ----------------------------------------------------------- administration ---
# The admin pages' side of the calendar: the same import the CLI runs, one day's provincial
# change, and the years' coverage. Each change is written to the administration log.

MAX_SCHEDULE_BYTES = 256 * 1024


@dataclass
class YearCoverage:
    year: int
    state: str  # imported | library | provisional
    imported_at: datetime | None = None
    imported_by: str | None = None
    source_name: str | None = None
    sha256: str | None = None
    holidays: int = 0
    workdays: int = 0


def coverage(*, session: Session, settings: Settings, now: datetime) -> tuple[list[YearCoverage], list[int]]:
    """Last year to two years ahead: where each year's working days come from; and the
    years whose official schedule is missing and needed now (the 1 November warning)."""
    cal = sla_service.calendar(session, settings)
    rows = {r.year: r for r in session.exec(select(CalendarYear))}
    year = now.astimezone(SHANGHAI).year
    out = []
    for y in range(year - 1, year + 3):
        r = rows.get(y)
        if r is not None and r.imported_at is not None:
            out.append(YearCoverage(y, "imported", r.imported_at, r.imported_by, r.source_name, r.sha256, r.holidays, r.workdays))
        elif cal.covers(y):
            out.append(YearCoverage(y, "library"))
        else:
            out.append(YearCoverage(y, "provisional"))
    return out, missing_years(cal, now)


def import_file(*, session: Session, raw: bytes, source_name: str, by: str, at: datetime, settings: Settings) -> ImportResult:
    """Import a schedule file (the format `healthpass calendar import` reads). A file with any
    problem imports nothing: `Invalid` on field `file` lists each line's problem."""
    import hashlib

    from cases.admin.log import record_admin_event
    from cases.errors import Invalid
    from sla.schedule import ScheduleError, parse_schedule

    if not raw.strip():
        raise Invalid("file: choose the schedule file to import", field="file")
    if len(raw) > MAX_SCHEDULE_BYTES:
        raise Invalid(f"file: {len(raw)} bytes; a year's schedule is a few dozen lines (at most {MAX_SCHEDULE_BYTES} bytes)", field="file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text (byte {exc.start})", field="file") from None
    try:
        schedule = parse_schedule(text)
    except ScheduleError as exc:
        lines = "; ".join(f"line {n}: {m}" if n else m for n, m in exc.problems[:20])
        raise Invalid(f"file: {len(exc.problems)} problem(s), nothing imported — {lines}", field="file") from None
    sha = hashlib.sha256(raw).hexdigest()
    result = import_schedule(session=session, schedule=schedule, at=at, by=by, source_name=source_name, sha256=sha, settings=settings)
    record_admin_event(session, actor=by, action="calendar_imported", target=str(schedule.year), at=at, data={
        "source_name": source_name, "sha256": sha, "holidays": result.holidays, "workdays": result.workdays,
        "replaced": result.replaced, "recomputed": len(result.recomputed),
    })
    return result


def set_day(*, session: Session, day: date, working: bool, note: str, by: str, at: datetime, settings: Settings) -> list[tuple[str, datetime | None, datetime | None]]:
    """A provincial change of one day (it wins over the official day). Every open deadline
    that reaches the day is recomputed, with an `sla_recomputed` event on its case."""
    from cases.admin.log import record_admin_event
    from cases.errors import Invalid

    if not 2000 <= day.year <= 2100:
        raise Invalid(f"day: {day} lies outside the years the calendar keeps (2000–2100)", field="day")
    note = note.strip()
    if not note:
        raise Invalid("note: say why the day changes (e.g. provincial extension of the Spring Festival)", field="note")
    if len(note) > 200:
        raise Invalid("note: at most 200 characters", field="note")
    row = session.get(CalendarOverride, day)
    before = None if row is None else {"working": row.is_workday, "note": row.reason, "source": row.source}
    row = row or CalendarOverride(day=day, is_workday=working, reason=note)
    row.is_workday, row.reason, row.source, row.created_at = working, note, "provincial", at
    session.add(row)
    session.flush()
    recomputed = recompute_provisional(session=session, at=at, settings=settings, reason=f"{day} set to {'working day' if working else 'holiday'} ({note})", reaching=day)
    record_admin_event(session, actor=by, action="calendar_day_set", target=day.isoformat(), at=at,
                       data={"working": working, "note": note, "before": before, "recomputed": len(recomputed)})
    return recomputed


def overrides(*, session: Session, year: int) -> list[CalendarOverride]:
    return list(session.exec(select(CalendarOverride).where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)).order_by(CalendarOverride.day)))
