"""R23: municipalities report their implementation and the complaint telephone numbers they
announced (city and county level) to the provincial office by a deadline.

- An obligation is data: a title, a due time (a date means the end of that day in
  Asia/Shanghai), and the cities it binds (all 16, or a list).
- A city supervisor submits their city's report (scope from `cases.scope`); the first
  submission time decides on time / late, an amendment never moves it.
- Per obligation and city the state is `on_time`, `late` (submitted after the due time),
  `missing` (past due, nothing submitted) or `pending` (not yet due, nothing submitted).
- `notify_overdue` (called by the SLA sweep) tells the city and the provincial office once per
  obligation and city that a report is overdue.
- The announced numbers are checked against the public directory (`announced_numbers_mismatches`,
  a pure function; `directory_numbers` reads the directory, {} while it does not exist).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timezone
from enum import Enum
from typing import Optional

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, select

from cases.clock import SHANGHAI, aware
from cases.errors import Forbidden, Invalid, NotFound
from cases.models import Notification, Region, RegionLevel, Role, User
from cases.reporting.models import (
    CityReport,
    ImplementationStatus,
    ReportingEvent,
    ReportingObligation,
    ReportingObligationCity,
)
from cases.scope import Scope, scope_for

PROVINCE = "370000"
OVERDUE_KIND = "reporting_overdue"
END_OF_DAY = time(23, 59, 59)
_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")


class ReportState(str, Enum):
    on_time = "on_time"
    late = "late"
    missing = "missing"
    pending = "pending"  # not yet due, nothing submitted


# ------------------------------------------------------------- read models ---

class Mismatch(BaseModel):
    """One disagreement between the announced numbers and the public directory."""

    region_code: str
    kind: str  # not_in_directory | not_announced | no_directory_entry | county_not_reported
    number: Optional[str] = None


class CityState(BaseModel):
    city_code: str
    city_name_en: str
    city_name_zh: str
    due_at: datetime
    state: ReportState
    submitted_at: Optional[datetime] = None
    late_by_seconds: Optional[float] = None
    status: Optional[ImplementationStatus] = None
    implementation: Optional[str] = None
    city_numbers: list[str] = []
    county_numbers: dict[str, list[str]] = {}
    submitted_by: Optional[str] = None
    version: Optional[int] = None
    directory_checked: bool = False
    mismatches: list[Mismatch] = []
    overdue_notified_at: Optional[datetime] = None


class ObligationSummary(BaseModel):
    id: int
    title: str
    description: str
    due_at: datetime
    all_cities: bool
    cities: int
    on_time: int
    late: int
    missing: int
    pending: int


class ObligationPage(BaseModel):
    items: list[ObligationSummary]
    total: int
    page: int
    per_page: int


class ObligationDetail(BaseModel):
    obligation: ObligationSummary
    cities: list[CityState]
    total: int
    page: int
    per_page: int


# ------------------------------------------------------------------ input ---

def parse_due(value: str | date | datetime, *, field: str = "due") -> datetime:
    """A date means the end of that day in Asia/Shanghai; a date-time must carry its offset."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return datetime.combine(value, END_OF_DAY, tzinfo=SHANGHAI).astimezone(timezone.utc)
    else:
        text = (value or "").strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return parse_due(date.fromisoformat(text), field=field)
            except ValueError:
                raise Invalid(f"{field}: {text!r} is not a calendar date", field=field) from None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"{field}: give a date (YYYY-MM-DD, end of that day in Shanghai) or a date-time with its offset", field=field) from None
    if parsed.tzinfo is None:
        raise Invalid(f"{field}: a date-time needs its UTC offset (e.g. +08:00)", field=field)
    return parsed.astimezone(timezone.utc)


def normalise_number(number: str) -> str:
    """Compare numbers by their digits (and a leading +): '0531-1234 5678' == '053112345678'."""
    number = number.strip()
    return ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)


def _clean_numbers(numbers: Iterable[str], *, field: str) -> list[str]:
    out: list[str] = []
    for i, number in enumerate(numbers):
        text = (number or "").strip()
        if not _NUMBER.match(text):
            raise Invalid(f"{field}[{i}]: {number!r} is not a telephone number", field=f"{field}.{i}")
        if normalise_number(text) not in {normalise_number(n) for n in out}:
            out.append(text)
    return out


