"""Isolation observation for arrivals (R6-R9): yellow at once, daily reports, green after 14 days.

Driven by timer rows in the store and the sweep, never by a flow sleeping 14 days:

- ``observation_end``: due 00:00 (Asia/Shanghai) of the day after the last day; ends the
  period -> green when every day is reported and nothing abnormal is open (R9), else audit.
- ``observation_evening``: rolling, due 20:00 each day of the period; a day (or earlier day)
  without a report -> a reminder to the applicant (R8).
- ``observation_morning``: rolling, due 08:30 the next morning; each day still without a
  report becomes an item in the community issuer's queue, and a missed day whose previous
  day was missed too also reaches the community head (R8).

The two rolling timers are one row each (``SlaTimer`` is unique per case and kind): every
firing re-arms the same row for the next instant after ``now`` (a sweep that runs late
catches up in one firing), until the period ends.

A day counts as *missed* once the morning check found it without a report (a
``observation_day_missed`` event); a late report still counts for the end of the period.
Days before the declaration (an arrival declaring the day after arriving) are not *due*:
nobody could report them, so they are never missing; the period still ends 14 days after
arrival (R9).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.codes.claims import mask_name
from cases.errors import Conflict, Invalid, NotFound
from cases.events import record_event
from cases.messages import msg
from cases.models import Applicant, Application, CaseEvent, CaseKind, CaseStatus, DailyReport, Notification, Role, SlaTimer, User
from cases.scope import Scope
from cases.services import dispatch
from cases.services.applications import latest_declaration
from cases.settings import Settings

EVENING = time(20, 0)  # reminder to the applicant
MORNING = time(8, 30)  # the community issuer's queue
END, EVENING_KIND, MORNING_KIND = "observation_end", "observation_evening", "observation_morning"
ROLLING_KINDS = (EVENING_KIND, MORNING_KIND)
# An arrival reports from its declaration on: the flow opening the period may lag behind.
REPORTABLE = (CaseStatus.submitted, CaseStatus.declared, CaseStatus.compared, CaseStatus.observing)


# ----------------------------------------------------------------- period ---

@dataclass(frozen=True)
class Period:
    arrival: date  # day 1
    last_day: date  # day N
    ends_at: datetime  # 00:00 Asia/Shanghai of day N+1
    first_due: date | None = None  # the declaration's day when later than arrival

    def days(self) -> list[date]:
        return [self.arrival + timedelta(days=i) for i in range((self.last_day - self.arrival).days + 1)]

    def due_days(self) -> list[date]:
        """The days a report is owed for: from the declaration on (R8)."""
        first = self.first_due or self.arrival
        return [d for d in self.days() if d >= first]

    def day_number(self, day: date) -> int:
        return (day - self.arrival).days + 1


def observation_window(arrival: date, days: int) -> tuple[date, datetime]:
    """Arrival day is day 1: arriving any time on 1 March ends observation at 00:00 on 15 March."""
    end_day = arrival + timedelta(days=days)
    return end_day - timedelta(days=1), datetime.combine(end_day, time(0, 0), tzinfo=SHANGHAI)


def _arrival_date(session: Session, application: Application) -> date:
    content = latest_declaration(session, application.id).content
    raw = content.get("arrival_date")
    return date.fromisoformat(raw) if raw else application.submitted_at.astimezone(SHANGHAI).date()


def period(session: Session, application: Application, *, settings: Settings) -> Period:
    """The stored end wins once the period is open (a later change of `observation_days` does not move it)."""
    arrival = _arrival_date(session, application)
    declared_on = application.submitted_at.astimezone(SHANGHAI).date()
    first_due = max(arrival, declared_on)
    if application.observation_ends_at is not None:
        ends_at = application.observation_ends_at.astimezone(SHANGHAI)
        return Period(arrival, ends_at.date() - timedelta(days=1), ends_at, first_due)
    last_day, ends_at = observation_window(arrival, settings.observation_days)
    return Period(arrival, last_day, ends_at, first_due)


def _at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, tzinfo=SHANGHAI)


def _last_on_or_before(now: datetime, t: time) -> date:
    """The day whose `t` (Asia/Shanghai) is the latest instant <= now."""
    today = now.astimezone(SHANGHAI).date()
    return today if _at(today, t) <= now else today - timedelta(days=1)


def _first_after(at: datetime, t: time) -> date:
    """The day whose `t` (Asia/Shanghai) is the earliest instant > at."""
    today = at.astimezone(SHANGHAI).date()
    return today if _at(today, t) > at else today + timedelta(days=1)


# ------------------------------------------------------------------ timers ---

def _arm(session: Session, *, application_id: str, kind: str, due_at: datetime) -> None:
    """Create or re-arm the one row of this kind (after the sweep claimed it: pending again, not fired)."""
    timer = session.exec(select(SlaTimer).where(SlaTimer.application_id == application_id, SlaTimer.kind == kind)).first()
    if timer is None:
        session.add(SlaTimer(application_id=application_id, kind=kind, due_at=due_at))
        return
    session.exec(
        update(SlaTimer).where(SlaTimer.id == timer.id).values(due_at=due_at, pending=True, fired_at=None, cancelled_at=None)
    )


def _stop(session: Session, *, application_id: str, kinds: tuple[str, ...], at: datetime) -> None:
    session.exec(
        update(SlaTimer)
        .where(SlaTimer.application_id == application_id, SlaTimer.kind.in_(kinds), SlaTimer.pending == True)  # noqa: E712
        .values(pending=False, cancelled_at=at)
    )


def _rearm_or_stop(session: Session, *, application: Application, kind: str, due_at: datetime, ends_at: datetime, at: datetime) -> None:
    if due_at < ends_at:
        _arm(session, application_id=application.id, kind=kind, due_at=due_at)
    else:
        _stop(session, application_id=application.id, kinds=(kind,), at=at)


def start_observation(*, session: Session, application: Application, at: datetime, settings: Settings) -> None:
    arrival = _arrival_date(session, application)
    last_day, ends_at = observation_window(arrival, settings.observation_days)
    application.observation_ends_at = ends_at
    before = application.status
    application.status = CaseStatus.observing
    session.add(application)
    if session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id, SlaTimer.kind == END)).first() is None:
        session.add(SlaTimer(application_id=application.id, kind=END, due_at=ends_at))
    # The first reminder is the first 20:00 after the period opened; the first queue check the
    # morning after it, so every queue item follows a reminder.
    first_evening = max(arrival, _first_after(at, EVENING))
    if first_evening <= last_day:
        _arm(session, application_id=application.id, kind=EVENING_KIND, due_at=_at(first_evening, EVENING))
        first_morning = _at(first_evening + timedelta(days=1), MORNING)
        if first_morning < ends_at:
            _arm(session, application_id=application.id, kind=MORNING_KIND, due_at=first_morning)
    record_event(session, application_id=application.id, actor="flow:observe", action="observation_started", at=at, before=before, after=application.status, data={"arrival_date": arrival.isoformat(), "last_day": last_day.isoformat(), "ends_at": ends_at.isoformat()})


# ----------------------------------------------------------------- reports ---

def report(*, session: Session, application: Application, day: date, temperature: float, symptoms: list[str], location_confirmed: bool, at: datetime, settings: Settings) -> DailyReport:
    """One report a calendar day (R8); a report for a past day is marked late; abnormal reports
    (fever or symptoms) hold the period until the community records an outcome.

    A second report for the same day raises Conflict (also when two arrive at once: the unique
    constraint decides, and the caller's transaction is rolled back)."""
    if application.kind != CaseKind.arrival or application.status not in REPORTABLE:
        raise Conflict("this case is not in isolation observation")
    p = period(session, application, settings=settings)
    if at >= p.ends_at:
        raise Conflict(f"the observation period ended at {p.ends_at.isoformat()}")
    today = at.astimezone(SHANGHAI).date()
    if day > today:
        raise Invalid("a report cannot be for a future day", field="day")
    if not p.arrival <= day <= p.last_day:
        raise Invalid(f"day must lie in the observation period {p.arrival} to {p.last_day}", field="day")
    if session.exec(select(DailyReport).where(DailyReport.application_id == application.id, DailyReport.day == day)).first():
        raise Conflict(f"a report for {day} exists already")
    abnormal = temperature >= settings.fever_threshold or bool(symptoms)
    row = DailyReport(application_id=application.id, day=day, temperature=temperature, symptoms=list(symptoms), location_confirmed=location_confirmed, abnormal=abnormal, late=day < today, reported_at=at)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a report for {day} exists already") from None
    if abnormal:
        what = ", ".join([f"{temperature:g} °C", *symptoms])
        session.add(Notification(application_id=application.id, recipient_level="issuer", recipient_code=application.community_code, kind="observation_abnormal", message=f"URGENT: {application.reference} reported {what} on {day} (day {p.day_number(day)}); the observation is held until an outcome is recorded (Health reports, /issuer/reports).", created_at=at))
    record_event(session, application_id=application.id, actor="applicant", action="daily_report", at=at, data={"report_id": row.id, "day": day.isoformat(), "day_number": p.day_number(day), "abnormal": abnormal, "late": row.late, "location_confirmed": location_confirmed})
    return row


# What the community can find on an abnormal report (R8): the person is well and observation
# goes on, or the person is sent to a fever clinic and the observation stays held until the
# clinic's result comes back (then "cleared" is recorded, or the case goes to audit at the end).
REPORT_RESULTS: dict[str, tuple[str, str]] = {
    "cleared": ("Cleared: observation continues", "已排除：继续观察"),
    "fever_clinic": ("Referred to a fever clinic: observation held", "已转发热门诊：暂停转码"),
}
ReportResult = Literal["cleared", "fever_clinic"]


def record_outcome(*, session: Session, application: Application, report_id: int, outcome: str, by: str, at: datetime, result: str = "cleared") -> DailyReport:
    """The community records what came of an abnormal report (R8). `outcome` is the note (what
    was found and done), `result` one of REPORT_RESULTS: `cleared` releases the hold,
    `fever_clinic` keeps it (the report stays open until `cleared` is recorded after the clinic)."""
    row = session.get(DailyReport, report_id)
    if row is None or row.application_id != application.id:
        raise NotFound("report not found")
    if result not in REPORT_RESULTS:
        raise Invalid(f"result must be one of: {', '.join(REPORT_RESULTS)}", field="result")
    if not row.abnormal:
        raise Conflict("this report is not abnormal: there is no outcome to record")
    if row.resolved_at is not None:
        raise Conflict(f"an outcome was recorded already at {row.resolved_at.isoformat()}")
    if result == "fever_clinic" and _referral(session, row) is not None:
        raise Conflict("this report was referred to a fever clinic already: record the clinic's result as cleared")
    outcome = (outcome or "").strip()
    if not outcome:
        raise Invalid("the outcome must be described", field="outcome")
    data = {"report_id": row.id, "day": row.day.isoformat(), "outcome": outcome, "result": result}
    if result == "cleared":
        row.resolved_at = at
        session.add(row)
        session.flush()
        data["held"] = bool(open_abnormal(session, application.id))  # by another open report
        record_event(session, application_id=application.id, actor=by, action="observation_abnormal_resolved", at=at, reason=outcome, data=data)
        told = f"Your community recorded the outcome of your report for {row.day}: cleared, the observation continues."
    else:
        data["held"] = True
        record_event(session, application_id=application.id, actor=by, action="observation_abnormal_referred", at=at, reason=outcome, data=data)
        told = f"Your community referred you to a fever clinic after your report for {row.day}; the observation is held until the clinic's result is recorded."
    session.add(Notification(application_id=application.id, recipient_level="applicant", kind="observation_outcome", message=told, created_at=at))
    return row


def _referral(session: Session, row: DailyReport) -> CaseEvent | None:
    for e in _events(session, row.application_id, "observation_abnormal_referred"):
        if e.data.get("report_id") == row.id:
            return e
    return None


# ---------------------------------------------------- abnormal reports read ---

class AbnormalReportView(BaseModel):
    """An abnormal daily report waiting for its community's outcome (R8)."""

    report_id: int
    case_id: str
    reference: str
    case_status: str
    community_code: str
    person: str = Field(description="masked name")
    phone: str = Field(description="masked phone; the full data is read on the staff case page (logged)")
    day: date
    day_number: int
    temperature: float
    symptoms: list[str]
    fever: bool = Field(description="temperature at or above the fever threshold (37.3 °C by default)")
    reported_at: datetime
    late: bool
    referred_at: datetime | None = Field(default=None, description="referred to a fever clinic: the observation stays held")
    referral_note: str | None = None
    may_record: bool = Field(description="the viewer is an issuer of the case's community and may record the outcome")


def _open_reports_query(scope: Scope):
    return (
        select(DailyReport, Application)
        .join(Application, Application.id == DailyReport.application_id)
        .where(DailyReport.abnormal == True, DailyReport.resolved_at == None, scope.case_filter())  # noqa: E711,E712
    )


def may_record_outcome(user: User | None, application: Application) -> bool:
    """Issuers of the case's community record outcomes (the community reports to them, R6/R8)."""
    return user is not None and user.role == Role.issuer and user.region_code is not None and user.region_code == application.community_code


def open_abnormal_reports(session: Session, *, scope: Scope, user: User | None, settings: Settings, limit: int = 500) -> list[AbnormalReportView]:
    """Abnormal reports without a recorded outcome in the viewer's scope, oldest first."""
    rows = list(session.exec(_open_reports_query(scope).order_by(DailyReport.reported_at, DailyReport.id).limit(limit)))
    if not rows:
        return []
    applicants = {a.id: a for a in session.exec(select(Applicant).where(Applicant.id.in_({app.applicant_id for _, app in rows})))}
    referrals: dict[int, CaseEvent] = {}
    for e in session.exec(select(CaseEvent).where(CaseEvent.application_id.in_({app.id for _, app in rows}), CaseEvent.action == "observation_abnormal_referred")):
        referrals[e.data.get("report_id")] = e
    out = []
    for row, app in rows:
        person = applicants.get(app.applicant_id)
        referral = referrals.get(row.id)
        p = period(session, app, settings=settings)
        out.append(AbnormalReportView(
            report_id=row.id, case_id=app.id, reference=app.reference, case_status=getattr(app.status, "value", app.status),
            community_code=app.community_code, person=mask_name(person.name) if person else "", phone=person.phone_masked if person else "",
            day=row.day, day_number=p.day_number(row.day), temperature=row.temperature, symptoms=list(row.symptoms),
            fever=row.temperature >= settings.fever_threshold, reported_at=row.reported_at.astimezone(SHANGHAI), late=row.late,
            referred_at=referral.at.astimezone(SHANGHAI) if referral else None, referral_note=referral.reason if referral else None,
            may_record=may_record_outcome(user, app),
        ))
    return out


def open_abnormal_count(session: Session, *, scope: Scope) -> int:
    """How many abnormal reports in the scope still wait for an outcome (the issuer's nav count)."""
    query = select(func.count()).select_from(DailyReport).join(Application, Application.id == DailyReport.application_id)
    return session.exec(query.where(DailyReport.abnormal == True, DailyReport.resolved_at == None, scope.case_filter())).one()  # noqa: E711,E712


def _reports(session: Session, application_id: str) -> dict[date, DailyReport]:
    return {r.day: r for r in session.exec(select(DailyReport).where(DailyReport.application_id == application_id))}


def missing_days(session: Session, application: Application, *, settings: Settings, until: date) -> list[date]:
    p = period(session, application, settings=settings)
    reported = _reports(session, application.id)
    return [d for d in p.due_days() if d <= until and d not in reported]


def open_abnormal(session: Session, application_id: str) -> list[DailyReport]:
    return list(session.exec(select(DailyReport).where(DailyReport.application_id == application_id, DailyReport.abnormal == True, DailyReport.resolved_at == None).order_by(DailyReport.day)))  # noqa: E711,E712


def _events(session: Session, application_id: str, action: str) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.application_id == application_id, CaseEvent.action == action).order_by(CaseEvent.seq)))


