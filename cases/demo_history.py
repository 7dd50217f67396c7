"""A province with history for `make run`: three weeks of cases across the 16 cities, played
through the real services at simulated times, ending at the real "now".

Nothing here writes a case row by hand. Each scenario *plans* what people do and when
(an applicant submits, an issuer claims, verifies, decides, asks for an item, an arrival
reports); the runner then plays the plan in time order with an injected clock
(`cases.clock.FrozenClock`) and, between the steps, does what the running system does:

- the SLA sweep (`sla_service.sweep`) at the exact due time of every timer, so reminders,
  escalations, breaches with their responsibility records (R13), auto-issues (R12, before
  18:00 the next day) and the ends of observation (R9) are produced by the real code;
- the application flow's steps (`workflow.declare/compare/open_observation/assign_audit`,
  then `workflow.finish`) for every outbox row, as the flow run would, and the
  row is marked done (the history owes the workers nothing: `make run` starts no Prefect run for it).

A step planned after "now" is not played (the case stays open), and a step the system
refuses (e.g. an issuer's late decision that the automatic pass beat over a weekend) is
counted as `refused` and skipped: the history follows what the rules did.

Deterministic: fixed random seed and fixed times relative to "now" (so two stores seeded
with the same "now" hold the same counts). Idempotent: every case is submitted with the
Idempotency-Key ``demo-history:<n>``; a store holding such a case is already seeded.

Adding a scenario (complaints, provincial audit outcomes, municipal reports, ...): write
``def my_scenario(h: History) -> None`` that plans steps with ``h.at(when, name, fn)``
(``fn(session)`` runs in one transaction at the simulated time ``when``; ``h.clock.now()``
is ``when``) or with the case helpers below, and append it to ``SCENARIOS``. Plan times
with ``h.local(days_ago, "10:15")``, ``h.later(t, working_hours)`` and
``h.before_now(working_hours)``.
"""
from __future__ import annotations

import itertools
import random
import time as _time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cases.clock import SHANGHAI, FrozenClock, aware, get_clock, set_clock
from cases.errors import DomainError
from cases.models import Application, AuditTask, FlowDispatch, Region, RegionLevel, SlaTimer, User
from cases.settings import Settings

MARKER = "demo-history:"  # Idempotency-Key prefix of the history's cases
DAYS = 21  # how far back the history starts
SEED = 13
PERSON_BASE = 17_500_000  # demo persons' numbers (cases.simulate draws below 17,000,000)
NAMED_ISSUERS = {"370102001001": "heping-issuer", "370202001001": "qingdao-issuer"}
ARRIVALS = 10
UNIT = "U370102001"  # Jinan Demonstration Machinery (unit-issuer)
RED_LIST_ID_COUNTY = "370102"  # the registry persons' ID numbers begin with this county


@dataclass
class Case:
    """A planned case; `id` is known once its submission step has run."""

    label: str
    community: str
    county: str
    city: str
    person: int
    kind: str = "standard"
    channel: str = "app"
    unit: str | None = None
    id: str | None = None
    submitted_at: datetime | None = None


@dataclass(order=True)
class _Step:
    at: datetime
    n: int
    name: str = field(compare=False)
    run: Callable[[Session], object] = field(compare=False)