def _cities(session: Session) -> dict[str, Region]:
    return {r.code: r for r in session.exec(select(Region).where(Region.level == RegionLevel.city).order_by(Region.code))}


def counties_of(session: Session, city_code: str) -> list[str]:
    return list(session.exec(select(Region.code).where(Region.parent_code == city_code, Region.level == RegionLevel.county).order_by(Region.code)))


def _event(session: Session, *, obligation_id: int, action: str, actor: str, at: datetime, city_code: str | None = None, data: dict | None = None) -> None:
    session.add(ReportingEvent(obligation_id=obligation_id, city_code=city_code, action=action, actor=actor, at=at, data=data or {}))


# -------------------------------------------------------------- obligations ---

def create_obligation(
    *, session: Session, user: User | None, title: str, due: str | date | datetime, cities: list[str] | None = None, description: str = "", at: datetime, actor: str | None = None
) -> ReportingObligation:
    """The provincial office (auditor) or an admin sets a reporting deadline for all cities or
    a list. `user=None` with an `actor` is the seed's history."""
    if user is not None and Role(user.role) not in (Role.auditor, Role.admin):
        raise Forbidden("only the provincial office (auditor) or an admin sets reporting obligations", field="role")
    title = (title or "").strip()
    if not title:
        raise Invalid("title: must not be empty", field="title")
    if len(title) > 200:
        raise Invalid("title: at most 200 characters", field="title")
    if len(description or "") > 4000:
        raise Invalid("description: at most 4000 characters", field="description")
    due_at = parse_due(due)
    known = _cities(session)
    if cities:
        chosen = list(dict.fromkeys(c.strip() for c in cities))
        for i, code in enumerate(chosen):
            if code not in known:
                raise Invalid(f"cities[{i}]: {code!r} is not a city of the province", field=f"cities.{i}")
    else:
        chosen = list(known)
    obligation = ReportingObligation(
        title=title, description=(description or "").strip(), due_at=due_at, all_cities=not cities,
        created_by=actor or (user.id if user else "system"), created_at=at,
    )
    session.add(obligation)
    session.flush()
    for code in chosen:
        session.add(ReportingObligationCity(obligation_id=obligation.id, city_code=code, due_at=due_at))
    _event(session, obligation_id=obligation.id, action="obligation_created", actor=obligation.created_by, at=at,
           data={"title": title, "due_at": due_at.isoformat(), "cities": chosen})
    session.flush()
    return obligation


def _visible_cities(scope: Scope) -> set[str] | None:
    """The cities whose reports an account reads: all (None) for the provincial office, admins and
    provincial supervisors; their own city for a city supervisor; nothing for anyone else."""
    if scope.role not in (Role.auditor, Role.admin, Role.supervisor):
        raise Forbidden("reporting is read by the provincial office and city supervisors", field="role")
    if scope.everything:
        return None
    if scope.root is not None and scope.root.level == RegionLevel.city:
        return {scope.root.code}
    raise Forbidden("reporting is read by the provincial office and city supervisors", field="role")


def states_of(session: Session, obligation: ReportingObligation, *, now: datetime, cities: set[str] | None = None,
              directory: dict[str, set[str]] | None = None) -> list[CityState]:
    """Per bound city: its state at `now`, its report and the directory check."""
    query = select(ReportingObligationCity).where(ReportingObligationCity.obligation_id == obligation.id)
    if cities is not None:
        query = query.where(ReportingObligationCity.city_code.in_(sorted(cities)))
    bound = list(session.exec(query.order_by(ReportingObligationCity.city_code)))
    reports = {r.city_code: r for r in session.exec(select(CityReport).where(CityReport.obligation_id == obligation.id))}
    regions = _cities(session)
    due_at = aware(obligation.due_at)
    out = []
    for row in bound:
        report = reports.get(row.city_code)
        region = regions.get(row.city_code)
        state = CityState(
            city_code=row.city_code, city_name_en=region.name_en if region else row.city_code, city_name_zh=region.name_zh if region else "",
            due_at=due_at, state=timeliness(due_at=due_at, submitted_at=aware(report.submitted_at) if report else None, now=now),
            overdue_notified_at=aware(row.overdue_notified_at) if row.overdue_notified_at else None,
        )
        if report is not None:
            submitted = aware(report.submitted_at)
            state.submitted_at = submitted
            state.late_by_seconds = max(0.0, (submitted - due_at).total_seconds()) if submitted > due_at else None
            state.status = report.status
            state.implementation = report.implementation
            state.city_numbers = list(report.city_numbers)
            state.county_numbers = {k: list(v) for k, v in sorted(report.county_numbers.items())}
            state.submitted_by = report.submitted_by
            state.version = report.version
            if directory:
                state.directory_checked = True
                state.mismatches = announced_numbers_mismatches(report, directory, counties=counties_of(session, row.city_code))
        out.append(state)
    return out


