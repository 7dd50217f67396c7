"""A Qingdao case in audit, its city's supervisor, and a supervisor of another city (Jinan)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.declaration_schema import ApplicationCreate
from cases.models import Application, AuditTask, Role
from cases.seed import _demo_password_hash, create_user
from cases.services import sla_service
from cases.services.applications import submit_application
from cases.validation import resident_id_check_char
from tests.helpers import example, to_audit

CLOSE_CONTACT = "371302198002280377"  # on the demo close-contact registry (cases/data/samples)
SUPERVISOR, OTHER_CITY = "qingdao-supervisor", "jinan-supervisor"
ISSUER, ISSUER2 = "qingdao-issuer", "issuer-370202001001"  # two issuers of the example's community
_PEOPLE = itertools.count(200)


@dataclass
class Case:
    id: str
    task_id: str
    reference: str


def new_case(store, clock, kind: str = "standard", id_number: str | None = None) -> Case:
    """A case of another person in the example's community (Qingdao), awaiting audit."""
    body = {**example(kind, clock.now().astimezone(SHANGHAI).date()), "community_code": "370202001001", "unit_code": None}
    number = body["id_number"][:14] + f"{next(_PEOPLE):03d}"
    body["id_number"] = id_number or number + resident_id_check_char(number)
    with store.session() as s:
        created = submit_application(session=s, payload=ApplicationCreate.model_validate(body), content=body, settings=store.settings, at=clock.now())
        s.commit()
        app_id = created.application.id
    task_id = to_audit(store, clock, app_id)
    with store.session() as s:
        return Case(id=app_id, task_id=task_id, reference=s.get(Application, app_id).reference)


def breach(store, clock, hours: float = 8) -> None:
    """Let the SLA run out (a 6-working-hour clock from Tuesday 09:00) and sweep: escalated."""
    clock.advance(timedelta(hours=hours))
    with store.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=store.settings)
        s.commit()


def task_of(store, case: Case) -> AuditTask:
    with store.session() as s:
        return s.exec(select(AuditTask).where(AuditTask.id == case.task_id)).one()


@pytest.fixture
def world(seeded, clock):
    with seeded.session() as s:
        create_user(s, username=SUPERVISOR, password="demo-pass-2026", role=Role.supervisor, at=clock.now(), region="370200", password_hash=_demo_password_hash())
        s.commit()
    return seeded