class History:
    def __init__(self, *, engine: Engine, settings: Settings, now: datetime, seed: int = SEED, days: int = DAYS):
        from cases.services import sla_service

        self.engine, self.settings = engine, settings
        self.now = aware(now)
        self.today = self.now.astimezone(SHANGHAI).date()
        self.start = self.now - timedelta(days=days)
        self.rng = random.Random(seed)
        self.clock = FrozenClock(self.start)
        self.steps: list[_Step] = []
        self._n = itertools.count()
        self._persons = itertools.count(PERSON_BASE)
        self._keys = itertools.count()
        self.counts: Counter = Counter()
        self.refused: list[tuple[str, str]] = []
        self.planned: dict[str, Case] = {}  # by label: later steps (and other scenarios) find a case here
        self.complaint_refs: dict[str, str] = {}  # complaint label -> its reference, once filed
        self.red_list: dict[str, list[int]] = {}  # registry -> person numbers on it (_red_list_persons)
        with Session(engine) as s:
            self.cal = sla_service.calendar(s, settings)
            counties = {r.code: r for r in s.exec(select(Region).where(Region.level == RegionLevel.county))}
            self.cities: dict[str, list[tuple[str, str]]] = {}
            for c in s.exec(select(Region).where(Region.level == RegionLevel.community).order_by(Region.code)):
                self.cities.setdefault(counties[c.parent_code].parent_code, []).append((c.code, c.parent_code))
            self.issuers = {u.region_code or f"unit:{u.unit_code}": u.username for u in s.exec(select(User).where(User.role == "issuer").order_by(User.username))}

    # -------------------------------------------------------------- time ---
    def local(self, days_ago: int, hhmm: str) -> datetime:
        h, m = map(int, hhmm.split(":"))
        day = self.today - timedelta(days=days_ago)
        return datetime(day.year, day.month, day.day, h, m, tzinfo=SHANGHAI)

    def later(self, at: datetime, working_hours: float) -> datetime:
        return self.cal.add_working_hours(at, working_hours)

    def before_now(self, working_hours: float) -> datetime:
        """The instant `working_hours` of working time before now (nights and days off skipped)."""
        left = timedelta(hours=working_hours)
        local = self.now.astimezone(SHANGHAI)
        d = local.date()
        for _ in range(60):
            for s, e in reversed(self.cal.intervals_on(d)):
                if s >= local:
                    continue
                end = min(e, local)
                if left <= end - s:
                    return end - left
                left -= end - s
            d -= timedelta(days=1)
        raise ValueError("no working time in the last 60 days")

    # ------------------------------------------------------------- plans ---
    def at(self, when: datetime, name: str, fn: Callable[[Session], object]) -> None:
        self.steps.append(_Step(when, next(self._n), name, fn))

    def case(self, label: str, *, city: str | None = None, community: str | None = None, kind: str = "standard", channel: str | None = None, unit: str | None = None, person: int | None = None) -> Case:
        if community is None:
            community, county = self.rng.choice(self.cities[city])
        else:
            county = community[:6]
        channel = channel or self.rng.choice(("wechat", "app"))
        case = Case(label, community, county, community[:4] + "00", person if person is not None else next(self._persons), kind, channel, unit)
        self.planned[label] = case
        return case

    def rng_for(self, label: str) -> random.Random:
        """A draw of its own per label: the same whatever else was planned before it."""
        return random.Random(f"{SEED}:{label}")

    def issuer_of(self, case: Case) -> str:
        if case.channel == "unit" and case.unit:
            return self.issuers[f"unit:{case.unit}"]
        return NAMED_ISSUERS.get(case.community) or self.issuers[case.community]

    def submit(self, case: Case, when: datetime) -> Case:
        key = f"{MARKER}{next(self._keys)}"
        names = random.Random(case.person)  # the person's name and travels: the same on every seed
        on_registry = {p for persons in self.red_list.values() for p in persons}

        def run(s: Session) -> None:
            from cases.declaration_schema import ApplicationCreate
            from cases.services.applications import submit_application
            from cases.simulate import application_body, resident_id

            day = when.astimezone(SHANGHAI).date()
            channel = None if case.channel == "unit" else case.channel
            body = application_body(case.person, today=day, kind=case.kind, community=case.community, county=case.county, channel=channel, rng=names)
            if case.person in on_registry:
                body["id_number"] = resident_id(case.person, county=RED_LIST_ID_COUNTY)
            if case.kind == "arrival":
                body["residence_history"][0]["place"] = names.choice(("GBR", "USA", "JPN", "KOR", "DEU", "AUS"))
            if case.channel == "unit":
                body["channel"], body["unit_code"] = "unit", case.unit
            payload = ApplicationCreate.model_validate(body, context={"today": day})
            done = submit_application(session=s, payload=payload, content=body, settings=self.settings, at=when, idempotency_key=key, submitted_by="unit" if case.channel == "unit" else "applicant")
            case.id, case.submitted_at = done.application.id, when

        self.at(when, f"submit:{case.label}", run)
        return case

    def task_of(self, s: Session, case: Case) -> AuditTask:
        return s.exec(select(AuditTask).where(AuditTask.application_id == case.id)).one()

    def user(self, s: Session, username: str) -> User:
        return s.exec(select(User).where(User.username == username)).one()

    def claim(self, case: Case, when: datetime) -> None:
        def run(s: Session) -> None:
            from cases.services import audit

            audit.claim(session=s, task_id=self.task_of(s, case).id, user=self.user(s, self.issuer_of(case)), at=when)

        self.at(when, f"claim:{case.label}", run)

    def decide(self, case: Case, when: datetime, action: str, **kw) -> None:
        """An issuer's decision (claiming the task first if nobody has)."""

        def run(s: Session) -> None:
            from cases.services import audit

            task, user = self.task_of(s, case), self.user(s, self.issuer_of(case))
            if task.claimed_by is None and action != "verify_contact":
                audit.claim(session=s, task_id=task.id, user=user, at=when)
            audit.decide(session=s, task_id=task.id, user=user, action=action, at=when, settings=self.settings, **kw)

        self.at(when, f"{action}:{case.label}", run)

    def supply(self, case: Case, when: datetime, items: dict) -> None:
        def run(s: Session) -> None:
            from cases.services import audit

            audit.supply(session=s, application=s.get(Application, case.id), items=items, at=when, settings=self.settings)

        self.at(when, f"supply:{case.label}", run)

    def report(self, case: Case, when: datetime, day: date, *, temperature: float = 36.5, symptoms: tuple[str, ...] = ()) -> None:
        def run(s: Session) -> None:
            from cases.services import observation

            observation.report(session=s, application=s.get(Application, case.id), day=day, temperature=temperature, symptoms=list(symptoms), location_confirmed=True, at=when, settings=self.settings)

        self.at(when, f"report:{case.label}", run)

    def resolve_abnormal(self, case: Case, when: datetime, outcome: str) -> None:
        def run(s: Session) -> None:
            from cases.models import DailyReport
            from cases.services import observation

            row = s.exec(select(DailyReport).where(DailyReport.application_id == case.id, DailyReport.abnormal == True, DailyReport.resolved_at == None)).first()  # noqa: E711,E712
            if row is not None:
                observation.record_outcome(session=s, application=s.get(Application, case.id), report_id=row.id, outcome=outcome, by=self.issuer_of(case), at=when)

        self.at(when, f"outcome:{case.label}", run)

    # ------------------------------------------------------------- play ---
    def play(self) -> Counter:
        previous = get_clock()
        set_clock(self.clock)
        try:
            for step in sorted(self.steps):
                if step.at > self.now:
                    self.counts["planned_after_now"] += 1
                    continue
                self._until(step.at)
                self.clock.set(step.at)
                try:
                    with Session(self.engine, expire_on_commit=False) as s:
                        step.run(s)
                        s.commit()
                    self.counts["steps"] += 1
                except DomainError as exc:
                    self.counts["refused"] += 1  # the rules decided otherwise (e.g. auto-issued first)
                    self.refused.append((step.name, str(exc)))
                self._drive(step.at)
            self._until(self.now)
        finally:
            set_clock(previous)
        return self.counts

    def _until(self, t: datetime) -> None:
        """Sweep at the due time of every timer up to `t`, as the every-minute sweep would."""
        from cases.services import sla_service

        while True:
            with Session(self.engine) as s:
                due = s.exec(select(func.min(SlaTimer.due_at)).where(SlaTimer.pending == True)).one()  # noqa: E712
            if due is None or aware(due) > t:
                return
            due = aware(due)
            self.clock.set(due)
            with Session(self.engine, expire_on_commit=False) as s:
                fired = sla_service.sweep(session=s, now=due, settings=self.settings)
                s.commit()
            self.counts.update({f"fired_{k}": v for k, v in fired.items()})
            self.counts["sweeps"] += 1
            self._drive(due)

    def _drive(self, at: datetime) -> None:
        """What the flow run does for each outbox row (flows/application.py)."""
        from cases.events import chain_heads
        from cases.services import dispatch, workflow

        with Session(self.engine) as s:
            rows = [(r.id, r.application_id) for r in s.exec(select(FlowDispatch).where(FlowDispatch.pending == True).order_by(FlowDispatch.id))]  # noqa: E712
        for row_id, case_id in rows:
            with Session(self.engine, expire_on_commit=False) as s:
                application = s.get(Application, case_id)
                with chain_heads(s, [case_id]):
                    workflow.declare(session=s, application=application, at=at)
                    workflow.compare(session=s, application=application, at=at, settings=self.settings, accept_incomplete=True)
                    if not workflow.open_observation(session=s, application=application, at=at, settings=self.settings):
                        workflow.assign_audit(session=s, application=application, at=at, settings=self.settings)
                    if workflow.waiting_on(application) is None:
                        workflow.finish(session=s, application=application, at=at, settings=self.settings)
                    dispatch.mark_done(s, dispatch_id=row_id, at=at)
                    s.commit()


