"""Isolation observation for arrivals (R6-R9): yellow at once, daily reports, green after 14 days.

Driven by a timer row (`observation_end`) and the sweep, never by a flow sleeping 14 days."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.errors import Conflict, Invalid
from cases.events import record_event
from cases.models import Application, CaseStatus, DailyReport, Notification, SlaTimer
from cases.services import dispatch
from cases.services.applications import latest_declaration
from cases.settings import Settings


def observation_window(arrival: date, days: int) -> tuple[date, datetime]:
    """Arrival day is day 1: arriving any time on 1 March ends observation at 00:00 on 15 March."""
    end_day = arrival + timedelta(days=days)
    return end_day - timedelta(days=1), datetime.combine(end_day, time(0, 0), tzinfo=SHANGHAI)


def _arrival_date(session: Session, application: Application) -> date:
    content = latest_declaration(session, application.id).content
    raw = content.get("arrival_date")
    return date.fromisoformat(raw) if raw else application.submitted_at.astimezone(SHANGHAI).date()


def start_observation(*, session: Session, application: Application, at: datetime, settings: Settings) -> None:
    arrival = _arrival_date(session, application)
    _, ends_at = observation_window(arrival, settings.observation_days)
    application.observation_ends_at = ends_at
    before = application.status
    application.status = CaseStatus.observing
    session.add(application)
    if session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id, SlaTimer.kind == "observation_end")).first() is None:
        session.add(SlaTimer(application_id=application.id, kind="observation_end", due_at=ends_at))
    record_event(session, application_id=application.id, actor="flow:observe", action="observation_started", at=at, before=before, after=application.status, data={"arrival_date": arrival.isoformat(), "ends_at": ends_at.isoformat()})


def report(*, session: Session, application: Application, day: date, temperature: float, symptoms: list[str], location_confirmed: bool, at: datetime, settings: Settings) -> DailyReport:
    """One report a calendar day (R8); a report for a past day is marked late; abnormal reports
    (fever or symptoms) hold the period until the community records an outcome."""
    if application.status != CaseStatus.observing:
        raise Conflict("this case is not in isolation observation")
    arrival = _arrival_date(session, application)
    last_day, _ = observation_window(arrival, settings.observation_days)
    today = at.astimezone(SHANGHAI).date()
    if day > today:
        raise Invalid("a report cannot be for a future day", field="day")
    if not arrival <= day <= last_day:
        raise Invalid(f"day must lie in the observation period {arrival} to {last_day}", field="day")
    if session.exec(select(DailyReport).where(DailyReport.application_id == application.id, DailyReport.day == day)).first():
        raise Conflict(f"a report for {day} exists already")
    abnormal = temperature >= settings.fever_threshold or bool(symptoms)
    row = DailyReport(application_id=application.id, day=day, temperature=temperature, symptoms=symptoms, location_confirmed=location_confirmed, abnormal=abnormal, late=day < today, reported_at=at)
    session.add(row)
    if abnormal:
        session.add(Notification(application_id=application.id, recipient_level="issuer", recipient_code=application.community_code, kind="observation_abnormal", message=f"URGENT: {application.reference} reported {temperature} °C {', '.join(symptoms)} on {day}.", created_at=at))
    record_event(session, application_id=application.id, actor="applicant", action="daily_report", at=at, data={"day": day.isoformat(), "abnormal": abnormal, "late": row.late})
    return row


def missing_days(session: Session, application: Application, *, settings: Settings, until: date) -> list[date]:
    arrival = _arrival_date(session, application)
    last_day, _ = observation_window(arrival, settings.observation_days)
    reported = {r.day for r in session.exec(select(DailyReport).where(DailyReport.application_id == application.id))}
    days = [arrival + timedelta(days=i) for i in range((min(last_day, until) - arrival).days + 1)]
    return [d for d in days if d not in reported]


def end_observation(*, session: Session, application: Application, at: datetime, settings: Settings) -> None:
    """R9: every day reported and nothing abnormal open -> green; otherwise community audit."""
    if application.status != CaseStatus.observing:
        return
    missing = missing_days(session, application, settings=settings, until=at.astimezone(SHANGHAI).date())
    open_abnormal = session.exec(select(DailyReport).where(DailyReport.application_id == application.id, DailyReport.abnormal == True, DailyReport.resolved_at == None)).all()  # noqa: E711,E712
    before = application.status
    if not missing and not open_abnormal:
        application.status, application.decision, application.decided_at = CaseStatus.approved, "observation_clear", at
        action, reason = "observation_cleared", None
    else:
        application.status = CaseStatus.awaiting_audit
        action = "observation_needs_audit"
        reason = f"{len(missing)} missing day(s), {len(open_abnormal)} open abnormal report(s)"
    application.updated_at = at
    session.add(application)
    record_event(session, application_id=application.id, actor="system", action=action, at=at, before=before, after=application.status, reason=reason)
    dispatch.enqueue(session, application_id=application.id, action="resume", at=at)


def fire_timer(*, session: Session, application: Application, timer: SlaTimer, now: datetime, settings: Settings) -> None:
    """The sweep hands every `observation*` timer here."""
    if timer.kind == "observation_end":
        end_observation(session=session, application=application, at=timer.due_at, settings=settings)
