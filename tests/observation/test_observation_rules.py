"""R8/R9 isolation observation on the store, with simulated time and the SLA sweep:
a clean period ends green at the right instant; missed days remind, queue and escalate;
an abnormal report holds the period; the day-1 rule at its edges."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from cases.errors import Conflict, Invalid
from cases.models import Application, AuditTask, Pass
from cases.services import observation, workflow
from tests.observation.conftest import COMMUNITY, sh

D = date(2026, 3, 3)  # day 1 in most tests (the clock fixture's Tuesday)


def day(n: int) -> date:
    return D + timedelta(days=n - 1)


def test_r9_clean_period_ends_in_green_at_the_right_instant(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    app = obs.app(case)
    assert app.status == "observing"
    assert app.observation_ends_at == sh(2026, 3, 17)  # day 1 = 3 March -> 00:00 on 17 March
    timers = obs.timers(case)
    assert timers["observation_end"].due_at == sh(2026, 3, 17)
    assert timers["observation_evening"].due_at == sh(2026, 3, 3, 20)
    assert timers["observation_morning"].due_at == sh(2026, 3, 4, 8, 30)

    obs.run_days(case, day(1), day(13))
    obs.report(case, day(14), at=sh(2026, 3, 16, 10))
    obs.sweep(sh(2026, 3, 16, 20))
    assert obs.notes(case, level="applicant") == [] and obs.notes(case, kind="observation_missed_day") == []

    obs.sweep(sh(2026, 3, 16, 23, 59, 59))
    assert obs.app(case).status == "observing"  # not a second early
    fired = obs.sweep(sh(2026, 3, 17, 0, 0))
    assert fired == {"observation_end": 1}
    app = obs.app(case)
    assert (app.status, app.decision, app.decided_at) == ("approved", "observation_clear", sh(2026, 3, 17))
    assert not any(t.pending for t in obs.timers(case).values())  # reminders stop with the period

    with obs.store.session() as s:
        app = s.get(Application, case)
        workflow.finish(session=s, application=app, at=obs.clock.now(), settings=obs.settings)
        s.commit()
        passes = s.exec(select(Pass).where(Pass.application_id == case).order_by(Pass.issued_at)).all()
    assert [(p.colour, p.revoked_at is not None) for p in passes] == [("yellow", True), ("green", False)]
    assert passes[0].revoked_at == obs.clock.now() and passes[1].issued_by == "system"
    assert [e.action for e in obs.events(case)][-4:] == ["observation_cleared", "pass_revoked", "pass_issued", "completed"]


def test_r8_missed_day_reminds_then_reaches_issuer_queue(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.report(case, day(1), at=sh(2026, 3, 3, 10))
    obs.sweep(sh(2026, 3, 3, 20))
    obs.sweep(sh(2026, 3, 4, 8, 30))
    assert obs.notes(case, level="applicant") == []

    # Day 2 (4 March): no report.
    obs.sweep(sh(2026, 3, 4, 19, 59, 59))
    assert obs.notes(case, level="applicant") == []
    obs.sweep(sh(2026, 3, 4, 20))
    [reminder] = obs.notes(case, level="applicant")
    assert reminder.kind == "observation_reminder" and "2026-03-04" in reminder.message
    assert reminder.created_at == sh(2026, 3, 4, 20)
    assert obs.notes(case, kind="observation_missed_day") == []  # not before the next morning

    obs.sweep(sh(2026, 3, 5, 8, 29, 59))
    assert obs.notes(case, kind="observation_missed_day") == []
    obs.sweep(sh(2026, 3, 5, 8, 30))
    [item] = obs.notes(case, kind="observation_missed_day")
    assert (item.recipient_level, item.recipient_code) == ("issuer", COMMUNITY)
    assert "2026-03-04" in item.message and "day 2" in item.message
    assert obs.notes(case, level="community_head") == []  # one missed day only
    status = obs.status(case)
    assert status["days"][1]["status"] == "missing" and status["days"][1]["in_issuer_queue"]
    assert status["days_missing"] == 1 and not status["green_on_schedule"]

    # One rolling timer per kind, re-armed for the next day.
    timers = obs.timers(case)
    assert timers["observation_evening"].pending and timers["observation_evening"].due_at == sh(2026, 3, 5, 20)
    assert timers["observation_morning"].pending and timers["observation_morning"].due_at == sh(2026, 3, 6, 8, 30)
    assert timers["observation_morning"].fired_at is None

    # Every other day reported: the missed day alone blocks the automatic green (R9).
    obs.run_days(case, day(3), day(13))
    obs.report(case, day(14), at=sh(2026, 3, 16, 10))
    assert len(obs.notes(case, kind="observation_missed_day")) == 1  # day 2 is queued once
    assert len(obs.notes(case, kind="observation_reminder")) == 12  # day 2 stays unreported: every evening from 4 to 15 March
    obs.sweep(sh(2026, 3, 17))
    app = obs.app(case)
    assert app.status == "awaiting_audit" and app.decision is None
    [needs] = obs.events(case, "observation_needs_audit")
    assert needs.reason.startswith("1 missing day(s), 0 open abnormal") and needs.data["missing_days"] == ["2026-03-04"]
    with obs.store.session() as s:
        app = s.get(Application, case)
        workflow.assign_audit(session=s, application=app, at=obs.clock.now(), settings=obs.settings)
        s.commit()
        task = s.exec(select(AuditTask).where(AuditTask.application_id == case)).one()
    assert (task.holder_kind, task.holder_code) == ("community", COMMUNITY)
    assert obs.app(case).sla_due_at is not None  # the community audit runs on its own SLA


def test_r8_late_report_before_the_morning_keeps_the_day_out_of_the_queue(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.sweep(sh(2026, 3, 3, 20))
    assert len(obs.notes(case, kind="observation_reminder")) == 1
    row = obs.report(case, day(1), at=sh(2026, 3, 4, 7, 15))
    assert row.late
    obs.sweep(sh(2026, 3, 4, 8, 30))
    assert obs.notes(case, kind="observation_missed_day") == []
    assert obs.status(case)["days"][0]["status"] == "late"


def test_r8_two_missed_days_reach_community_head(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.report(case, day(1), at=sh(2026, 3, 3, 10))
    obs.sweep(sh(2026, 3, 4, 8, 30))
    # Days 2 and 3 without a report, and the sweep step by step:
    obs.sweep(sh(2026, 3, 4, 20))
    obs.sweep(sh(2026, 3, 5, 8, 30))
    assert len(obs.notes(case, kind="observation_missed_day")) == 1 and obs.notes(case, level="community_head") == []
    obs.sweep(sh(2026, 3, 5, 20))
    obs.sweep(sh(2026, 3, 6, 8, 30))
    items = obs.notes(case, kind="observation_missed_day")
    assert [("2026-03-04" in n.message, "2026-03-05" in n.message) for n in items] == [(True, False), (False, True)]
    [head] = obs.notes(case, level="community_head")
    assert (head.kind, head.recipient_code, head.created_at) == ("observation_missed_consecutive", COMMUNITY, sh(2026, 3, 6, 8, 30))
    assert "2 consecutive days" in head.message and "2026-03-04 to 2026-03-05" in head.message
    # Reporting again ends the run: the next morning queues nothing more.
    obs.report(case, day(4), at=sh(2026, 3, 6, 9))
    obs.sweep(sh(2026, 3, 7, 8, 30))
    assert len(obs.notes(case, kind="observation_missed_day")) == 2 and len(obs.notes(case, level="community_head")) == 1


def test_r8_a_late_sweep_catches_up_in_one_firing(obs):
    """The sweep was down for two days: one firing per timer, every missed day queued, the head told once."""
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.report(case, day(1), at=sh(2026, 3, 3, 10))
    fired = obs.sweep(sh(2026, 3, 6, 9))
    assert fired == {"observation_evening": 1, "observation_morning": 1}
    [reminder] = obs.notes(case, level="applicant")
    assert "2026-03-04" in reminder.message and "2026-03-05" in reminder.message
    assert len(obs.notes(case, kind="observation_missed_day")) == 2
    assert len(obs.notes(case, level="community_head")) == 1
    timers = obs.timers(case)
    assert timers["observation_evening"].due_at == sh(2026, 3, 6, 20) and timers["observation_morning"].due_at == sh(2026, 3, 7, 8, 30)


def test_r8_abnormal_report_holds_the_period(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.run_days(case, day(1), day(2))
    fever = obs.report(case, day(3), at=sh(2026, 3, 5, 10), temperature=37.3)  # the threshold itself is a fever
    assert fever.abnormal and not fever.late
    [urgent] = obs.notes(case, kind="observation_abnormal")
    assert (urgent.recipient_level, urgent.recipient_code) == ("issuer", COMMUNITY)
    assert urgent.message.startswith("URGENT") and "37.3 °C" in urgent.message
    status = obs.status(case)
    assert status["held"] and "2026-03-05" in status["why"][0] and status["days"][2]["status"] == "abnormal"

    # Every other day fine; nobody records an outcome: no automatic green.
    obs.sweep(sh(2026, 3, 5, 20))
    obs.sweep(sh(2026, 3, 6, 8, 30))
    obs.run_days(case, day(4), day(13))
    obs.report(case, day(14), at=sh(2026, 3, 16, 10))
    assert obs.notes(case, kind="observation_missed_day") == [] and obs.notes(case, level="applicant") == []
    obs.sweep(sh(2026, 3, 17))
    app = obs.app(case)
    assert app.status == "awaiting_audit" and app.decision is None
    [needs] = obs.events(case, "observation_needs_audit")
    assert "1 open abnormal" in needs.reason and needs.data["open_abnormal"] == [fever.id]


def test_r8_recorded_outcome_releases_the_hold(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    cough = obs.report(case, day(1), at=sh(2026, 3, 3, 10), symptoms=("cough",))
    assert cough.abnormal and obs.status(case)["held"]
    with obs.store.session() as s:
        app = s.get(Application, case)
        with pytest.raises(Invalid):
            observation.record_outcome(session=s, application=app, report_id=cough.id, outcome="  ", by="u", at=obs.clock.now())
        observation.record_outcome(session=s, application=app, report_id=cough.id, outcome="Visited: dry air, no fever.", by="u", at=obs.clock.now())
        s.commit()
        with pytest.raises(Conflict):
            observation.record_outcome(session=s, application=app, report_id=cough.id, outcome="again", by="u", at=obs.clock.now())
    status = obs.status(case)
    assert not status["held"] and status["why"] == [] and status["days"][0]["report"]["outcome"] == "Visited: dry air, no fever."
    obs.run_days(case, day(2), day(13))
    obs.report(case, day(14), at=sh(2026, 3, 16, 10))
    obs.sweep(sh(2026, 3, 17))
    assert obs.app(case).decision == "observation_clear"


def test_r8_one_report_a_day_within_the_period(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    obs.report(case, day(1))
    with pytest.raises(Conflict):
        obs.report(case, day(1))
    with pytest.raises(Invalid, match="future"):
        obs.report(case, day(2))
    with pytest.raises(Invalid, match="observation period"):
        obs.report(case, day(0))
    obs.clock.set(sh(2026, 3, 17))
    with pytest.raises(Conflict, match="ended"):  # after 00:00 of day 15, even before the sweep ran
        obs.report(case, day(14))


@pytest.mark.parametrize(
    ("arrived", "ends"),
    [
        (sh(2026, 3, 1, 0, 0), sh(2026, 3, 15)),
        (sh(2026, 3, 1, 23, 59), sh(2026, 3, 15)),
        (sh(2026, 3, 25, 18, 40), sh(2026, 4, 8)),  # across the month end
    ],
    ids=["arrival-00:00", "arrival-23:59", "across-month-end"],
)
def test_r9_day_one_rule_edges(obs, arrived, ends):
    case = obs.arrive(at=arrived)
    app = obs.app(case)
    assert app.observation_ends_at == ends
    assert obs.timers(case)["observation_end"].due_at == ends
    status = obs.status(case)
    first, last = arrived.date(), ends.date() - timedelta(days=1)
    assert (status["period"]["day_1"], status["period"]["last_day"], status["period"]["ends_on"]) == (first, last, ends.date())
    assert [d["day"] for d in status["days"]] == [first + timedelta(days=i) for i in range(14)]
    assert status["period"]["countdown_seconds"] == int((ends - arrived).total_seconds())
    # A report in the arrival minute is on time for day 1 (the Shanghai date, not the UTC one).
    row = obs.report(case, first)
    assert row.day == first and not row.late
    obs.sweep(ends - timedelta(seconds=1))
    assert obs.app(case).status == "observing"
    assert obs.sweep(ends).get("observation_end") == 1
    assert obs.app(case).status == "awaiting_audit"  # days were left unreported here


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r9_red_list_hit_is_never_cleared_automatically(obs):
    """As with R12: a comparison hit on a red list goes to the community audit, even after a clean period."""
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    with obs.store.session() as s:
        app = s.get(Application, case)
        app.red_list = True
        s.add(app)
        s.commit()
    for n in range(1, 15):
        obs.report(case, day(n), at=sh(2026, 3, 16, 10))  # all at once on the last day: late, but reported
    assert not obs.status(case)["green_on_schedule"]
    obs.sweep(sh(2026, 3, 17))
    assert obs.app(case).status == "awaiting_audit"
    [needs] = obs.events(case, "observation_needs_audit")
    assert needs.reason == "0 missing day(s), 0 open abnormal report(s), red-list comparison hit or declared fever/symptom"
