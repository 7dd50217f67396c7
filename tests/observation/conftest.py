"""Isolation observation helpers: an arrival opened through the workflow steps (no Prefect),
daily reports, and the SLA sweep at simulated instants."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.declaration_schema import ApplicationCreate
from cases.models import Application, CaseEvent, Notification, SlaTimer
from cases.services import observation, sla_service, workflow
from cases.services.applications import submit_application
from tests.helpers import example

COMMUNITY = "370102001001"  # Heping: the arrival example's community


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


class Observation:
    def __init__(self, store, clock):
        self.store, self.clock, self.settings = store, clock, store.settings

    def body(self, arrival: date | None = None) -> dict:
        today = self.clock.now().astimezone(SHANGHAI).date()
        body = example("arrival", today)
        body["arrival_date"] = (arrival or today).isoformat()
        return body

    def arrive(self, at: datetime | None = None, arrival: date | None = None) -> str:
        """Declare an arrival at `at` (arrival date = that day unless given) and run the flow's
        first steps at the same instant, as the dispatcher would."""
        if at is not None:
            self.clock.set(at)
        body = self.body(arrival)
        payload = ApplicationCreate.model_validate(body)
        with self.store.session() as s:
            result = submit_application(session=s, payload=payload, content=body, settings=self.settings, at=self.clock.now())
            s.commit()
        self.open(result.application.id)
        return result.application.id

    def open(self, case_id: str) -> None:
        now = self.clock.now()
        with self.store.session() as s:
            app = s.get(Application, case_id)
            workflow.declare(session=s, application=app, at=now)
            workflow.compare(session=s, application=app, at=now, settings=self.settings, accept_incomplete=True)
            assert workflow.open_observation(session=s, application=app, at=now, settings=self.settings)
            s.commit()

    def report(self, case_id: str, day: date, *, at: datetime | None = None, temperature: float = 36.6, symptoms: tuple[str, ...] = ()):
        if at is not None:
            self.clock.set(at)
        with self.store.session() as s:
            app = s.get(Application, case_id)
            row = observation.report(session=s, application=app, day=day, temperature=temperature, symptoms=list(symptoms), location_confirmed=True, at=self.clock.now(), settings=self.settings)
            s.commit()
            return row

    def sweep(self, at: datetime) -> dict[str, int]:
        self.clock.set(at)
        with self.store.session() as s:
            return sla_service.sweep(session=s, now=at, settings=self.settings)

    def app(self, case_id: str) -> Application:
        with self.store.session() as s:
            return s.get(Application, case_id)

    def notes(self, case_id: str, *, level: str | None = None, kind: str | None = None) -> list[Notification]:
        with self.store.session() as s:
            q = select(Notification).where(Notification.application_id == case_id).order_by(Notification.id)
            rows = list(s.exec(q))
        return [n for n in rows if (level is None or n.recipient_level == level) and (kind is None or n.kind == kind)]

    def events(self, case_id: str, action: str | None = None) -> list[CaseEvent]:
        with self.store.session() as s:
            rows = list(s.exec(select(CaseEvent).where(CaseEvent.application_id == case_id).order_by(CaseEvent.seq)))
        return [e for e in rows if action is None or e.action == action]

    def timers(self, case_id: str) -> dict[str, SlaTimer]:
        with self.store.session() as s:
            return {t.kind: t for t in s.exec(select(SlaTimer).where(SlaTimer.application_id == case_id))}

    def status(self, case_id: str) -> dict:
        with self.store.session() as s:
            return observation.status(s, s.get(Application, case_id), now=self.clock.now(), settings=self.settings)

    def run_days(self, case_id: str, first: date, last: date, *, skip: tuple[date, ...] = ()) -> None:
        """Each day: report at 10:00 (unless skipped), then the sweep at 20:00 and the next 08:30."""
        d = first
        while d <= last:
            if d not in skip:
                self.report(case_id, d, at=sh(d.year, d.month, d.day, 10))
            self.sweep(sh(d.year, d.month, d.day, 20))
            nxt = d + timedelta(days=1)
            self.sweep(sh(nxt.year, nxt.month, nxt.day, 8, 30))
            d = nxt


@pytest.fixture
def obs(seeded, clock) -> Observation:
    return Observation(seeded, clock)