def missed_days(session: Session, application_id: str) -> set[date]:
    """Days the morning check found without a report (whether reported late afterwards or not)."""
    return {date.fromisoformat(e.data["day"]) for e in _events(session, application_id, "observation_day_missed")}


def status(session: Session, application: Application, *, now: datetime, settings: Settings) -> dict[str, Any]:
    """What the applicant and the community see: the period, each day, whether it is held and why."""
    p = period(session, application, settings=settings)
    today = now.astimezone(SHANGHAI).date()
    reports = _reports(session, application.id)
    outcomes = {e.data.get("report_id"): e.data.get("outcome") for e in _events(session, application.id, "observation_abnormal_resolved")}
    referred = {e.data.get("report_id"): e.data.get("outcome") for e in _events(session, application.id, "observation_abnormal_referred")}
    flagged = missed_days(session, application.id)
    days, missing = [], []
    for d in p.days():
        r = reports.get(d)
        if r is not None:
            state = "abnormal" if r.abnormal else "late" if r.late else "reported"
        elif p.first_due is not None and d < p.first_due:
            state = "not_due"  # before the declaration: nobody could report it
        elif d < today:
            state = "missing"
            missing.append(d)
        else:
            state = "upcoming"
        days.append({
            "day": d,
            "day_number": p.day_number(d),
            "status": state,
            "today": d == today,
            "in_issuer_queue": d in flagged,
            "report": None if r is None else {
                "id": r.id,
                "temperature": r.temperature,
                "symptoms": r.symptoms,
                "location_confirmed": r.location_confirmed,
                "reported_at": r.reported_at.astimezone(SHANGHAI),
                "late": r.late,
                "abnormal": r.abnormal,
                "resolved_at": r.resolved_at and r.resolved_at.astimezone(SHANGHAI),
                "outcome": outcomes.get(r.id),
                "referred": referred.get(r.id),  # referred to a fever clinic: held until cleared
            },
        })
    held_by = [r for r in reports.values() if r.abnormal and r.resolved_at is None]
    # Messages (cases.messages) so the pages show them in the reader's language; the API gets the English text.
    why = [
        msg("abnormal report on {day} (day {n}: {what}) was referred to a fever clinic; held until the result is recorded", day=r.day, n=p.day_number(r.day), what=", ".join([f"{r.temperature:g} °C", *r.symptoms]))
        if r.id in referred else
        msg("abnormal report on {day} (day {n}: {what}) awaits the community's outcome", day=r.day, n=p.day_number(r.day), what=", ".join([f"{r.temperature:g} °C", *r.symptoms]))
        for r in sorted(held_by, key=lambda r: r.day)
    ]
    opened = application.observation_ends_at is not None
    state = "ended" if now >= p.ends_at or (opened and application.status != CaseStatus.observing) else "observing" if opened else "opening"
    return {
        "case_id": application.id,
        "reference": application.reference,
        "case_status": application.status,
        "state": state,
        "period": {
            "length_days": len(days),
            "day_1": p.arrival,
            "last_day": p.last_day,
            "ends_at": p.ends_at,
            "ends_on": p.ends_at.date(),
            "countdown_seconds": max(0, int((p.ends_at - now).total_seconds())),
        },
        "days_reported": sum(1 for d in p.days() if d in reports),
        "days_missing": len(missing),
        "missing_days": missing,
        "held": bool(held_by),
        "why": why,
        "green_on_schedule": state != "ended" and not held_by and not missing and not application.red_list,
        "days": days,
    }


