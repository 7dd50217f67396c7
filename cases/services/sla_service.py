"""SLA clocks and timers in the store; the sweep fires what is due (R10-R13).

The rules (calendar, due times, ladder, attribution) live in the pure `sla` package;
this module only loads their inputs and writes their consequences.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

import sla
from cases.events import chain_heads, record_event
from cases.services import oversight
from cases.models import (
    Application,
    AuditTask,
    CalendarOverride,
    CalendarYear,
    CaseStatus,
    Notification,
    Region,
    ResponsibilityRecord,
    SlaTimer,
    User,
)
from cases.settings import Settings

LADDER_KINDS = ("reminder_50", "warn_80", "breach", "city_1wd", "province_2wd")
WAITING = (CaseStatus.awaiting_audit,)


def calendar(session: Session, settings: Settings) -> sla.WorkingCalendar:
    overrides = {row.day: row.is_workday for row in session.exec(select(CalendarOverride))}
    official = session.exec(select(CalendarYear.year).where(CalendarYear.imported_at != None)).all()  # noqa: E711
    return sla.WorkingCalendar(hours=sla.WorkingHours.parse(settings.working_hours), overrides=overrides, official_years=official)


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
    # A due time in a year without an official schedule is provisional, never an error.
    application.sla_provisional = due_is_provisional(application, cal)
    session.add(application)
    _schedule_ladder(session=session, application=application, cal=cal)
    data = {"due_at": clock.due_at.isoformat(), "channel": clock.channel.value}
    if application.sla_provisional:
        data["provisional"] = True
    record_event(session, application_id=application.id, actor="system", action="sla_started", at=at, data=data)


def _set_timer(session: Session, *, application_id: str, kind: str, due_at: datetime, level: str | None, provisional: bool = False) -> None:
    timer = session.exec(select(SlaTimer).where(SlaTimer.application_id == application_id, SlaTimer.kind == kind)).first()
    _put_timer(session, timer=timer, application_id=application_id, kind=kind, due_at=due_at, level=level, provisional=provisional)


def _put_timer(
    session: Session, *, timer: SlaTimer | None, application_id: str, kind: str, due_at: datetime, level: str | None, provisional: bool = False
) -> SlaTimer:
    """Create the timer, or re-arm `timer` (the row of this case and kind) unless it fired."""
    if timer is None:
        timer = SlaTimer(application_id=application_id, kind=kind, level=level, due_at=due_at, provisional=provisional)
        session.add(timer)
    elif timer.fired_at is None:
        timer.due_at, timer.pending, timer.cancelled_at, timer.level = due_at, True, None, level
        timer.provisional = provisional
        session.add(timer)
    return timer


def due_is_provisional(application: Application, cal: sla.WorkingCalendar) -> bool:
    """Whether the case's due time depends on a year without an official schedule. A
    counter case's due time counts clock hours (R10): it never does."""
    return _step_is_provisional(application, cal, application.sla_due_at)


def _step_is_provisional(application: Application, cal: sla.WorkingCalendar, at: datetime) -> bool:
    if channel_of(application) is sla.Channel.ONLINE:
        return cal.is_provisional_between(application.sla_started_at, at)
    # Counter: only the steps after the due time count working days (the overdue rungs).
    return at > application.sla_due_at and cal.is_provisional_between(application.sla_due_at, at)


def _schedule_ladder(*, session: Session, application: Application, cal: sla.WorkingCalendar) -> None:
    steps = sla.build_ladder(
        started_at=application.sla_started_at,
        due_at=application.sla_due_at,
        channel=channel_of(application),
        calendar=cal,
        paused_total=timedelta(seconds=application.sla_paused_seconds),
    )
    # One read of the case's timers for the whole ladder (none yet when the clock first starts).
    existing = {t.kind: t for t in session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id))}
    for step in steps:
        provisional = _step_is_provisional(application, cal, step.at)
        _put_timer(session, timer=existing.get(step.name), application_id=application.id, kind=step.name, due_at=step.at, level=step.level.value, provisional=provisional)


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
    application.sla_provisional = due_is_provisional(application, cal)
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
            auto.provisional = cal.is_provisional_between(at, auto.due_at)
            session.add(auto)
    record_event(
        session, application_id=application.id, actor=by, action="sla_resumed", at=at, data={"due_at": clock.due_at.isoformat()}
    )