# ------------------------------------------------------------- scenarios ---
# Each plans one kind of history; the city order is fixed, the communities drawn with the seed.

def decided_on_time(h: History) -> None:
    """Every city: online applications decided well inside the 6 working hours (R11), and a
    counter application decided in the visit (R10)."""
    for i, city in enumerate(sorted(h.cities)):
        for k in range(3):
            days_ago = 2 + (i * 3 + k * 5) % (DAYS - 3)
            when = h.local(days_ago, f"{8 + (i + k) % 9:02d}:{(i * 7 + k * 13) % 60:02d}")
            counter = k == 2
            case = h.submit(h.case(f"on_time:{city}:{k}", city=city, channel="counter" if counter else None), when)
            h.decide(case, when + timedelta(minutes=25) if counter else h.later(when, 0.5 + (i + k) % 4), "approve")


def decided_late(h: History) -> None:
    """Some cities: decided after the breach but inside the supervisors' window (R13 record,
    outcome approved_late / rejected_late)."""
    for i, city in enumerate(("370100", "370200", "371300", "371700", "370700")):
        for k in range(2):
            when = h.local(3 + i * 3 + k, "09:40")
            case = h.submit(h.case(f"late:{city}:{k}", city=city), when)
            due = h.later(when, 6)
            if k == 1 and i % 2 == 0:
                h.decide(case, h.later(due, 0.75), "reject", reason_code="false_declaration", explanation="The applicant's declared stay contradicts the community's own records.")
            else:
                h.decide(case, h.later(due, 1.0), "approve")


