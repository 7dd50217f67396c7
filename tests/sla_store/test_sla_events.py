"""The SLA sweep's Prefect events (tasks/sla_events.py): which events a sweep emits, with which
resource, labels and related resources. No Prefect server: the emitter function is replaced."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event as sa_event, update
from sqlmodel import select

from cases.models import Application, AuditTask, SlaTimer
from cases.services import sla_service
from cases.validation import resident_id_check_char
from sla_support import SH, local, open_case, sweep
from tests.helpers import example
from tasks import sla_events
from tasks.sweep import sweep_and_emit

QINGDAO = {"community": "370202001001", "county": "370202", "city": "370200", "province": "370000"}


@pytest.fixture
def emitted(monkeypatch):
    """What the sweep hands to Prefect, as `emit_event`'s keyword arguments."""
    sent: list[dict] = []
    monkeypatch.setattr(sla_events, "send_event", lambda **e: sent.append(e))
    monkeypatch.setattr(sla_events, "prefect_api_configured", lambda: True)
    return sent


def _person(n: int, clock) -> dict:
    """Another applicant of the example's community (one open case per person)."""
    number = example("standard", clock.now().astimezone(SH).date())["id_number"][:14] + f"{300 + n:03d}"
    return {"id_number": number + resident_id_check_char(number)}


def _sweep_at(store, clock, when: str) -> dict:
    clock.set(local(when))
    return sweep_and_emit()


def _related(event: dict) -> dict[str, str]:
    """role -> resource id (each role appears once)."""
    roles = [r["prefect.resource.role"] for r in event["related"]]
    assert len(roles) == len(set(roles)), roles
    return {r["prefect.resource.role"]: r["prefect.resource.id"] for r in event["related"]}


def _with_flow_run(store, app_id: str) -> str:
    run = str(uuid.uuid4())
    with store.session() as s:
        app = s.get(Application, app_id)
        app.flow_run_id = run
        s.add(app)
        s.commit()
    return run


def test_r11_r12_r13_ladder_emits_warning_breach_and_auto_issue_events(seeded, clock, emitted):
    """R11 (the 50 % reminder and the 80 % warning), R13 (the breach names the community that
    held the case) and R12 (the automatic green pass) each become one Prefect event about the
    case, related to its flow run and to its community, county, city and province."""
    app_id, _ = open_case(seeded, clock)
    run = _with_flow_run(seeded, app_id)
    with seeded.session() as s:
        reference = s.get(Application, app_id).reference

    assert _sweep_at(seeded, clock, "2026-03-03 12:00") == {"reminder_50": 1}
    assert _sweep_at(seeded, clock, "2026-03-03 15:18") == {"warn_80": 1}
    assert _sweep_at(seeded, clock, "2026-03-03 16:30") == {"breach": 1}
    assert _sweep_at(seeded, clock, "2026-03-04 09:30") == {"auto_issue": 1}
    assert _sweep_at(seeded, clock, "2026-03-05 16:30") == {}  # decided: the escalations were cancelled

    assert [(e["event"], e["resource"]["healthpass.sla.timer"]) for e in emitted] == [
        ("healthpass.sla.warning", "reminder_50"),
        ("healthpass.sla.warning", "warn_80"),
        ("healthpass.sla.breach", "breach"),
        ("healthpass.sla.auto-issue", "auto_issue"),
    ]
    for e in emitted:
        resource = e["resource"]
        assert resource["prefect.resource.id"] == f"healthpass.case.{app_id}"
        assert resource["healthpass.case.reference"] == reference == e["payload"]["reference"]
        assert resource["healthpass.case.kind"] == "standard"
        assert (resource["healthpass.community.code"], resource["healthpass.county.code"], resource["healthpass.city.code"], resource["healthpass.province.code"]) == tuple(QINGDAO.values())
        related = _related(e)
        assert related["flow-run"] == f"prefect.flow-run.{run}"
        assert {role: related[role] for role in QINGDAO} == {role: f"healthpass.region.{code}" for role, code in QINGDAO.items()}
        assert all(isinstance(v, str) for v in resource.values())  # Prefect labels are strings
    warning, warn80, breach, auto = emitted
    assert (warning["resource"]["healthpass.sla.level"], warn80["resource"]["healthpass.sla.level"]) == ("issuer", "community_head")
    assert "healthpass.responsible.kind" not in warning["resource"]
    # The breach (R13): the responsible community, as labels, a related resource and in the payload.
    assert (breach["resource"]["healthpass.responsible.kind"], breach["resource"]["healthpass.responsible.code"]) == ("community", "370202001001")
    assert _related(breach)["responsible"] == "healthpass.region.370202001001"
    assert breach["payload"]["responsible"]["kind"] == "community" and breach["payload"]["responsible"]["code"] == "370202001001"
    assert datetime.fromisoformat(breach["payload"]["breach_at"]) == local("2026-03-03 16:30")
    assert breach["payload"]["auto_issue_at"] is not None  # R12: scheduled
    assert breach["occurred"] == local("2026-03-03 16:30")
    city = next(r for r in breach["related"] if r["prefect.resource.role"] == "city")
    assert city["prefect.resource.name"] == "Qingdao"
    assert auto["occurred"] == local("2026-03-04 09:30")
    # One id per firing: an event re-sent is the same event.
    assert len({e["id"] for e in emitted}) == 4


