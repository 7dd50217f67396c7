"""The SLA ladder in the store, on a simulated clock (R10-R13, R19, R21): warnings,
breach, responsibility, provincial audit, auto-issue, pauses. SQLite and PostgreSQL."""
from __future__ import annotations

from sqlmodel import select

from cases.models import (
    Application,
    AuditTask,
    CaseStatus,
    FlowDispatch,
    Pass,
    ProvincialAuditItem,
    ResponsibilityRecord,
    User,
)
from cases.services import audit, workflow
from sla_support import actions, local, notifications, open_case, show, sweep, timers


def _issuer(session, username="qingdao-issuer") -> User:
    return session.exec(select(User).where(User.username == username)).one()


def test_r11_r12_r13_whole_ladder_simulated_clock(seeded, clock):
    """Tue 2026-03-03 09:00 online -> due 16:30 (3 h before lunch, 3 h after). 50 % = 12:00,
    80 % = 4.8 working hours = 15:18, breach 16:30, auto-issue after the 2-working-hour
    supervisor window: 16:30-17:30 Tue + 08:30-09:30 Wed = Wed 09:30 (< 18:00 Wed, R12)."""
    app_id, task_id = open_case(seeded, clock)
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert show(app.sla_started_at) == "2026-03-03 09:00" and show(app.sla_due_at) == "2026-03-03 16:30"
        planned = {k: show(t.due_at) for k, t in timers(s, app_id).items()}
    assert planned == {
        "reminder_50": "2026-03-03 12:00",
        "warn_80": "2026-03-03 15:18",
        "breach": "2026-03-03 16:30",
        "city_1wd": "2026-03-04 16:30",  # one working day (7.5 h) after the breach
        "province_2wd": "2026-03-05 16:30",
    }

    clock.set(local("2026-03-03 11:59"))
    assert sweep(seeded, clock) == {}  # nothing early
    clock.set(local("2026-03-03 12:00"))
    assert sweep(seeded, clock) == {"reminder_50": 1}
    assert sweep(seeded, clock) == {}  # idempotent
    clock.set(local("2026-03-03 15:18"))
    assert sweep(seeded, clock) == {"warn_80": 1}
    clock.set(local("2026-03-03 16:29:59"))
    assert sweep(seeded, clock) == {}
    with seeded.session() as s:
        assert s.exec(select(ResponsibilityRecord)).first() is None
    clock.set(local("2026-03-03 16:30"))
    assert sweep(seeded, clock) == {"breach": 1}

    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.awaiting_audit and show(app.breached_at) == "2026-03-03 16:30"
        sent = [(n.kind, n.recipient_level, n.recipient_code, show(n.created_at)) for n in notifications(s, app_id)]
        assert sent == [
            ("sla_reminder_50", "issuer", "370202001001", "2026-03-03 12:00"),
            ("sla_warn_80", "community_head", "370202001001", "2026-03-03 15:18"),
            ("sla_breach", "county", "370202", "2026-03-03 16:30"),
        ]
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert (record.responsible_kind, record.responsible_code) == ("community", "370202001001")
        assert show(record.breach_at) == show(record.due_at) == "2026-03-03 16:30"
        assert record.issuers == ["issuer-370202001001", "qingdao-issuer"]  # unclaimed: every issuer of the community
        assert record.ownership == [{"kind": "community", "code": "370202001001", "seconds": 6 * 3600.0}]
        assert record.outcome is None
        item = s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.application_id == app_id)).one()
        assert item.kind == "breach" and item.region_code == "370202001001"
        auto = timers(s, app_id)["auto_issue"]
        assert show(auto.due_at) == "2026-03-04 09:30" and auto.pending

    clock.set(local("2026-03-04 09:29"))
    assert sweep(seeded, clock) == {}
    clock.set(local("2026-03-04 09:30"))
    assert sweep(seeded, clock) == {"auto_issue": 1}
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.auto_issued and app.decision == "auto_issue"
        assert show(app.decided_at) <= "2026-03-04 18:00"  # R12: before 18:00 the next day
        outbox = s.exec(select(FlowDispatch).where(FlowDispatch.application_id == app_id, FlowDispatch.action == "resume")).one()
        assert outbox.pending
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert record.outcome == "auto_issued" and record.delay_seconds == (local("2026-03-04 09:30") - local("2026-03-03 16:30")).total_seconds()
        task = s.get(AuditTask, task_id)
        assert task.decision == "auto_issue" and task.decided_by == "system"
        later = timers(s, app_id)
        assert all(not later[k].pending and later[k].fired_at is None and later[k].cancelled_at is not None for k in ("city_1wd", "province_2wd"))
        # The flow resumes and issues the pass.
        result = workflow.finish(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.commit()
        assert result["colour"] == "green"
        issued = s.exec(select(Pass).where(Pass.application_id == app_id)).one()
        assert issued.colour == "green" and issued.issued_by == "system"

    for when in ("2026-03-04 16:30", "2026-03-05 16:30", "2026-03-09 09:00"):
        clock.set(local(when))
        assert sweep(seeded, clock) == {}
    with seeded.session() as s:
        assert [n.kind for n in notifications(s, app_id)] == ["sla_reminder_50", "sla_warn_80", "sla_breach"]
        sequence = [a for a in actions(s, app_id) if a.startswith(("sla_", "auto_issue", "decision_", "completed"))]
        assert sequence == ["sla_started", "sla_reminder_50", "sla_warn_80", "sla_breach", "auto_issue_scheduled", "decision_auto_issue", "completed"]


def test_r12_red_list_case_is_never_auto_issued(seeded, clock):
    app_id, _ = open_case(seeded, clock, red_list=True)
    clock.set(local("2026-03-03 16:30"))
    assert sweep(seeded, clock) == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    with seeded.session() as s:
        assert "auto_issue" not in timers(s, app_id)
        assert "auto_issue_withheld" in actions(s, app_id)
        assert s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.application_id == app_id)).one().kind == "breach"
    clock.set(local("2026-03-04 18:00"))  # past the R12 cutoff: still no pass
    assert sweep(seeded, clock) == {"city_1wd": 1}
    clock.set(local("2026-03-05 16:30"))
    assert sweep(seeded, clock) == {"province_2wd": 1}
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.awaiting_audit and app.decision is None
        assert s.exec(select(Pass).where(Pass.application_id == app_id, Pass.colour == "green")).first() is None
        levels = [(n.recipient_level, n.recipient_code) for n in notifications(s, app_id)]
        assert levels[-3:] == [("county", "370202"), ("city", "370200"), ("province", "370000")]


