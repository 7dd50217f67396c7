"""SLA clocks and timers in the store; the sweep fires what is due (R10-R13).

The rules (calendar, due times, ladder, attribution) live in the pure `sla` package;
this module only loads their inputs and writes their consequences.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

import sla
from cases.events import record_event
from cases.models import (
    Application,
    AuditTask,
    CalendarOverride,
    CaseStatus,
    Notification,
    ProvincialAuditItem,
    ResponsibilityRecord,
    SlaTimer,
    User,
)
from cases.settings import Settings

LADDER_KINDS = ("reminder_50", "warn_80", "breach", "city_1wd", "province_2wd")
WAITING = (CaseStatus.awaiting_audit,)


def calendar(session: Session, settings: Settings) -> sla.WorkingCalendar:
    overrides = {row.day: row.is_workday for row in session.exec(select(CalendarOverride))}
    return sla.WorkingCalendar(hours=sla.WorkingHours.parse(settings.working_hours), overrides=overrides)


def policy(settings: Settings) -> sla.SlaPolicy:
    return sla.SlaPolicy(supervisor_window_working_hours=settings.supervisor_window_working_hours)


def channel_of(application: Application) -> sla.Channel:
    return sla.Channel.COUNTER if application.channel == "counter" else sla.Channel.ONLINE


def start_clock(*, session: Session, application: Application, at: datetime, settings: Settings) -> None:
    """Start the audit clock once; a restarted flow or a reassignment keeps the original clock."""
    if application.sla_started_at is not None:
        return
    cal = calendar(session, settings)
    # A counter case not decided in the visit is, by definition, one that needs verification (R10).
    clock = sla.start_clock(
        started_at=at,
        channel=channel_of(application),
        calendar=cal,
        needs_verification=True,
        policy=policy(settings),
    )
    application.sla_started_at = clock.started_at
    application.sla_due_at = clock.due_at
    session.add(application)
    _schedule_ladder(session=session, application=application, cal=cal)
    record_event(
        session,
        application_id=application.id,
        actor="system",
        action="sla_started",
        at=at,
        data={"due_at": clock.due_at.isoformat(), "channel": clock.channel.value},
    )


def _set_timer(session: Session, *, application_id: str, kind: str, due_at: datetime, level: str | None) -> None:
    timer = session.exec(select(SlaTimer).where(SlaTimer.application_id == application_id, SlaTimer.kind == kind)).first()
    if timer is None:
        session.add(SlaTimer(application_id=application_id, kind=kind, level=level, due_at=due_at))
    elif timer.fired_at is None:
        timer.due_at, timer.pending, timer.cancelled_at, timer.level = due_at, True, None, level
        session.add(timer)


def _schedule_ladder(*, session: Session, application: Application, cal: sla.WorkingCalendar) -> None:
    steps = sla.build_ladder(
        started_at=application.sla_started_at,
        due_at=application.sla_due_at,
        channel=channel_of(application),
        calendar=cal,
        paused_total=timedelta(seconds=application.sla_paused_seconds),
    )
    for step in steps:
        _set_timer(session, application_id=application.id, kind=step.name, due_at=step.at, level=step.level.value)


def cancel_timers(session: Session, *, application_id: str, at: datetime, kinds: tuple[str, ...] | None = None) -> int:
    stmt = (
        update(SlaTimer)
        .where(SlaTimer.application_id == application_id, SlaTimer.pending == True)  # noqa: E712
        .values(pending=False, cancelled_at=at)
    )
    if kinds:
        stmt = stmt.where(SlaTimer.kind.in_(kinds))
    return session.exec(stmt).rowcount


def pause_clock(*, session: Session, application: Application, at: datetime, reason: str, by: str) -> None:
    """Only a wait for the applicant's named missing item pauses the clock (SLA issue; R19 does not)."""
    if application.sla_paused_at is not None:
        return
    application.sla_paused_at = at
    session.add(application)
    cancel_timers(session, application_id=application.id, at=at, kinds=LADDER_KINDS)
    record_event(session, application_id=application.id, actor=by, action="sla_paused", at=at, reason=reason)