def auto_issued(h: History) -> None:
    """Nobody decides: breach, escalation, responsibility record (R13), then the system's own
    green pass before 18:00 the next day (R12)."""
    for i, city in enumerate(("370100", "370200", "370300", "370600", "370800", "371300", "371400", "371700")):
        when = h.local(4 + (i * 2) % 15, "14:20" if i % 2 else "10:05")
        h.submit(h.case(f"auto:{city}", city=city), when)


def rejected(h: History) -> None:
    """Rejections with their reasons: identity not established after recorded contact attempts
    (R19), a close-contact hit, and 'thin' ones — false_declaration on a clear comparison."""
    for i, city in enumerate(("370100", "370300", "370500", "371000")):
        when = h.local(5 + i * 3, "10:30")
        case = h.submit(h.case(f"thin:{city}", city=city), when)
        h.decide(case, h.later(when, 2), "reject", reason_code="false_declaration", explanation="The declaration does not match what the community knows.")
    for i, city in enumerate(("370200", "370900")):
        when = h.local(7 + i * 4, "09:15")
        case = h.submit(h.case(f"identity:{city}", city=city), when)
        h.decide(case, h.later(when, 1), "verify_contact", contact_method="phone", explanation="Called the declared mobile twice; no answer.")
        h.decide(case, h.later(when, 2.5), "verify_contact", contact_method="visit", explanation="Visited the declared address; nobody there knows the applicant.")
        h.decide(case, h.later(when, 4), "reject", reason_code="identity_not_established", explanation="Identity could not be established after a call and a visit.")
    for i, person in enumerate(h.red_list["close_contacts"][:2]):
        when = h.local(6 + i * 5, "11:00")
        case = h.submit(h.case(f"close_contact:{i}", city=("371500", "371600")[i], person=person), when)
        h.decide(case, h.later(when, 1.5), "reject", reason_code="comparison_close_contact", explanation="The close-contact registry lists the applicant; observation applies first.")