# ------------------------------------------------------------------- end ---

def end_observation(*, session: Session, application: Application, at: datetime, settings: Settings) -> None:
    """R9: every day reported and nothing abnormal open -> green; otherwise community audit.
    A red-list comparison hit is never cleared automatically (as in R12): it goes to audit."""
    _stop(session, application_id=application.id, kinds=ROLLING_KINDS, at=at)
    if application.status != CaseStatus.observing:
        return
    missing = missing_days(session, application, settings=settings, until=at.astimezone(SHANGHAI).date())
    held = open_abnormal(session, application.id)
    before = application.status
    if not missing and not held and not application.red_list:
        application.status, application.decision, application.decided_at = CaseStatus.approved, "observation_clear", at
        action, reason = "observation_cleared", None
    else:
        application.status = CaseStatus.awaiting_audit
        action = "observation_needs_audit"
        reason = f"{len(missing)} missing day(s), {len(held)} open abnormal report(s)" + (", red-list comparison hit or declared fever/symptom" if application.red_list else "")
    application.updated_at = at
    session.add(application)
    record_event(session, application_id=application.id, actor="system", action=action, at=at, before=before, after=application.status, reason=reason, data={"missing_days": [d.isoformat() for d in missing], "open_abnormal": [r.id for r in held]})
    dispatch.enqueue(session, application_id=application.id, action="resume", at=at)