def test_r12_auto_issue_before_18_next_day(seeded, clock):
    """Fri 2026-03-06 09:30 -> due Fri 17:00. The 2-working-hour window would end Mon 10:00,
    but R12 caps it at 18:00 of the next calendar day: Sat 2026-03-07 18:00, a day off."""
    clock.set(local("2026-03-06 09:30"))
    app_id, _ = open_case(seeded, clock)
    clock.set(local("2026-03-06 17:00"))
    assert sweep(seeded, clock)["breach"] == 1
    with seeded.session() as s:
        assert show(timers(s, app_id)["auto_issue"].due_at) == "2026-03-07 18:00"
    clock.set(local("2026-03-07 17:59"))
    assert sweep(seeded, clock) == {}
    clock.set(local("2026-03-07 18:00"))
    assert sweep(seeded, clock) == {"auto_issue": 1}
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.auto_issued and app.decided_at == local("2026-03-07 18:00")


def test_r12_decision_before_auto_issue_cancels_it(seeded, clock):
    app_id, task_id = open_case(seeded, clock)
    clock.set(local("2026-03-03 16:30"))
    sweep(seeded, clock)
    clock.set(local("2026-03-04 09:00"))  # inside the supervisor window
    with seeded.session() as s:
        issuer = _issuer(s)
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        audit.decide(session=s, task_id=task_id, user=issuer, action="approve", at=clock.now(), settings=seeded.settings)
        s.commit()
    clock.set(local("2026-03-04 09:30"))
    assert sweep(seeded, clock) == {}
    clock.set(local("2026-03-06 09:00"))
    assert sweep(seeded, clock) == {}
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.approved and app.decided_at == local("2026-03-04 09:00")
        auto = timers(s, app_id)["auto_issue"]
        assert auto.fired_at is None and auto.cancelled_at == local("2026-03-04 09:00") and not auto.pending
        assert "decision_auto_issue" not in actions(s, app_id)
        assert [n.kind for n in notifications(s, app_id)][-1] == "sla_breach"
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert record.outcome != "auto_issued"  # the breach stays on the record