def supplements(h: History) -> None:
    """The issuer names a missing item; the clock pauses until the applicant supplies it."""
    for i, city in enumerate(("370400", "371100", "370200")):
        when = h.local(4 + i * 4, "09:50")
        case = h.submit(h.case(f"supplement:{city}", city=city), when)
        asked = h.later(when, 1)
        h.decide(case, asked, "request_supplement", missing_items=["address"])
        back = h.later(asked, 7.5)  # the applicant answers the next working day
        h.supply(case, back, {"address": "东区 3 号楼 2 单元 401（演示）"})
        h.decide(case, h.later(back, 1), "approve")
    # Still waiting for the applicant now: a paused clock.
    for city in ("370100", "371300"):
        when = h.before_now(2.0)
        case = h.submit(h.case(f"supplement_open:{city}", city=city, channel="app"), when)
        h.decide(case, h.later(when, 1), "request_supplement", missing_items=["address"])


def arrivals(h: History) -> None:
    """Arrivals from abroad: yellow at once (R7), a daily report (R8), green after 14 days (R9).
    One misses two days (queued to the issuer, then the community head), one reports a fever."""
    cities = sorted(h.cities)
    for n in range(ARRIVALS):
        days_ago = DAYS - 1 - 2 * n
        city = cities[(n * 7) % len(cities)]
        when = h.local(days_ago, f"{9 + n % 8:02d}:{(n * 11) % 60:02d}")
        case = h.submit(h.case(f"arrival:{n}", city=city, kind="arrival", channel=("wechat", "app")[n % 2]), when)
        arrived = when.astimezone(SHANGHAI).date() - timedelta(days=1)
        for day_no in range(14):
            day = arrived + timedelta(days=day_no)
            if n == 3 and day_no in (5, 6):
                continue  # missed: the morning checks flag it (R8)
            at = max(when + timedelta(minutes=5), datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=8, minutes=(n * 7 + day_no * 3) % 90))
            fever = n == 5 and day_no == 4
            h.report(case, at, day, temperature=37.8 if fever else 36.4 + (day_no % 4) / 10, symptoms=("cough",) if fever else ())
            if fever:
                h.resolve_abnormal(case, at + timedelta(hours=3), "Community doctor visited: temperature back to normal, no further symptoms.")
        if n == 3:
            # The period ends in audit (missed days): the issuer approves it the next working morning.
            end = datetime.combine(arrived + timedelta(days=14), datetime.min.time(), tzinfo=SHANGHAI)
            h.decide(case, h.later(end, 1.5), "approve")


def unit_cases(h: History) -> None:
    """Submitted by the employer (R17): the unit holds the task and answers for its breach (R13)."""
    for k in range(3):
        when = h.local(3 + k * 5, "10:10")
        case = h.submit(h.case(f"unit:{k}", community="370102001001", channel="unit", unit=UNIT), when)
        if k != 1:
            h.decide(case, h.later(when, 2), "approve")