def timeliness(*, due_at: datetime, submitted_at: datetime | None, now: datetime) -> ReportState:
    if submitted_at is not None:
        return ReportState.on_time if submitted_at <= due_at else ReportState.late
    return ReportState.missing if now > due_at else ReportState.pending


def _summary(obligation: ReportingObligation, states: list[CityState]) -> ObligationSummary:
    counts = {s: 0 for s in ReportState}
    for st in states:
        counts[st.state] += 1
    return ObligationSummary(
        id=obligation.id, title=obligation.title, description=obligation.description, due_at=aware(obligation.due_at),
        all_cities=obligation.all_cities, cities=len(states), **{s.value: n for s, n in counts.items()},
    )


def list_obligations(*, session: Session, user: User, now: datetime, state: ReportState | None = None, page: int = 1, per_page: int = 50) -> ObligationPage:
    """Obligations newest due first, with per-state counts over the cities the account reads;
    `state` keeps the obligations with at least one city in that state."""
    cities = _visible_cities(scope_for(session, user))
    query = select(ReportingObligation).order_by(ReportingObligation.due_at.desc(), ReportingObligation.id.desc())
    if cities is not None:
        bound = select(ReportingObligationCity.obligation_id).where(ReportingObligationCity.city_code.in_(sorted(cities)))
        query = query.where(ReportingObligation.id.in_(bound))
    summaries = [_summary(o, states_of(session, o, now=now, cities=cities)) for o in session.exec(query)]
    if state is not None:
        summaries = [s for s in summaries if getattr(s, state.value) > 0]
    start = (page - 1) * per_page
    return ObligationPage(items=summaries[start:start + per_page], total=len(summaries), page=page, per_page=per_page)


def obligation_detail(*, session: Session, user: User, obligation_id: int, now: datetime, state: ReportState | None = None, city: str | None = None,
                      page: int = 1, per_page: int = 100) -> ObligationDetail:
    """One obligation's cities (those the account reads), filtered by state and city; 404 when the
    obligation does not exist or binds none of the account's cities."""
    cities = _visible_cities(scope_for(session, user))
    obligation = session.get(ReportingObligation, obligation_id)
    if obligation is None:
        raise NotFound(f"reporting obligation {obligation_id} not found")
    states = states_of(session, obligation, now=now, cities=cities, directory=directory_numbers(session))
    if not states:
        raise NotFound(f"reporting obligation {obligation_id} not found")
    summary = _summary(obligation, states)
    if state is not None:
        states = [s for s in states if s.state == state]
    if city:
        states = [s for s in states if s.city_code == city]
    start = (page - 1) * per_page
    return ObligationDetail(obligation=summary, cities=states[start:start + per_page], total=len(states), page=page, per_page=per_page)


# --------------------------------------------------------------- reports ---

def submit_report(
    *, session: Session, user: User, obligation_id: int, status: ImplementationStatus | str, implementation: str,
    city_numbers: list[str], county_numbers: dict[str, list[str]], at: datetime, city: str | None = None,
) -> CityReport:
    """A city supervisor reports for their own city. A second submission amends the report (its
    version goes up) and keeps the first submission's time, which decides on time / late."""
    scope = scope_for(session, user)
    if scope.role != Role.supervisor or scope.root is None or scope.root.level != RegionLevel.city:
        raise Forbidden("only a city supervisor submits their city's report", field="role")
    own = scope.root.code
    if city and city != own:
        raise Forbidden(f"city: you report for {own}, not {city}", field="city")
    return record_report(session=session, obligation_id=obligation_id, city=own, actor=user.id, status=status, implementation=implementation,
                         city_numbers=city_numbers, county_numbers=county_numbers, at=at)


