"""The sweep's guarantees: two sweepers never fire a timer twice (PostgreSQL, SKIP LOCKED),
and its cost follows the timers due, not the timers (or cases) pending."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from cases.models import CaseEvent, Notification, SlaTimer
from cases.services import sla_service
from sla_support import bulk_cases, local, seed_store

LADDER = (("reminder_50", "issuer"), ("warn_80", "community_head"))


@pytest.mark.postgres
def test_two_sweeps_at_once_fire_each_timer_once(pg_store, clock):
    """300 cases, two due timers each (600 timers; a case's timers lie next to each other
    in due order, so the sweepers' batches meet on the same cases); two sweeps start
    together on separate sessions. Without case-level locking they collide on a case's
    event sequence (and could fire a later step before an earlier one)."""
    seed_store(pg_store, clock)
    start = local("2026-03-03 09:00")
    with pg_store.session() as s:
        ids = bulk_cases(s, 300, at=start)
        for n, app_id in enumerate(ids):
            for i, (kind, level) in enumerate(LADDER):
                s.add(SlaTimer(application_id=app_id, kind=kind, level=level, due_at=start + timedelta(seconds=n * 10 + i)))
        s.commit()
    now = local("2026-03-03 09:55")
    barrier = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with pg_store.session() as s:
                barrier.wait()
                results.append(sla_service.sweep(session=s, now=now, settings=pg_store.settings, batch=75))  # odd: batches split cases
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    # A case one sweeper holds is skipped by the other; a last sweep picks up any such leftovers.
    with pg_store.session() as s:
        results.append(sla_service.sweep(session=s, now=now, settings=pg_store.settings))
    total = Counter()
    for r in results:
        total.update(r)
    assert total == {"reminder_50": 300, "warn_80": 300}
    assert sum(sum(r.values()) for r in results[:2]) > 0 and all(results[:2])  # both did work
    with pg_store.session() as s:
        assert s.exec(select(func.count()).select_from(SlaTimer).where(SlaTimer.fired_at == None)).one() == 0  # noqa: E711
        assert s.exec(select(func.count()).select_from(Notification).where(Notification.kind.like("sla_%"))).one() == 600
        events = list(s.exec(select(CaseEvent).order_by(CaseEvent.application_id, CaseEvent.seq)))
        per_case = Counter((e.application_id, e.action) for e in events)
        assert len(per_case) == 600 and max(per_case.values()) == 1  # no duplicate events
        by_case: dict[str, list[str]] = {}
        for e in events:
            by_case.setdefault(e.application_id, []).append(e.action)
        assert all(seq == ["sla_reminder_50", "sla_warn_80"] for seq in by_case.values())  # in due order


def _count_statements(engine):
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_sweep_cost_follows_due_timers_not_pending_ones(seeded, clock):
    """10 due among 2,000 pending: the sweep fires the 10 and its statements do not grow
    when 2,000 more not-due timers are added."""
    start = local("2026-03-03 09:00")
    now = local("2026-03-03 12:00")

    def setup() -> tuple[list[str], list[str]]:
        with seeded.session() as s:
            idle = bulk_cases(s, 400, at=start)
            for app_id in idle:  # 5 x 400 = 2,000 timers due next week
                for i, kind in enumerate(("reminder_50", "warn_80", "breach", "city_1wd", "province_2wd")):
                    s.add(SlaTimer(application_id=app_id, kind=kind, level="county", due_at=local("2026-03-10 09:00") + timedelta(minutes=i)))
            due = bulk_cases(s, 10, at=start)
            for app_id in due:
                s.add(SlaTimer(application_id=app_id, kind="reminder_50", level="issuer", due_at=local("2026-03-03 11:00")))
            s.commit()
            return idle, due

    def run() -> tuple[dict, list[str]]:
        seen, stop = _count_statements(seeded.engine)
        try:
            with seeded.session() as s:
                fired = sla_service.sweep(session=s, now=now, settings=seeded.settings)
        finally:
            stop()
        return fired, seen

    setup()
    fired, first = run()
    assert fired == {"reminder_50": 10}
    idle, _ = setup()  # 4,000 not-due timers now, 10 more due
    fired, second = run()
    assert fired == {"reminder_50": 10}
    assert len(second) == len(first)
    timer_updates = [q for q in second if q.lstrip().upper().startswith("UPDATE SLATIMER")]
    assert len(timer_updates) == 1  # one conditional claim for the batch's 10 cases, none for the rest
    with seeded.session() as s:
        assert s.exec(select(func.count()).select_from(SlaTimer).where(SlaTimer.pending == True)).one() == 4000  # noqa: E712
        assert s.exec(select(func.count()).select_from(SlaTimer).where(SlaTimer.fired_at != None)).one() == 20  # noqa: E711


@pytest.mark.postgres
def test_sweep_skips_a_case_an_issuer_is_deciding(pg_store, clock):
    """A case whose row an issuer's transaction holds is left for the next sweep: no waiting,
    no deadlock (the issuer locks case -> timers, the sweep never the other way round), and
    no escalation after the decision commits."""
    from cases.models import Application, User
    from cases.services import audit
    from sla_support import open_case, sweep

    seed_store(pg_store, clock)
    app_id, task_id = open_case(pg_store, clock)
    clock.set(local("2026-03-03 16:30"))
    with pg_store.session() as issuer_session:
        issuer = issuer_session.exec(select(User).where(User.username == "qingdao-issuer")).one()
        audit.claim(session=issuer_session, task_id=task_id, user=issuer, at=clock.now())
        audit.decide(session=issuer_session, task_id=task_id, user=issuer, action="approve", at=clock.now(), settings=pg_store.settings)
        issuer_session.flush()  # the case row and its timers are locked, not yet committed
        result: list[dict] = []
        sweeper = threading.Thread(target=lambda: result.append(sweep(pg_store, clock)))
        sweeper.start()
        sweeper.join(30)
        assert not sweeper.is_alive(), "the sweep waited for the issuer's transaction"
        assert result == [{}]
        issuer_session.commit()
    assert sweep(pg_store, clock) == {}
    with pg_store.session() as s:
        assert s.get(Application, app_id).status == "approved"
        assert s.exec(select(func.count()).select_from(Notification).where(Notification.application_id == app_id, Notification.kind.like("sla_%"))).one() == 0


def test_r11_r13_one_batch_of_1000_due_timers_fires_each_once_and_chains_hold(seeded, clock):
    """1,000 due timers in one batch: 400 cases with a reminder and a warning due, 200 of them
    also a breach (R13 record, R12 auto-issue scheduled). Each timer fires once, each case's
    events follow its earlier ones in due order and the chains verify; the events' chain heads
    are read once for the batch, not per event."""
    from cases.events import record_event, verify_chain
    from cases.models import ResponsibilityRecord
    from sla_support import actions

    start, now = local("2026-03-03 09:00"), local("2026-03-03 12:00")
    with seeded.session() as s:
        ids = bulk_cases(s, 400, at=start)
        for n, app_id in enumerate(ids):
            record_event(s, application_id=app_id, actor="system", action="sla_started", at=start, first=True)
            s.add(SlaTimer(application_id=app_id, kind="reminder_50", level="issuer", due_at=local("2026-03-03 10:00")))
            s.add(SlaTimer(application_id=app_id, kind="warn_80", level="community_head", due_at=local("2026-03-03 10:30")))
            if n % 2 == 0:
                s.add(SlaTimer(application_id=app_id, kind="breach", level="county", due_at=local("2026-03-03 11:00")))
        s.commit()
    seen, stop = _count_statements(seeded.engine)
    try:
        with seeded.session() as s:
            fired = sla_service.sweep(session=s, now=now, settings=seeded.settings, batch=1000)
    finally:
        stop()
    assert fired == {"reminder_50": 400, "warn_80": 400, "breach": 200}
    assert len([q for q in seen if q.lstrip().upper().startswith("SELECT") and "FROM caseevent" in q]) == 1
    with seeded.session() as s:
        timers = list(s.exec(select(SlaTimer).where(SlaTimer.application_id.in_(ids))))
        assert sum(t.fired_at == now for t in timers) == 1000 and not any(t.pending for t in timers if t.kind != "auto_issue")
        assert sum(t.kind == "auto_issue" and t.pending for t in timers) == 200
        assert s.exec(select(func.count()).select_from(Notification).where(Notification.application_id.in_(ids))).one() == 1000
        assert s.exec(select(func.count()).select_from(ResponsibilityRecord).where(ResponsibilityRecord.application_id.in_(ids))).one() == 200
        assert actions(s, ids[0]) == ["sla_started", "sla_reminder_50", "sla_warn_80", "sla_breach", "auto_issue_scheduled"]
        assert actions(s, ids[1]) == ["sla_started", "sla_reminder_50", "sla_warn_80"]
        assert verify_chain(s) == []