def open_now(h: History) -> None:
    """What the supervisors find at start: open cases on time, at risk (>= 80 % of the SLA
    used), breached within the supervisors' window, and breached red-list cases escalated to
    the city and the province (never auto-issued, R12)."""
    for i, city in enumerate(("370200", "370100", "370600", "371300", "370700")):
        h.submit(h.case(f"open_on_time:{city}", city=city, channel="app"), h.before_now(0.5 + i * 0.5))
    h.submit(h.case("open_on_time:qingdao", community="370202001001", channel="wechat"), h.before_now(1.0))
    h.submit(h.case("open_on_time:heping", community="370102001001", channel="app"), h.before_now(1.5))
    h.submit(h.case("open_at_risk:heping", community="370102001001", channel="wechat"), h.before_now(5.1))
    h.submit(h.case("open_breached:heping", community="370102001001", channel="app"), h.before_now(6.25))
    h.submit(h.case("open_on_time:unit", community="370102001001", channel="unit", unit=UNIT), h.before_now(2.0))
    h.submit(h.case("open_at_risk:qingdao", community="370202001001", channel="app"), h.before_now(5.0))
    h.submit(h.case("open_at_risk:qingdao2", community="370202001001", channel="wechat"), h.before_now(5.4))
    for city in ("370100", "370300", "371500"):
        h.submit(h.case(f"open_at_risk:{city}", city=city, channel="app"), h.before_now(5.2))
    for city in ("370100", "370800"):
        h.submit(h.case(f"open_breached:{city}", city=city, channel="app"), h.before_now(6.5))
    for i, person in enumerate(h.red_list["confirmed_cases"][:2]):
        h.submit(h.case(f"open_red_list:{i}", city=("370100", "371700")[i], channel="app", person=person), h.before_now(6 + 16.5 + i))


# The complaints the history files (R20): (label, days ago, time, category, about a planned case
# or a community, by the hotline?, closed how many working hours later (None: still open), text).
COMPLAINTS = (
    ("delayed:auto", 3, "19:30", "delayed", "auto:370100", False, 6.0,
     "Submitted on the app, nobody looked at it for a whole day; the pass only came from the system."),
    ("refused:thin", 7, "16:10", "refused", "thin:370300", True, 4.0,
     "The caller says the community rejected her son's application as a false declaration without asking him anything."),
    ("extra:qingdao", 9, "10:45", "extra_conditions", "community:370202001001", False, 8.0,
     "The community office asked for a letter from my employer and a hospital test before issuing the code (R16)."),
    ("delayed:late", 5, "11:20", "delayed", "late:370200:0", False, None,
     "My application waited past the promised six working hours before anybody decided it."),
    ("rude:jinan", 12, "14:05", "rude", "community:370102001001", True, None,
     "The caller says the staff at the community counter shouted at him and told him to come back another week."),
    ("extra:zibo", 1, "09:50", "extra_conditions", "community:370300", False, None,
     "Staff at the community asked me to bring my landlord in person before they would process the code."),
)


def complaints(h: History) -> None:
    """R20: complaints by the public (online) and taken by the hotline, about a case (by its
    reference) or about a community; some closed by the provincial office with a response, one
    still open inside its deadline, one open past it at "now"."""
    for label, days_ago, hhmm, category, about, by_hotline, closed_after, text in COMPLAINTS:
        when = h.local(days_ago, hhmm)

        def receive(s: Session, label=label, when=when, category=category, about=about, by_hotline=by_hotline, text=text) -> None:
            from cases.complaints.service import receive

            kind, _, ref = about.partition(":")
            case_reference = region = None
            if kind == "community":
                region = ref if len(ref) == 12 else h.rng_for(label).choice(h.cities[ref])[0]
            else:
                case_reference = s.get(Application, h.planned[about].id).reference
            n = sum(map(ord, label)) % 9000  # a fictional, stable contact (shown masked everywhere)
            done = receive(session=s, settings=h.settings, at=when, category=category, region_code=region, description=text,
                           case_reference=case_reference, contact_name="王女士（演示）" if n % 2 else "李先生（演示）",
                           contact_phone=f"139 0000 {n:04d}", operator=h.user(s, "hotline") if by_hotline else None)
            h.complaint_refs[label] = done.complaint.reference

        h.at(when, f"complaint:{label}", receive)
        if closed_after is not None:
            def close(s: Session, label=label, text=text) -> None:
                from cases.complaints.service import close

                close(session=s, user=h.user(s, "province"), reference=h.complaint_refs[label], at=h.clock.now(),
                      response="The provincial office reviewed the case record with the community; the community head has been "
                               "told to decide within the time limit and to ask for nothing beyond the notice (演示回复).")

            h.at(h.later(when, closed_after), f"close:{label}", close)