def test_r12_r13_red_list_breach_escalates_to_city_and_province_events(seeded, clock, emitted):
    """R12: a red-list case is never auto-issued: its breach event says so (no auto-issue time)
    and the ladder's city and province steps become escalation events; no auto-issue event."""
    app_id, _ = open_case(seeded, clock, red_list=True)
    assert _sweep_at(seeded, clock, "2026-03-03 16:30") == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    assert _sweep_at(seeded, clock, "2026-03-04 18:00") == {"city_1wd": 1}
    assert _sweep_at(seeded, clock, "2026-03-05 16:30") == {"province_2wd": 1}

    names = [e["event"] for e in emitted]
    assert names == ["healthpass.sla.warning", "healthpass.sla.warning", "healthpass.sla.breach", "healthpass.sla.escalation", "healthpass.sla.escalation"]
    breach = emitted[2]
    assert breach["payload"]["red_list"] is True and breach["payload"]["auto_issue_at"] is None
    city, province = emitted[3], emitted[4]
    assert (city["resource"]["healthpass.sla.timer"], city["resource"]["healthpass.sla.level"]) == ("city_1wd", "city")
    assert (province["resource"]["healthpass.sla.timer"], province["resource"]["healthpass.sla.level"]) == ("province_2wd", "province")
    assert all("flow-run" not in _related(e) for e in emitted)  # no flow run yet: no related run


def test_r13_breach_of_a_unit_held_case_names_the_unit(seeded, clock, emitted):
    """R13 (with R17): a case held by an employer's unit breaches on the unit, and the event says so."""
    app_id, task_id = open_case(seeded, clock)
    with seeded.session() as s:
        task = s.get(AuditTask, task_id)
        task.holder_kind, task.holder_code = "unit", "U370102001"
        app = s.get(Application, app_id)
        app.unit_code = "U370102001"
        s.add_all([task, app])
        s.commit()
    _sweep_at(seeded, clock, "2026-03-03 16:30")
    breach = next(e for e in emitted if e["event"] == "healthpass.sla.breach")
    assert (breach["resource"]["healthpass.responsible.kind"], breach["resource"]["healthpass.responsible.code"]) == ("unit", "U370102001")
    related = _related(breach)
    assert related["responsible"] == related["unit"] == "healthpass.unit.U370102001"
    assert related["city"] == "healthpass.region.370200"  # the case's community stays where it is