def test_r13_sweep_down_for_hours_records_true_breach_time(seeded, clock):
    """No sweep from Tue 09:00 until Thu 17:00; one sweep catches up in the order the timers
    were due: the auto-issue (Wed 09:30) decides the case before the city step (Wed 16:30)."""
    app_id, _ = open_case(seeded, clock)
    clock.set(local("2026-03-05 17:00"))
    fired = sweep(seeded, clock, batch=2)  # small batches: catching up spans several
    assert fired == {"reminder_50": 1, "warn_80": 1, "breach": 1, "auto_issue": 1}
    assert sweep(seeded, clock) == {}
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.auto_issued and show(app.breached_at) == "2026-03-03 16:30"
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert record.breach_at == record.due_at == local("2026-03-03 16:30")  # not the sweep time
        assert record.created_at == local("2026-03-05 17:00")
        assert record.outcome == "auto_issued"
        sequence = [a for a in actions(s, app_id) if a.startswith(("sla_", "auto_issue", "decision_"))]
        assert sequence == ["sla_started", "sla_reminder_50", "sla_warn_80", "sla_breach", "auto_issue_scheduled", "decision_auto_issue"]
        t = timers(s, app_id)
        assert t["auto_issue"].fired_at == local("2026-03-05 17:00") and show(t["auto_issue"].due_at) == "2026-03-04 09:30"
        assert t["city_1wd"].fired_at is None and t["province_2wd"].fired_at is None
        assert len(s.exec(select(FlowDispatch).where(FlowDispatch.application_id == app_id, FlowDispatch.action == "resume")).all()) == 1
        breach_note = [n for n in notifications(s, app_id) if n.kind == "sla_breach"][0]
        assert "2026-03-03 16:30" in breach_note.message


def test_r10_counter_case_clock_hours(seeded, clock):
    """A counter case that needs verification: 6 clock hours, nights and lunch included."""
    clock.set(local("2026-03-03 15:00"))
    app_id, _ = open_case(seeded, clock, channel="counter", needs_verification=True)
    with seeded.session() as s:
        app = s.get(Application, app_id)
        assert show(app.sla_due_at) == "2026-03-03 21:00"
        planned = {k: show(t.due_at) for k, t in timers(s, app_id).items()}
    assert planned["reminder_50"] == "2026-03-03 18:00" and planned["warn_80"] == "2026-03-03 19:48"
    assert planned["breach"] == "2026-03-03 21:00"
    clock.set(local("2026-03-03 21:00"))
    assert sweep(seeded, clock) == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    with seeded.session() as s:
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert show(record.breach_at) == "2026-03-03 21:00"
        # Breach 21:00 Tue after working hours: the 2-working-hour window ends Wed 10:30.
        assert show(timers(s, app_id)["auto_issue"].due_at) == "2026-03-04 10:30"