def _evening(*, session: Session, application: Application, now: datetime, settings: Settings) -> None:
    """20:00: remind the applicant of today and any earlier day still without a report."""
    p = period(session, application, settings=settings)
    day = min(_last_on_or_before(now, EVENING), p.last_day)
    missing = missing_days(session, application, settings=settings, until=day)
    if missing:
        listed = ", ".join(f"{d} (day {p.day_number(d)})" for d in missing)
        session.add(Notification(application_id=application.id, recipient_level="applicant", kind="observation_reminder", message=f"No daily health report yet for {listed}. Please report now; observation ends {p.ends_at:%Y-%m-%d %H:%M}.", created_at=now))
        record_event(session, application_id=application.id, actor="system", action="observation_reminder", at=now, data={"days": [d.isoformat() for d in missing]})
    _rearm_or_stop(session, application=application, kind=EVENING_KIND, due_at=_at(day + timedelta(days=1), EVENING), ends_at=p.ends_at, at=now)


def _morning(*, session: Session, application: Application, now: datetime, settings: Settings) -> None:
    """08:30: each day up to yesterday still without a report (and not queued before) becomes an
    item in the community issuer's queue; a missed day following a missed day reaches the head."""
    p = period(session, application, settings=settings)
    # The last morning inside the period is that of the last day (it checks the day before);
    # the last day itself is judged at the end. A late sweep never checks past that.
    checked = min(_last_on_or_before(now, MORNING) - timedelta(days=1), p.last_day - timedelta(days=1))
    flagged = missed_days(session, application.id)
    new = [d for d in missing_days(session, application, settings=settings, until=checked) if d not in flagged]
    for d in new:
        flagged.add(d)
        session.add(Notification(application_id=application.id, recipient_level="issuer", recipient_code=application.community_code, kind="observation_missed_day", message=f"{application.reference}: no daily health report for {d} (day {p.day_number(d)} of {len(p.days())}).", created_at=now))
        record_event(session, application_id=application.id, actor="system", action="observation_day_missed", at=now, data={"day": d.isoformat(), "day_number": p.day_number(d)})
        if d - timedelta(days=1) in flagged:
            run = [d]
            while run[0] - timedelta(days=1) in flagged:
                run.insert(0, run[0] - timedelta(days=1))
            session.add(Notification(application_id=application.id, recipient_level="community_head", recipient_code=application.community_code, kind="observation_missed_consecutive", message=f"{application.reference}: {len(run)} consecutive days without a daily health report ({run[0]} to {run[-1]}).", created_at=now))
            record_event(session, application_id=application.id, actor="system", action="observation_missed_escalated", at=now, data={"days": [x.isoformat() for x in run], "level": "community_head"})
    _rearm_or_stop(session, application=application, kind=MORNING_KIND, due_at=_at(checked + timedelta(days=2), MORNING), ends_at=p.ends_at, at=now)


def fire_timer(*, session: Session, application: Application, timer: SlaTimer, now: datetime, settings: Settings) -> None:
    """The sweep hands every `observation*` timer here (already claimed: pending False, fired_at now)."""
    if timer.kind == END:
        end_observation(session=session, application=application, at=timer.due_at, settings=settings)
    elif application.status != CaseStatus.observing:
        return  # the period is over: the rolling timer stays fired and is not re-armed
    elif timer.kind == EVENING_KIND:
        _evening(session=session, application=application, now=now, settings=settings)
    elif timer.kind == MORNING_KIND:
        _morning(session=session, application=application, now=now, settings=settings)