# The provincial office's audits (R21): (what, days ago, time, outcome or "reopen" / "claim", note).
AUDITS = (
    (("breach", "late:371300:0"), 6, "09:30", "prevarication",
     "The community held the case a full working day past its deadline with no item missing and no reason recorded."),
    (("rejection", "thin:370100"), 2, "10:15", "disapproval_without_reason",
     "Rejected as a false declaration although the comparison found nothing; no contact with the applicant is recorded."),
    (("rejection", "identity:370200"), 4, "14:00", "justified",
     "Two recorded contact attempts (call and visit) before the rejection, as R19 requires."),
    (("complaint", "refused:thin"), 5, "11:00", "refusal_without_reason",
     "The complaint is borne out: the rejection names no fact from the record, and nobody called the applicant."),
    (("auto_issue", "auto:370300"), 4, "15:30", "justified",
     "The issuer was on approved leave and the community had no stand-in; the system issued the pass as intended."),
    (("auto_issue", "auto:370300"), 2, "09:40", "reopen",
     "Re-opened: the roster shows a second issuer signed in that afternoon; the community must explain why nobody took it."),
    (("breach", "late:370700:0"), 1, "10:20", "claim", ""),
)


def audits(h: History) -> None:
    """R21: the `province` auditor claims items the history raised and records outcomes (one of
    each), re-opens one with a note, and is still working on one; the rest stay unclaimed."""
    for (kind, label), days_ago, hhmm, outcome, note in AUDITS:
        def run(s: Session, kind=kind, label=label, outcome=outcome, note=note) -> None:
            from cases.complaints.models import Complaint
            from cases.errors import NotFound
            from cases.models import ProvincialAuditItem
            from cases.services import oversight

            if kind == "complaint":
                item_id = s.exec(select(Complaint.audit_item_id).where(Complaint.reference == h.complaint_refs.get(label, ""))).first()
            else:
                item_id = s.exec(select(ProvincialAuditItem.id).where(ProvincialAuditItem.kind == kind, ProvincialAuditItem.application_id == h.planned[label].id)).first()
            if item_id is None:  # a long holiday moved the step that raises it past this one: skipped, counted as refused
                raise NotFound(f"no {kind} audit item for {label} yet")
            user, at = h.user(s, "province"), h.clock.now()
            if outcome == "reopen":
                oversight.reopen_item(session=s, item_id=item_id, user=user, note=note, at=at)
                return
            oversight.claim_item(session=s, item_id=item_id, user=user, at=at)
            if outcome != "claim":
                oversight.record_outcome(session=s, item_id=item_id, user=user, outcome=outcome, note=note, at=at + timedelta(minutes=20))

        h.at(h.local(days_ago, hhmm), f"audit:{outcome}:{label}", run)


def thresholds(h: History) -> None:
    """R22: the thresholds evaluated at "now" on what the history left (the same evaluation the
    SLA sweep runs each hour); an area over a limit notifies the provincial leading group office."""
    def run(s: Session) -> None:
        from cases.services import oversight

        h.counts["threshold_alerts"] += oversight.thresholds_if_due(session=s, now=h.now, settings=h.settings)

    h.at(h.now, "thresholds", run)


SCENARIOS: list[Callable[[History], None]] = [
    decided_on_time,
    decided_late,
    auto_issued,
    rejected,
    supplements,
    arrivals,
    unit_cases,
    open_now,
    complaints,  # after the cases they refer to
    audits,  # after the items (and complaints) they work
    thresholds,  # last: at "now"
]


def _red_list_persons(h: History) -> None:
    """A few fictional persons on the close-contact and confirmed registries, imported at
    "now" (so the registries stay fresh for the open cases), listed before the history starts."""
    from cases.services.registries import import_csv
    from cases.simulate import resident_id

    h.red_list = {"close_contacts": [next(h._persons) for _ in range(2)], "confirmed_cases": [next(h._persons) for _ in range(2)]}
    listed = f"today-{DAYS + 5}"
    with Session(h.engine, expire_on_commit=False) as s:
        for source, persons in h.red_list.items():
            header, status = ("id_number,status,listed_at", "confirmed,") if source == "confirmed_cases" else ("id_number,listed_at", "")
            rows = "".join(f"{resident_id(p, county=RED_LIST_ID_COUNTY)},{status}{listed}\n" for p in persons)
            import_csv(session=s, source=source, text=f"{header}\n{rows}", at=h.now, hash_key=h.settings.secret("idhash"))
        s.commit()