def resume_clock(*, session: Session, application: Application, at: datetime, settings: Settings, by: str) -> None:
    if application.sla_paused_at is None:
        return
    cal = calendar(session, settings)
    clock = sla.Clock(
        channel=channel_of(application),
        started_at=application.sla_started_at,
        due_at=application.sla_due_at,
        paused_at=application.sla_paused_at,
        paused_total=timedelta(seconds=application.sla_paused_seconds),
    )
    clock = sla.resume(clock, at=at, calendar=cal)
    application.sla_due_at = clock.due_at
    application.sla_paused_at = None
    application.sla_paused_seconds = clock.paused_total.total_seconds()
    session.add(application)
    _schedule_ladder(session=session, application=application, cal=cal)
    if application.breached_at is not None and not application.red_list:
        # An auto-issue that came due while the applicant owed an item did nothing: re-arm it,
        # giving supervisors their window again from the moment the case is workable (R12).
        auto = session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id, SlaTimer.kind == "auto_issue")).first()
        if auto is not None and auto.fired_at is not None:
            auto.due_at, auto.pending, auto.fired_at, auto.cancelled_at = sla.auto_issue_at(breach_at=at, calendar=cal, policy=policy(settings)), True, None, None
            session.add(auto)
    record_event(
        session, application_id=application.id, actor=by, action="sla_resumed", at=at, data={"due_at": clock.due_at.isoformat()}
    )


# ------------------------------------------------------------------ sweep ---

