"""The demo history `healthpass seed` plays for `make run` (cases/demo_history.py): through the
real services and the SLA sweep at simulated times, it leaves a province where every state a
supervisor or the provincial office looks for exists — and it is deterministic and idempotent."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from typer.testing import CliRunner

import sla
from cases.clock import aware
from cases.demo_history import COMPLAINTS, MARKER, seed_history, sla_state, summary
from cases.models import (
    Application,
    AuditTask,
    CaseEvent,
    ContactAttempt,
    DailyReport,
    FlowDispatch,
    Notification,
    Pass,
    ProvincialAuditItem,
    ResponsibilityRecord,
    SlaTimer,
)
from cases.services.sla_service import calendar

SH = ZoneInfo("Asia/Shanghai")
WEDNESDAY_AFTERNOON = datetime(2026, 3, 4, 15, 40, tzinfo=SH)
SATURDAY_NIGHT = datetime(2026, 3, 7, 23, 30, tzinfo=SH)  # "night in Shanghai", a day off


def _seed(store, clock, now: datetime) -> dict:
    from cases.seed import seed

    clock.set(now)
    with store.session() as s:
        seed(s, at=now, hash_key=store.settings.secret("idhash"))
        s.commit()
    return seed_history(engine=store.engine, settings=store.settings, now=now)


def _history(s) -> list[Application]:
    return list(s.exec(select(Application).where(Application.idempotency_key.like(f"{MARKER}%"))))


def _fingerprint(store, now: datetime) -> dict:
    """Everything a user would count, without ids or random references."""
    with store.session() as s:
        apps = _history(s)
        return {
            "summary": summary(s, now=now, settings=store.settings),
            "cases": Counter((a.city_code, a.community_code, a.kind, a.channel, a.status.value, a.decision) for a in apps),
            "events": Counter(e.action for e in s.exec(select(CaseEvent))),
            "notifications": Counter((n.kind, n.recipient_level, n.recipient_code) for n in s.exec(select(Notification))),
            "records": Counter((r.responsible_kind, r.responsible_code, r.outcome, r.delay_seconds) for r in s.exec(select(ResponsibilityRecord))),
            "items": Counter((i.kind, i.region_code) for i in s.exec(select(ProvincialAuditItem))),
            "timers": Counter((t.kind, t.pending, t.fired_at is not None) for t in s.exec(select(SlaTimer))),
            "passes": Counter((p.colour.value, p.revoked_at is not None) for p in s.exec(select(Pass))),
            "reports": len(s.exec(select(DailyReport)).all()),
        }


def test_r12_r13_demo_history_has_every_state_a_supervisor_looks_for(store, clock):
    result = _seed(store, clock, WEDNESDAY_AFTERNOON)
    assert result["cases"] >= 90
    now = WEDNESDAY_AFTERNOON
    with store.session() as s:
        apps = _history(s)
        by_id = {a.id: a for a in apps}
        cal = calendar(s, store.settings)
        assert {a.city_code for a in apps} == {f"37{n:02d}00" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17)}
        assert min(aware(a.submitted_at) for a in apps) <= now - timedelta(days=18)

        # R13: breaches wrote responsibility records naming the holder and its issuers, and how they ended.
        records = s.exec(select(ResponsibilityRecord)).all()
        outcomes = Counter(r.outcome for r in records)
        assert outcomes["auto_issued"] >= 5 and outcomes["approved_late"] >= 1 and outcomes["rejected_late"] >= 1
        assert all(r.issuers and r.ownership for r in records)
        assert {"community", "unit"} <= {r.responsible_kind for r in records}
        assert {i.application_id for i in s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "breach"))} == {r.application_id for r in records}

        # R12: every automatic green pass came before 18:00 (Asia/Shanghai) of the day after the breach.
        auto = [a for a in apps if a.decision == "auto_issue"]
        assert len(auto) >= 5
        for a in auto:
            assert aware(a.decided_at) <= sla.auto_issue_by(breach_at=aware(a.breached_at))
            green = s.exec(select(Pass).where(Pass.application_id == a.id, Pass.colour == "green")).one()
            assert green.issued_by == "system" and a.status == "completed"

        # On-time decisions, and rejections with their reasons: some 'thin' (false_declaration on a clear comparison).
        on_time = [a for a in apps if a.decision == "approve" and a.breached_at is None and a.kind == "standard"]
        assert len(on_time) >= 40
        assert all(aware(a.decided_at) <= aware(a.sla_due_at) for a in on_time)
        rejections = {t.application_id: t for t in s.exec(select(AuditTask).where(AuditTask.decision == "reject"))}
        reasons = Counter(t.reason_code for t in rejections.values())
        assert reasons["false_declaration"] >= 3 and reasons["identity_not_established"] >= 1 and reasons["comparison_close_contact"] >= 1
        thin = [i for i, t in rejections.items() if t.reason_code == "false_declaration" and by_id[i].comparison_outcome == "clear"]
        assert len(thin) >= 3
        identity = [t for t in rejections.values() if t.reason_code == "identity_not_established"]
        assert all(s.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == t.id)).all() for t in identity)  # R19 first

        # Open work at start, in several SLA states; red-list breaches escalate, never auto-issued.
        states = Counter(sla_state(a, now=now, cal=cal) for a in apps if a.status in ("awaiting_audit", "awaiting_applicant", "observing"))
        assert states["on_time"] >= 3 and states["at_risk"] >= 2 and states["breached"] >= 2 and states["paused"] >= 1 and states["observing"] >= 1
        red = [a for a in apps if a.red_list and a.status == "awaiting_audit"]
        assert red and all(a.breached_at is not None for a in red)
        escalated = {t.application_id for t in s.exec(select(SlaTimer).where(SlaTimer.kind == "province_2wd", SlaTimer.fired_at != None))}  # noqa: E711
        assert {a.id for a in red} <= escalated

        # R7/R8/R9: arrivals got a yellow pass at once, report daily, and the finished ones are green.
        arrivals = [a for a in apps if a.kind == "arrival"]
        observing = [a for a in arrivals if a.status == "observing"]
        assert observing
        for a in observing:
            assert s.exec(select(Pass).where(Pass.application_id == a.id, Pass.colour == "yellow", Pass.revoked_at == None)).one()  # noqa: E711
            assert s.exec(select(DailyReport).where(DailyReport.application_id == a.id)).all()
        assert any(a.decision == "observation_clear" and a.status == "completed" for a in arrivals)
        assert s.exec(select(Notification).where(Notification.kind == "observation_missed_consecutive")).all()

        # The history owes the flow dispatcher nothing: `make run` starts no Prefect run for it.
        assert s.exec(select(FlowDispatch).where(FlowDispatch.pending == True)).all() == []  # noqa: E712


def test_r11_demo_history_at_night_on_a_day_off_still_has_open_work_at_risk_and_breached(sqlite_store, clock):
    _seed(sqlite_store, clock, SATURDAY_NIGHT)
    with sqlite_store.session() as s:
        cal = calendar(s, sqlite_store.settings)
        states = Counter(sla_state(a, now=SATURDAY_NIGHT, cal=cal) for a in _history(s) if a.status in ("awaiting_audit", "awaiting_applicant"))
    assert states["on_time"] >= 3 and states["at_risk"] >= 2 and states["breached"] >= 2


def test_demo_history_is_deterministic(sqlite_store, clock):
    from cases import db
    from tests.conftest import _wipe

    _seed(sqlite_store, clock, WEDNESDAY_AFTERNOON)
    first = _fingerprint(sqlite_store, WEDNESDAY_AFTERNOON)
    _wipe(db.get_engine())
    _seed(sqlite_store, clock, WEDNESDAY_AFTERNOON)
    assert _fingerprint(sqlite_store, WEDNESDAY_AFTERNOON) == first


@pytest.mark.parametrize("how", ["service", "cli"])
def test_demo_history_is_idempotent(store, clock, how):
    from ops.cli import app

    runner = CliRunner()
    clock.set(WEDNESDAY_AFTERNOON)
    if how == "service":
        _seed(store, clock, WEDNESDAY_AFTERNOON)
        before = _fingerprint(store, WEDNESDAY_AFTERNOON)
        assert seed_history(engine=store.engine, settings=store.settings, now=WEDNESDAY_AFTERNOON) == {"skipped": "already seeded"}
    else:
        first = runner.invoke(app, ["seed"])
        assert first.exit_code == 0, first.output
        assert "demo history: {\"cases\"" in first.output
        before = _fingerprint(store, WEDNESDAY_AFTERNOON)
        again = runner.invoke(app, ["seed"])
        assert again.exit_code == 0 and "already seeded" in again.output, again.output
    assert _fingerprint(store, WEDNESDAY_AFTERNOON) == before


def test_demo_history_can_be_skipped(sqlite_store, clock, monkeypatch):
    from ops.cli import app
    from cases.settings import get_settings

    clock.set(WEDNESDAY_AFTERNOON)
    runner = CliRunner()
    result = runner.invoke(app, ["seed", "--no-history"])
    assert result.exit_code == 0 and "not seeded" in result.output, result.output
    monkeypatch.setenv("HEALTHPASS_DEMO_HISTORY", "false")
    get_settings.cache_clear()
    result = runner.invoke(app, ["seed"])
    assert result.exit_code == 0 and "not seeded" in result.output, result.output
    with sqlite_store.session() as s:
        assert _history(s) == [] and s.exec(select(Application)).all() == []


def test_r20_demo_history_has_complaints_online_and_by_hotline_closed_open_and_overdue(store, clock):
    from cases.complaints.models import Complaint
    from cases.complaints.service import listing
    from cases.models import User

    _seed(store, clock, WEDNESDAY_AFTERNOON)
    now = WEDNESDAY_AFTERNOON
    with store.session() as s:
        complaints = s.exec(select(Complaint)).all()
        assert len(complaints) == len(COMPLAINTS)
        assert {"delayed", "refused", "extra_conditions", "rude"} <= {c.category for c in complaints}
        assert {"online", "hotline"} == {c.channel for c in complaints}
        assert all(c.recorded_by == "hotline" for c in complaints if c.channel == "hotline")
        assert len({c.region_code[:4] for c in complaints}) >= 3  # several cities
        about_a_case = [c for c in complaints if c.application_id]
        assert about_a_case and any(c.application_id is None for c in complaints)
        # Closed by the provincial office with a response the complainant reads; others still open.
        closed = [c for c in complaints if c.status == "closed"]
        assert 2 <= len(closed) < len(complaints)
        assert all(c.responded_by == "province" and c.response and aware(c.responded_at) > aware(c.created_at) for c in closed)
        page = listing(session=s, user=s.exec(select(User).where(User.username == "province")).one(), now=now, status="open")
        assert page.total >= 2
        assert any(i.overdue for i in page.items) and any(not i.overdue for i in page.items)
        # Every complaint is an item of the provincial audit queue (R21).
        items = {i.id: i for i in s.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.kind == "complaint"))}
        assert all(c.audit_item_id in items for c in complaints)


def test_r21_demo_history_has_audit_outcomes_of_each_kind_a_reopened_item_and_unclaimed_ones(store, clock):
    from cases.oversight.models import AuditItemHistory, AuditOutcome
    from cases.services.oversight import list_items

    _seed(store, clock, WEDNESDAY_AFTERNOON)
    with store.session() as s:
        items = s.exec(select(ProvincialAuditItem)).all()
        outcomes = Counter(i.outcome for i in items if i.closed_at is not None)
        assert set(outcomes) == {o.value for o in AuditOutcome}
        assert {i.kind for i in items if i.outcome} >= {"breach", "rejection", "complaint"}
        thin = [i for i in items if i.outcome == "disapproval_without_reason"]
        assert thin and all(i.kind == "rejection" and i.thin for i in thin)
        # Re-opened with a note: back in the queue, unclaimed, its earlier outcome kept in the history.
        reopened = [i for i in items if i.reopened_count]
        assert len(reopened) == 1 and reopened[0].outcome is None and reopened[0].claimed_by is None and reopened[0].note
        history = s.exec(select(AuditItemHistory).where(AuditItemHistory.item_id == reopened[0].id).order_by(AuditItemHistory.at)).all()
        assert [h.action for h in history] == ["claimed", "outcome", "reopened"] and history[1].outcome == "justified"
        # One still being worked on, most unclaimed.
        assert any(i.claimed_by is not None and i.closed_at is None for i in items)
        assert sum(1 for i in items if i.claimed_by is None and i.closed_at is None) > len(items) // 2
        # The queue page shows them: open and closed filters.
        assert list_items(session=s, status="closed").total == sum(outcomes.values())
        # The outcomes are evented on their cases.
        assert s.exec(select(CaseEvent).where(CaseEvent.action == "provincial_audit_outcome")).all()


def test_r22_demo_history_evaluates_the_thresholds_at_now_and_lists_what_it_raised(sqlite_store, clock):
    from cases.services.oversight import list_alerts

    result = _seed(sqlite_store, clock, WEDNESDAY_AFTERNOON)
    with sqlite_store.session() as s:
        alerts = list_alerts(session=s)
        notes = s.exec(select(Notification).where(Notification.kind == "threshold_exceeded")).all()
    # Whatever the seeded numbers exceed is listed on the thresholds page, each with its notification to the office.
    assert alerts.total == result["threshold_alerts"] == len(notes) >= 1
    assert all(a.value > a.threshold and a.notification_id in {n.id for n in notes} for a in alerts.items)