# ------------------------------------------------------------------ sweep ---

# The timers whose firing is worth telling the world outside the store (tasks/sla_events.py
# turns them into Prefect events); observation timers are R8/R9's and stay in the store.
OBSERVED_KINDS = frozenset(LADDER_KINDS) | {"auto_issue"}


@dataclass(frozen=True)
class SlaFiring:
    """What one fired SLA timer did, as plain data: enough for an event about the case without
    another read of the store, and no personal data (codes, the case number, the holder)."""

    kind: str  # reminder_50 | warn_80 | breach | city_1wd | province_2wd | auto_issue
    level: str | None  # who the ladder step notified (issuer ... province)
    due_at: datetime
    fired_at: datetime
    case_id: str
    reference: str
    case_kind: str
    channel: str
    red_list: bool
    community_code: str
    county_code: str
    city_code: str
    province_code: str | None  # the city's parent in the region tree
    unit_code: str | None
    flow_run_id: str | None
    region_names: dict[str, str] = field(default_factory=dict)  # code -> English name, for the region tree above
    # A breach (R13): the community or unit that held the case; and R12's automatic pass, if scheduled.
    responsible_kind: str | None = None
    responsible_code: str | None = None
    auto_issue_at: datetime | None = None


def sweep(*, session: Session, now: datetime, settings: Settings, batch: int = 500, fired_out: list[SlaFiring] | None = None) -> dict[str, int]:
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
    fresh read, so the auto-issue decides the case before a later escalation step fires.

    A batch costs a handful of statements, not several per timer: the first timer of each
    case is claimed in one UPDATE, the cases, audit tasks and event-chain heads are read
    once, and the events and notifications go out as multi-row INSERTs at commit. A
    case's later timers in the same batch (a sweep catching up) are claimed one by one
    after the earlier ones fired, since firing one may cancel the next (a decision does).

    `fired_out`, when given, receives an `SlaFiring` for each ladder step, breach and
    auto-issue that acted, once its batch has committed (never for a rolled-back one); it
    costs one more read per batch (the regions of the cases that fired)."""
    from cases.services.calendar_service import notify_missing_schedule

    # From 1 November, the provincial office hears once that next year's schedule is missing.
    if notify_missing_schedule(session=session, now=now, settings=settings):
        session.commit()
    # R23: a municipal report past its due time and missing is notified once (one indexed read).
    from cases.reporting.service import notify_overdue

    if notify_overdue(session=session, now=now):
        session.commit()
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
        claimed_any, reread = _fire_batch(session=session, timers=timers, now=now, cal=cal, settings=settings, fired=fired, fired_out=fired_out)
        if not claimed_any or (len(timers) < batch and not reread):
            break
    return fired


def _fire_batch(
    *,
    session: Session,
    timers: list[SlaTimer],
    now: datetime,
    cal: sla.WorkingCalendar,
    settings: Settings,
    fired: dict[str, int],
    fired_out: list[SlaFiring] | None = None,
) -> tuple[bool, set[str]]:
    """Claim and fire one batch in one transaction; returns whether any timer was claimed and
    the cases put aside for a fresh read. What it reads is only referenced until it returns,
    so objects it created (a new auto-issue timer) are read afresh by the next batch."""
    first: dict[str, SlaTimer] = {}  # each case's earliest timer of the batch
    for timer in timers:
        first.setdefault(timer.application_id, timer)
    claimed = _claim(session, [t.id for t in first.values()], now=now)
    cases = sorted(case for case, timer in first.items() if timer.id in claimed)
    for case in cases:
        _claimed(first[case], now)
    applications: dict[str, Application] = {}
    tasks: dict[str, AuditTask] = {}
    if cases:
        # Read the cases afresh: a session kept across sweeps must not decide on a stale status.
        fresh = select(Application).where(Application.id.in_(cases)).execution_options(populate_existing=True)
        applications = {a.id: a for a in session.exec(fresh)}
        tasks = {t.application_id: t for t in session.exec(select(AuditTask).where(AuditTask.application_id.in_(cases)))}
    known = _BreachInputs.load(session, cases=[c for c in cases if first[c].kind == "breach"], applications=applications, tasks=tasks)
    reread: set[str] = set()  # cases whose firing scheduled a timer that is already due
    claimed_any = bool(claimed)
    acted: list[tuple[SlaTimer, Application, AuditTask | None, datetime | None]] = []  # for `fired_out`
    with chain_heads(session, cases):
        for timer in timers:
            case = timer.application_id
            if case in reread:
                continue
            if timer is first[case]:
                if timer.id not in claimed:
                    continue
                application, task, inputs = applications[case], tasks.get(case), known
            else:
                if not _claim(session, [timer.id], now=now):
                    continue  # cancelled meanwhile, e.g. by the decision of an earlier timer
                _claimed(timer, now)
                application = session.get(Application, case, populate_existing=True)
                task = session.exec(select(AuditTask).where(AuditTask.application_id == case)).first()
                inputs = None
            claimed_any = True
            did, scheduled = _fire(session=session, timer=timer, application=application, task=task, known=inputs, now=now, cal=cal, settings=settings)
            fired[timer.kind] = fired.get(timer.kind, 0) + 1
            if fired_out is not None and did and timer.kind in OBSERVED_KINDS:
                acted.append((timer, application, task, scheduled))
            if scheduled is not None and scheduled <= now:
                reread.add(case)
        firings = _firings(session, acted, now=now) if acted else []
        session.commit()
    if fired_out is not None:
        fired_out.extend(firings)  # only what this committed batch did
    return claimed_any, reread


def _firings(session: Session, acted: list[tuple[SlaTimer, Application, AuditTask | None, datetime | None]], *, now: datetime) -> list[SlaFiring]:
    """The batch's firings as plain data. One extra read: the cases' regions and their cities'
    parents (the province comes from the tree, never from a code prefix), with their names."""
    codes = sorted({code for _, a, _, _ in acted for code in (a.community_code, a.county_code, a.city_code)})
    cities = sorted({a.city_code for _, a, _, _ in acted})
    parents = select(Region.parent_code).where(Region.code.in_(cities))
    with session.no_autoflush:  # a read of unchanged rows: the batch's writes still go out together at commit
        regions = {r.code: r for r in session.exec(select(Region).where(or_(Region.code.in_(codes), Region.code.in_(parents))))}
    names = {code: r.name_en for code, r in regions.items()}
    out = []
    for timer, application, task, scheduled in acted:
        city = regions.get(application.city_code)
        province = city.parent_code if city is not None else None
        breach = timer.kind == "breach"
        holder = _holder(application, task) if breach else (None, None)
        out.append(
            SlaFiring(
                kind=timer.kind,
                level=timer.level,
                due_at=timer.due_at,
                fired_at=now,
                case_id=application.id,
                reference=application.reference,
                case_kind=getattr(application.kind, "value", application.kind),
                channel=getattr(application.channel, "value", application.channel),
                red_list=application.red_list,
                community_code=application.community_code,
                county_code=application.county_code,
                city_code=application.city_code,
                province_code=province,
                unit_code=application.unit_code,
                flow_run_id=application.flow_run_id,
                region_names={c: names[c] for c in (application.community_code, application.county_code, application.city_code, province) if c in names},
                responsible_kind=holder[0],
                responsible_code=holder[1],
                auto_issue_at=scheduled if breach else None,
            )
        )
    return out


def _claim(session: Session, ids: list[int], *, now: datetime) -> set[int]:
    """Claim the still-pending timers among `ids`; returns the ids this transaction won."""
    if not ids:
        return set()
    return set(
        session.exec(
            update(SlaTimer)
            .where(SlaTimer.id.in_(ids), SlaTimer.pending == True)  # noqa: E712
            .values(pending=False, fired_at=now)
            .returning(SlaTimer.id),
            # No scan of the session's identity map for objects to synchronise;
            # the sweep updates the claimed ones by hand (`_claimed`).
            execution_options={"synchronize_session": False},
        ).scalars()
    )


def _claimed(timer: SlaTimer, now: datetime) -> None:
    set_committed_value(timer, "pending", False)  # what the row now holds; no second UPDATE
    set_committed_value(timer, "fired_at", now)


@dataclass
class _BreachInputs:
    """What `_breach` looks up, read once for a batch's breaches instead of three SELECTs per
    breach (each of which would also flush the batch so far)."""

    cases: set[str] = field(default_factory=set)  # the cases read here
    recorded: set[str] = field(default_factory=set)  # ... that have a responsibility record
    auto_issue: dict[str, SlaTimer] = field(default_factory=dict)  # ... their auto_issue row, if any
    issuers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (unit|region, code) -> usernames

    @classmethod
    def load(cls, session: Session, *, cases: list[str], applications: dict[str, Application], tasks: dict[str, AuditTask]) -> _BreachInputs:
        known = cls(cases=set(cases))
        if not cases:
            return known
        known.recorded = set(session.exec(select(ResponsibilityRecord.application_id).where(ResponsibilityRecord.application_id.in_(cases))))
        known.auto_issue = {t.application_id: t for t in session.exec(select(SlaTimer).where(SlaTimer.application_id.in_(cases), SlaTimer.kind == "auto_issue"))}
        claimers = sorted({t.claimed_by for c in cases if (t := tasks.get(c)) is not None and t.claimed_by})
        if claimers:
            list(session.exec(select(User).where(User.id.in_(claimers))))  # into the identity map: `session.get` then reads no row
        holders = {_holder(applications[c], tasks.get(c)) for c in cases}
        units = sorted(code for kind, code in holders if kind == "unit")
        regions = sorted(code for kind, code in holders if kind != "unit")
        found = list(session.exec(select(User).where(User.role == "issuer", or_(User.unit_code.in_(units), User.region_code.in_(regions)))))
        for kind, code in holders:
            scope = "unit" if kind == "unit" else "region"
            known.issuers[(scope, code)] = sorted(u.username for u in found if (u.unit_code if scope == "unit" else u.region_code) == code)
        return known


def _holder(application: Application, task: AuditTask | None) -> tuple[str, str]:
    return (task.holder_kind, task.holder_code) if task else ("community", application.community_code)


def _notify(session: Session, *, application: Application, task: AuditTask | None, level: str, kind: str, message: str, at: datetime) -> None:
    code = {
        "issuer": application.community_code,
        "community_head": application.community_code,
        "county": application.county_code,
        "city": application.city_code,
        "province": "370000",
    }.get(level, application.community_code)
    if task is not None and task.holder_kind == "unit" and level in ("issuer", "community_head"):
        code = task.holder_code
    session.add(Notification(application_id=application.id, recipient_level=level, recipient_code=code, kind=kind, message=message, created_at=at))


def _fire(
    *,
    session: Session,
    timer: SlaTimer,
    application: Application,
    task: AuditTask | None,
    known: _BreachInputs | None,
    now: datetime,
    cal: sla.WorkingCalendar,
    settings: Settings,
) -> tuple[bool, datetime | None]:
    """Act on one claimed timer of `application` (read afresh by the sweep, with its audit
    task and, for a breach, what `_breach` looks up); returns whether it acted (an SLA timer
    of a case decided meanwhile does nothing) and the due time of a timer it scheduled, if any."""
    if timer.kind.startswith("observation"):
        from cases.services.observation import fire_timer

        fire_timer(session=session, application=application, timer=timer, now=now, settings=settings)
        return True, None
    if application.status not in WAITING:
        return False, None  # decided (or paused) meanwhile: nothing to escalate
    if timer.kind == "auto_issue":
        return _auto_issue(session=session, application=application, timer=timer, now=now), None
    message = {
        "reminder_50": f"Half the SLA of {application.reference} has passed; due {application.sla_due_at.astimezone(cal.tz):%Y-%m-%d %H:%M}.",
        "warn_80": f"{application.reference} is at 80 % of its SLA and still undecided.",
        "breach": f"{application.reference} breached its SLA at {timer.due_at.astimezone(cal.tz):%Y-%m-%d %H:%M} without a decision.",
        "city_1wd": f"{application.reference} is one working day past its SLA.",
        "province_2wd": f"{application.reference} is two working days past its SLA.",
    }.get(timer.kind, f"{application.reference}: {timer.kind}")
    _notify(session, application=application, task=task, level=timer.level or "county", kind=f"sla_{timer.kind}", message=message, at=now)
    record_event(
        session,
        application_id=application.id,
        actor="system",
        action=f"sla_{timer.kind}",
        at=now,
        data={"due_at": timer.due_at.isoformat(), "level": timer.level},
    )
    if timer.kind == "breach":
        return True, _breach(session=session, application=application, task=task, known=known, breach_at=timer.due_at, now=now, cal=cal, settings=settings)
    return True, None


def _breach(
    *, session: Session, application: Application, task: AuditTask | None, known: _BreachInputs | None, breach_at: datetime, now: datetime, cal, settings: Settings
) -> datetime | None:
    """R12/R13: record who is responsible (true breach time, even when the sweep runs late)
    and schedule the automatic green pass unless the comparison hit a red list."""
    if known is not None and application.id not in known.cases:
        known = None  # not read for this case: look up as usual
    application.breached_at = breach_at
    session.add(application)
    holder_kind, holder_code = _holder(application, task)
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
    elif known is not None and (scoped := ("unit" if holder_kind == "unit" else "region", holder_code)) in known.issuers:
        issuers = list(known.issuers[scoped])
    else:
        scope = User.unit_code if holder_kind == "unit" else User.region_code
        issuers = sorted(u.username for u in session.exec(select(User).where(User.role == "issuer", scope == holder_code)))
    if known is not None:
        recorded = application.id in known.recorded
        known.recorded.add(application.id)
    else:
        recorded = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first() is not None
    if not recorded:
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
        # R21: once per case, like its responsibility record (no look-up needed in the batch).
        oversight.raise_item(
            session=session, kind="breach", source_key=f"breach:{application.id}", application_id=application.id, at=now, check=False,
            responsible_kind=holder_kind, responsible_code=holder_code,
            summary=f"{application.reference}: no decision by {breach_at.astimezone(cal.tz):%Y-%m-%d %H:%M}; held by {holder_kind} {holder_code}",
        )
    if application.red_list:
        record_event(session, application_id=application.id, actor="system", action="auto_issue_withheld", at=now, reason="red-list comparison hit or declared fever/symptom: escalates instead (R12)")
        return None
    at = sla.auto_issue_at(breach_at=breach_at, calendar=cal, policy=policy(settings))
    provisional = cal.is_provisional_between(breach_at, at)
    if known is not None:
        _put_timer(session, timer=known.auto_issue.get(application.id), application_id=application.id, kind="auto_issue", due_at=at, level=None, provisional=provisional)
    else:
        _set_timer(session, application_id=application.id, kind="auto_issue", due_at=at, level=None, provisional=provisional)
    record_event(session, application_id=application.id, actor="system", action="auto_issue_scheduled", at=now, data={"at": at.isoformat(), "latest": sla.auto_issue_by(breach_at=breach_at).isoformat()})
    return at


def _auto_issue(*, session: Session, application: Application, timer: SlaTimer, now: datetime) -> bool:
    """R12: no opinion after the timeout -> the system decides green itself; the flow issues it.
    Returns whether it decided (not on a red-list hit found meanwhile, nor after another decision)."""
    from cases.services.audit import system_decision

    # The decision closes the responsibility record (outcome, delay) and asks the flow to resume.
    return system_decision(session=session, application=application, at=now, scheduled_for=timer.due_at)