def test_a_sweep_without_prefect_fires_its_timers_and_emits_nothing(seeded, clock, monkeypatch):
    """Best-effort: no Prefect API configured -> no event (and no temporary Prefect server)."""
    sent: list[dict] = []
    monkeypatch.setattr(sla_events, "send_event", lambda **e: sent.append(e))
    monkeypatch.setattr(sla_events, "prefect_api_configured", lambda: False)
    open_case(seeded, clock)
    assert _sweep_at(seeded, clock, "2026-03-03 16:30") == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    assert sent == []


def test_a_failing_emitter_never_fails_the_sweep(seeded, clock, monkeypatch):
    monkeypatch.setattr(sla_events, "prefect_api_configured", lambda: True)

    def broken(**event):
        raise ConnectionError("Prefect is down")

    monkeypatch.setattr(sla_events, "send_event", broken)
    app_id, _ = open_case(seeded, clock)
    assert _sweep_at(seeded, clock, "2026-03-03 16:30") == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    with seeded.session() as s:
        assert s.get(Application, app_id).breached_at is not None


def test_r13_events_only_for_batches_that_committed(seeded, clock, emitted, monkeypatch):
    """A batch that rolls back emits nothing; the batches before it, committed, do emit (the task
    then fails and retries the rest)."""
    first, _ = open_case(seeded, clock, **_person(1, clock))
    clock.advance(timedelta(minutes=1))
    second, _ = open_case(seeded, clock, **_person(2, clock))
    real = sla_service._fire

    def fail_on_second(**kw):
        if kw["application"].id == second:
            raise RuntimeError("the store went away")
        return real(**kw)

    monkeypatch.setattr(sla_service, "_fire", fail_on_second)
    clock.set(local("2026-03-03 14:00"))  # both reminders due (12:00, 13:31 after lunch); batch=1: one case per batch
    firings: list[sla_service.SlaFiring] = []
    with pytest.raises(RuntimeError):
        with seeded.session() as s:
            sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings, batch=1, fired_out=firings)
    assert [(f.case_id, f.kind) for f in firings] == [(first, "reminder_50")]
    monkeypatch.setattr(sla_service, "_fire", real)
    assert sweep(seeded, clock) == {"reminder_50": 1}  # the rolled-back one fires next time


def test_collecting_the_firings_costs_one_read_per_batch(seeded, clock):
    """The sweep's batched SQL stays as it is: asking for the firings adds one SELECT per batch
    (the regions of the cases that fired), however many breaches the batch holds."""
    for n in range(6):
        open_case(seeded, clock, **_person(n, clock))
        clock.advance(timedelta(seconds=1))

    def statements(fired_out) -> int:
        with seeded.session() as s:
            # The same due timers each time: re-arm what the previous run fired.
            s.exec(update(SlaTimer).where(SlaTimer.kind == "breach").values(pending=True, fired_at=None))
            s.commit()
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa_event.listen(seeded.engine, "before_cursor_execute", count)
        try:
            with seeded.session() as s:
                sla_service.sweep(session=s, now=local("2026-03-03 16:31"), settings=seeded.settings, fired_out=fired_out)
        finally:
            sa_event.remove(seeded.engine, "before_cursor_execute", count)
        return len([q for q in seen if not q.lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))])

    with seeded.session() as s:  # the ladder up to the breach has fired; only breaches are due below
        sla_service.sweep(session=s, now=local("2026-03-03 16:00"), settings=seeded.settings)
        assert len(s.exec(select(SlaTimer).where(SlaTimer.kind == "breach")).all()) == 6
    statements(None)  # the first breaches write the responsibility records; the runs compared below find them
    without = statements(None)
    firings: list = []
    with_firings = statements(firings)
    assert len(firings) == 6 and {f.kind for f in firings} == {"breach"}
    assert with_firings == without + 1


def test_sweep_runs_are_named_by_their_minute_in_shanghai():
    from datetime import timezone

    from flows.sla_sweep import run_name_for

    assert run_name_for(datetime(2026, 3, 3, 1, 1, 30, tzinfo=timezone.utc)) == "sla-sweep-2026-03-03 09:01"