def record_report(
    *, session: Session, obligation_id: int, city: str, actor: str, status: ImplementationStatus | str, implementation: str,
    city_numbers: list[str], county_numbers: dict[str, list[str]], at: datetime,
) -> CityReport:
    """Validate and store a city's report (the caller has checked who may report for `city`)."""
    own = city
    obligation = session.get(ReportingObligation, obligation_id)
    bound = session.exec(select(ReportingObligationCity).where(
        ReportingObligationCity.obligation_id == obligation_id, ReportingObligationCity.city_code == own)).first() if obligation else None
    if bound is None:
        raise NotFound(f"reporting obligation {obligation_id} not found for city {own}")
    try:
        status = ImplementationStatus(status)
    except ValueError:
        raise Invalid(f"status: one of {', '.join(s.value for s in ImplementationStatus)}", field="status") from None
    implementation = (implementation or "").strip()
    if not implementation:
        raise Invalid("implementation: describe how the notice is implemented", field="implementation")
    if len(implementation) > 10000:
        raise Invalid("implementation: at most 10000 characters", field="implementation")
    numbers = _clean_numbers(city_numbers or [], field="city_numbers")
    if not numbers:
        raise Invalid("city_numbers: give the complaint telephone announced at city level", field="city_numbers")
    counties = set(counties_of(session, own))
    per_county: dict[str, list[str]] = {}
    for code, listed in sorted((county_numbers or {}).items()):
        if code not in counties:
            raise Invalid(f"county_numbers.{code}: not a county of city {own}", field=f"county_numbers.{code}")
        cleaned = _clean_numbers(listed or [], field=f"county_numbers.{code}")
        if cleaned:
            per_county[code] = cleaned
    report = session.exec(select(CityReport).where(CityReport.obligation_id == obligation_id, CityReport.city_code == own)).first()
    content = {"status": status.value, "implementation": implementation, "city_numbers": numbers, "county_numbers": per_county}
    if report is None:
        report = CityReport(obligation_id=obligation_id, city_code=own, submitted_by=actor, submitted_at=at, status=status,
                            implementation=implementation, city_numbers=numbers, county_numbers=per_county)
        session.add(report)
        action = "report_submitted"
        late = at > aware(obligation.due_at)
    else:
        report.status, report.implementation, report.city_numbers, report.county_numbers = status, implementation, numbers, per_county
        report.amended_at, report.version = at, report.version + 1
        action, late = "report_amended", aware(report.submitted_at) > aware(obligation.due_at)
    # A report that arrived stops the overdue notification (a late one was notified already).
    session.execute(update(ReportingObligationCity).where(ReportingObligationCity.id == bound.id).values(overdue_pending=False))
    _event(session, obligation_id=obligation_id, city_code=own, action=action, actor=actor, at=at, data={**content, "late": late})
    session.flush()
    return report


# ------------------------------------------------------------- overdue ---