def test_sla_pause_on_supplement_resumes_with_remaining_time(seeded, clock):
    app_id, task_id = open_case(seeded, clock)
    clock.set(local("2026-03-03 09:30"))
    with seeded.session() as s:
        issuer = _issuer(s)
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        # R19: verifying an unknown applicant does not stop the clock.
        audit.decide(session=s, task_id=task_id, user=issuer, action="verify_contact", contact_method="phone", explanation="Called the applicant and the building manager.", at=clock.now(), settings=seeded.settings)
        s.commit()
        app = s.get(Application, app_id)
        assert app.sla_paused_at is None and show(app.sla_due_at) == "2026-03-03 16:30"
        assert "sla_paused" not in actions(s, app_id)
    clock.set(local("2026-03-03 10:00"))
    with seeded.session() as s:
        audit.decide(session=s, task_id=task_id, user=_issuer(s), action="request_supplement", missing_items=["arrival ticket"], at=clock.now(), settings=seeded.settings)
        s.commit()
        app = s.get(Application, app_id)
        assert app.status == CaseStatus.awaiting_applicant and app.sla_paused_at == local("2026-03-03 10:00")
        assert all(not t.pending for k, t in timers(s, app_id).items() if k != "auto_issue")
    clock.set(local("2026-03-03 17:00"))  # the old due time passes while paused: no breach
    assert sweep(seeded, clock) == {}
    clock.set(local("2026-03-04 09:00"))
    with seeded.session() as s:
        audit.supply(session=s, application=s.get(Application, app_id), items={"arrival ticket": "G123"}, at=clock.now(), settings=seeded.settings)
        s.commit()
        app = s.get(Application, app_id)
        # Paused working time: Tue 10:00-12:00, 13:30-17:30, Wed 08:30-09:00 = 6.5 h.
        assert app.sla_paused_seconds == 6.5 * 3600 and app.sla_paused_at is None
        # 5 working hours were left at the pause: Wed 09:00 + 3 h -> 12:00, + 2 h -> 15:30.
        assert show(app.sla_due_at) == "2026-03-04 15:30" and app.status == CaseStatus.awaiting_audit
        planned = {k: (show(t.due_at), t.pending) for k, t in timers(s, app_id).items()}
        # 50 % = 3 h of SLA time: 1 h before the pause + 2 h after Wed 09:00 -> 11:00.
        assert planned["reminder_50"] == ("2026-03-04 11:00", True)
        assert planned["breach"] == ("2026-03-04 15:30", True)
        sequence = [a for a in actions(s, app_id) if a.startswith(("sla_", "supplement", "contact"))]
        assert sequence == ["sla_started", "contact_attempt", "sla_paused", "supplement_requested", "supplement_supplied", "sla_resumed"]
    clock.set(local("2026-03-04 15:30"))
    assert sweep(seeded, clock) == {"reminder_50": 1, "warn_80": 1, "breach": 1}
    with seeded.session() as s:
        record = s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app_id)).one()
        assert show(record.breach_at) == show(record.due_at) == "2026-03-04 15:30"
        assert record.issuers == ["qingdao-issuer"]  # the issuer who claimed the case, by username
        # R13: the community owns the SLA time it held, not the 6.5 h the applicant owed an item.
        assert record.ownership == [{"kind": "community", "code": "370202001001", "seconds": 6 * 3600.0}]


def test_r13_late_human_decision_closes_the_responsibility_record(seeded, clock):
    """A breached case decided by its issuer afterwards: the record says so and how late."""
    from datetime import timedelta

    from cases.models import ResponsibilityRecord, User
    from cases.services import audit, sla_service

    case_id, task_id = open_case(seeded, clock)
    clock.advance(timedelta(hours=8))  # 17:00: past the 16:30 due time
    with seeded.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)
        s.commit()
        issuer = s.exec(select(User).where(User.username == "qingdao-issuer")).one()
        audit.decide(session=s, task_id=task_id, user=issuer, action="approve", at=clock.now(), settings=seeded.settings)
        s.commit()
        record = s.exec(select(ResponsibilityRecord)).one()
        assert record.outcome == "approved_late" and record.delay_seconds == 30 * 60