def sweep(*, session: Session, now: datetime, settings: Settings, batch: int = 500) -> dict[str, int]:
    """Fire every due timer once, in batches of one transaction each. Cost grows with the
    timers due (index on pending, due_at), not with the cases open.

    Safe with concurrent sweepers and with issuers deciding at the same moment: on
    PostgreSQL the batch locks the *cases* of its timers (``FOR UPDATE OF application
    SKIP LOCKED``), so one case's timers fire in one transaction at a time and in due order
    (its event log is an append-only sequence), and a case another transaction holds is
    left for the next sweep instead of deadlocking. Each timer is then claimed by a
    conditional update, so it fires once even on SQLite.

    A sweep that was down catches up in due order: when a fired timer schedules another
    that is already due (a breach's auto-issue), the rest of that case's timers wait for a
    fresh read, so the auto-issue decides the case before a later escalation step fires."""
    fired: dict[str, int] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        query = (
            select(SlaTimer)
            .where(SlaTimer.pending == True, SlaTimer.due_at <= now)  # noqa: E712
            .order_by(SlaTimer.due_at, SlaTimer.id)
            .limit(batch)
        )
        if postgres:
            query = query.join(Application, Application.id == SlaTimer.application_id).with_for_update(of=Application, skip_locked=True)
        timers = list(session.exec(query))
        if not timers:
            break
        cal = calendar(session, settings)
        reread: set[str] = set()  # cases whose firing scheduled a timer that is already due
        claimed_any = False
        for timer in timers:
            if timer.application_id in reread:
                continue
            claimed = session.exec(
                update(SlaTimer)
                .where(SlaTimer.id == timer.id, SlaTimer.pending == True)  # noqa: E712
                .values(pending=False, fired_at=now)
                # No scan of the session's identity map per timer (quadratic in the batch);
                # the claimed object is updated by hand below.
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                claimed_any = True
                set_committed_value(timer, "pending", False)  # what the row now holds; no second UPDATE
                set_committed_value(timer, "fired_at", now)
                scheduled = _fire(session=session, timer=timer, now=now, cal=cal, settings=settings)
                fired[timer.kind] = fired.get(timer.kind, 0) + 1
                if scheduled is not None and scheduled <= now:
                    reread.add(timer.application_id)
        session.commit()
        if not claimed_any or (len(timers) < batch and not reread):
            break
    return fired


def _notify(session: Session, *, application: Application, level: str, kind: str, message: str, at: datetime) -> None:
    code = {
        "issuer": application.community_code,
        "community_head": application.community_code,
        "county": application.county_code,
        "city": application.city_code,
        "province": "370000",
    }.get(level, application.community_code)
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    if task is not None and task.holder_kind == "unit" and level in ("issuer", "community_head"):
        code = task.holder_code
    session.add(Notification(application_id=application.id, recipient_level=level, recipient_code=code, kind=kind, message=message, created_at=at))


def _fire(*, session: Session, timer: SlaTimer, now: datetime, cal: sla.WorkingCalendar, settings: Settings) -> datetime | None:
    """Act on one claimed timer; returns the due time of a timer it scheduled, if any."""
    # Read the case afresh: a session kept across sweeps must not decide on a stale status.
    application = session.get(Application, timer.application_id, populate_existing=True)
    if timer.kind.startswith("observation"):
        from cases.services.observation import fire_timer

        fire_timer(session=session, application=application, timer=timer, now=now, settings=settings)
        return None
    if application.status not in WAITING:
        return None  # decided (or paused) meanwhile: nothing to escalate
    if timer.kind == "auto_issue":
        _auto_issue(session=session, application=application, timer=timer, now=now)
        return None
    message = {
        "reminder_50": f"Half the SLA of {application.reference} has passed; due {application.sla_due_at.astimezone(cal.tz):%Y-%m-%d %H:%M}.",
        "warn_80": f"{application.reference} is at 80 % of its SLA and still undecided.",
        "breach": f"{application.reference} breached its SLA at {timer.due_at.astimezone(cal.tz):%Y-%m-%d %H:%M} without a decision.",
        "city_1wd": f"{application.reference} is one working day past its SLA.",
        "province_2wd": f"{application.reference} is two working days past its SLA.",
    }.get(timer.kind, f"{application.reference}: {timer.kind}")
    _notify(session, application=application, level=timer.level or "county", kind=f"sla_{timer.kind}", message=message, at=now)
    record_event(
        session,
        application_id=application.id,
        actor="system",
        action=f"sla_{timer.kind}",
        at=now,
        data={"due_at": timer.due_at.isoformat(), "level": timer.level},
    )
    if timer.kind == "breach":
        return _breach(session=session, application=application, breach_at=timer.due_at, now=now, cal=cal, settings=settings)
    return None


def _breach(*, session: Session, application: Application, breach_at: datetime, now: datetime, cal, settings: Settings) -> datetime | None:
    """R12/R13: record who is responsible (true breach time, even when the sweep runs late)
    and schedule the automatic green pass unless the comparison hit a red list."""
    application.breached_at = breach_at
    session.add(application)
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    holder_kind, holder_code = (task.holder_kind, task.holder_code) if task else ("community", application.community_code)
    holdings = [sla.Holding(holder_kind=holder_kind, holder_code=holder_code, start=application.sla_started_at, end=None)]
    owned = sla.ownership(holdings=holdings, until=breach_at, calendar=cal, channel=channel_of(application))
    # Time the case waited for the applicant's missing item (a paused clock) is not the
    # holder's: with the one holding recorded here, it comes off that holding's time.
    paused = timedelta(seconds=application.sla_paused_seconds)
    owned = [(k, c, max(d - paused, timedelta(0))) for k, c, d in owned]
    # Usernames throughout (the record is read by people): the issuer who claimed the
    # case, else every issuer registered for the holder.
    claimed = session.get(User, task.claimed_by) if task and task.claimed_by else None
    if claimed is not None:
        issuers = [claimed.username]
    else:
        scope = User.unit_code if holder_kind == "unit" else User.region_code
        issuers = sorted(u.username for u in session.exec(select(User).where(User.role == "issuer", scope == holder_code)))
    if session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first() is None:
        session.add(
            ResponsibilityRecord(
                application_id=application.id,
                responsible_kind=holder_kind,
                responsible_code=holder_code,
                issuers=issuers,
                ownership=[{"kind": k, "code": c, "seconds": d.total_seconds()} for k, c, d in owned],
                due_at=application.sla_due_at,
                breach_at=breach_at,
                created_at=now,
            )
        )
        session.add(
            ProvincialAuditItem(
                kind="breach",
                application_id=application.id,
                region_code=holder_code,
                summary=f"{application.reference}: no decision by {breach_at.astimezone(cal.tz):%Y-%m-%d %H:%M}; held by {holder_kind} {holder_code}",
                created_at=now,
            )
        )
    if application.red_list:
        record_event(session, application_id=application.id, actor="system", action="auto_issue_withheld", at=now, reason="red-list comparison hit: escalates instead (R12)")
        return None
    at = sla.auto_issue_at(breach_at=breach_at, calendar=cal, policy=policy(settings))
    _set_timer(session, application_id=application.id, kind="auto_issue", due_at=at, level=None)
    record_event(session, application_id=application.id, actor="system", action="auto_issue_scheduled", at=now, data={"at": at.isoformat(), "latest": sla.auto_issue_by(breach_at=breach_at).isoformat()})
    return at


def _auto_issue(*, session: Session, application: Application, timer: SlaTimer, now: datetime) -> None:
    """R12: no opinion after the timeout -> the system decides green itself; the flow issues it."""
    from cases.services.audit import system_decision

    # The decision closes the responsibility record (outcome, delay) and asks the flow to resume.
    system_decision(session=session, application=application, at=now, scheduled_for=timer.due_at)