def already_seeded(session: Session) -> bool:
    return session.exec(select(Application.id).where(Application.idempotency_key.like(f"{MARKER}%")).limit(1)).first() is not None


def seed_history(*, engine: Engine, settings: Settings, now: datetime, scenarios: list[Callable[[History], None]] | None = None, seed: int = SEED) -> dict:
    """Plan and play the history into a seeded store (regions and demo accounts present).
    Returns counts; {"skipped": "already seeded"} when the store holds the history already."""
    with Session(engine) as s:
        if already_seeded(s):
            return {"skipped": "already seeded"}
    t0 = _time.perf_counter()
    h = History(engine=engine, settings=settings, now=now, seed=seed)
    _red_list_persons(h)
    for scenario in SCENARIOS if scenarios is None else scenarios:
        scenario(h)
    counts = h.play()
    # The trends page reads daily roll-ups; the sweep only catches up a week back, so the history's
    # days are rolled up here (same service as `healthpass trends rollup`).
    from cases.services.trends import rollup_range

    with Session(engine) as s:
        local = now.astimezone(SHANGHAI).date()
        counts["trend_days"] = rollup_range(session=s, start=local - timedelta(days=DAYS + 1), end=local, settings=settings, now=now)
        s.commit()
    return {"cases": next(h._keys), **dict(sorted(counts.items())), "seconds": round(_time.perf_counter() - t0, 2)}


def sla_state(application: Application, *, now: datetime, cal) -> str:
    """on_time / at_risk (>= 80 % of the SLA used, working hours) / breached / paused, for an
    open case waiting on an issuer; observing (R8) and submitted otherwise."""
    import sla
    from cases.services.sla_service import channel_of

    if application.status == "observing":
        return "observing"
    if application.sla_started_at is None:
        return "submitted"
    if application.sla_paused_at is not None:
        return "paused"
    if application.breached_at is not None:
        return "breached"
    clock = sla.Clock(channel=channel_of(application), started_at=aware(application.sla_started_at), due_at=aware(application.sla_due_at), paused_total=timedelta(seconds=application.sla_paused_seconds))
    used = sla.fraction_elapsed(clock, at=now, calendar=cal)
    return "breached" if used >= 1 else "at_risk" if used >= 0.8 else "on_time"


def summary(session: Session, *, now: datetime, settings: Settings) -> dict:
    """What the seeded store shows: open cases by SLA state and decided cases by outcome,
    per city; responsibility records and provincial audit items by kind."""
    from cases.models import OPEN_STATUSES, ProvincialAuditItem, ResponsibilityRecord
    from cases.services.sla_service import calendar

    cal = calendar(session, settings)
    open_: Counter = Counter()
    decided: Counter = Counter()
    by_city: dict[str, Counter] = {}
    for a in session.exec(select(Application).where(Application.idempotency_key.like(f"{MARKER}%"))):
        if a.status in OPEN_STATUSES:
            key = f"open_{sla_state(a, now=now, cal=cal)}"
            open_[key] += 1
        elif a.decision in ("approve", "reject") and a.breached_at is not None:
            key = f"decided_late_{a.decision}"
        else:
            key = {"approve": "decided_on_time_approve", "reject": "rejected", "auto_issue": "auto_issued", "observation_clear": "observation_green"}.get(a.decision or "", f"other_{a.status}")
        if not key.startswith("open_"):
            decided[key] += 1
        by_city.setdefault(a.city_code, Counter())[key] += 1
    records = Counter(r.responsible_kind for r in session.exec(select(ResponsibilityRecord)))
    items = Counter(i.kind for i in session.exec(select(ProvincialAuditItem)))
    return {
        "open": dict(sorted(open_.items())),
        "decided": dict(sorted(decided.items())),
        "responsibility_records": dict(sorted(records.items())),
        "provincial_audit_items": dict(sorted(items.items())),
        "by_city": {c: dict(sorted(v.items())) for c, v in sorted(by_city.items())},
    }