def notify_overdue(*, session: Session, now: datetime) -> int:
    """Tell the city and the provincial office once per obligation and city that a report is
    past due and missing. Cheap for the sweep: reads (overdue_pending, due_at) by its index.
    Each row is claimed by a conditional UPDATE, so concurrent sweeps notify once. The caller commits."""
    due = list(session.exec(
        select(ReportingObligationCity).where(ReportingObligationCity.overdue_pending == True, ReportingObligationCity.due_at < now)  # noqa: E712
        .order_by(ReportingObligationCity.due_at, ReportingObligationCity.id)
    ))
    if not due:
        return 0
    titles = {o.id: o.title for o in session.exec(select(ReportingObligation).where(ReportingObligation.id.in_({r.obligation_id for r in due})))}
    submitted = set(session.exec(select(CityReport.obligation_id, CityReport.city_code).where(CityReport.obligation_id.in_({r.obligation_id for r in due}))).all())
    regions = _cities(session)
    sent = 0
    for row in due:
        has_report = (row.obligation_id, row.city_code) in submitted
        claim = session.execute(
            update(ReportingObligationCity)
            .where(ReportingObligationCity.id == row.id, ReportingObligationCity.overdue_pending == True)  # noqa: E712
            .values(overdue_pending=False, overdue_notified_at=None if has_report else now)
            .execution_options(synchronize_session=False)
        )
        if claim.rowcount != 1 or has_report:
            continue
        city = regions.get(row.city_code)
        name = f"{city.name_en} ({city.name_zh})" if city else row.city_code
        due_local = aware(row.due_at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        message = f"R23: the report of {name} for “{titles.get(row.obligation_id, row.obligation_id)}” was due {due_local} (Shanghai) and is missing."
        for level, code in (("city", row.city_code), ("province", PROVINCE)):
            session.add(Notification(recipient_level=level, recipient_code=code, kind=OVERDUE_KIND, message=message, created_at=now))
        _event(session, obligation_id=row.obligation_id, city_code=row.city_code, action="overdue_notified", actor="system", at=now)
        sent += 1
    session.flush()
    return sent


# ------------------------------------------------------- directory check ---

def announced_numbers_mismatches(report: CityReport, directory_numbers: dict[str, set[str]], *, counties: Iterable[str] | None = None) -> list[Mismatch]:
    """Compare a city's announced numbers with the public directory's (per region code, usually
    counties; a city code in the mapping checks the city-level numbers too). Numbers compare by
    digits. `counties`, when given, are the city's counties: one without an announced number is
    reported. Pure: no store, no clock."""
    out: list[Mismatch] = []
    announced: dict[str, list[str]] = {code: list(numbers) for code, numbers in (report.county_numbers or {}).items()}
    if report.city_code in directory_numbers:
        announced = {report.city_code: list(report.city_numbers or []), **announced}
    for code in sorted(set(counties or ()) - set(announced)):
        out.append(Mismatch(region_code=code, kind="county_not_reported"))
    for code, numbers in announced.items():
        published = directory_numbers.get(code)
        if not published:
            out.append(Mismatch(region_code=code, kind="no_directory_entry"))
            continue
        published_norm = {normalise_number(n): n for n in published}
        announced_norm = {normalise_number(n): n for n in numbers}
        for norm, number in announced_norm.items():
            if norm not in published_norm:
                out.append(Mismatch(region_code=code, kind="not_in_directory", number=number))
        for norm, number in sorted(published_norm.items()):
            if norm not in announced_norm:
                out.append(Mismatch(region_code=code, kind="not_announced", number=number))
    return out


def directory_numbers(session: Session) -> dict[str, set[str]]:
    """The complaint telephones the public directory (R20) publishes, per county code: what a
    city's announced numbers are checked against."""
    from cases.directory.service import complaint_numbers

    return complaint_numbers(session)


# ------------------------------------------------------------------- CSV ---

CSV_COLUMNS = ["city_code", "city_name_en", "city_name_zh", "due_at", "state", "submitted_at", "late_by_seconds", "status",
               "city_numbers", "county_numbers", "directory_checked", "mismatches", "overdue_notified_at"]


def _csv_safe(value: object) -> str:
    """No spreadsheet formulas from data (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_cell(state: CityState, column: str) -> str:
    value = getattr(state, column)
    if column == "city_numbers":
        return "; ".join(value)
    if column == "county_numbers":
        return "; ".join(f"{code}: {', '.join(numbers)}" for code, numbers in value.items())
    if column == "mismatches":
        return "; ".join(f"{m.region_code} {m.kind}{' ' + m.number if m.number else ''}" for m in value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return f"{value:.0f}"
    return _csv_safe(value)


def detail_csv(detail: ObligationDetail) -> str:
    """The per-city table as CSV: the same rows and values the JSON and the page show."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for state in detail.cities:
        writer.writerow([csv_cell(state, c) if c not in ("city_numbers", "county_numbers", "mismatches") else _csv_safe(csv_cell(state, c)) for c in CSV_COLUMNS])
    return out.getvalue()


SUMMARY_COLUMNS = ["id", "title", "due_at", "cities", "on_time", "late", "missing", "pending"]


def list_csv(page: ObligationPage) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SUMMARY_COLUMNS)
    for item in page.items:
        writer.writerow([_csv_safe(getattr(item, c).isoformat() if c == "due_at" else getattr(item, c)) for c in SUMMARY_COLUMNS])
    return out.getvalue()


def bound_cities(session: Session, obligation_id: int) -> list[str]:
    return list(session.exec(select(ReportingObligationCity.city_code).where(ReportingObligationCity.obligation_id == obligation_id).order_by(ReportingObligationCity.city_code)))


def report_state(session: Session, report: CityReport, *, now: datetime) -> ReportState:
    obligation = session.get(ReportingObligation, report.obligation_id)
    return timeliness(due_at=aware(obligation.due_at), submitted_at=aware(report.submitted_at), now=now)
