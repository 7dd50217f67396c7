"""Daily roll-ups behind the trends (issue 13): decision times in working hours on the R11
calendar, breaches (R13), auto-issues (R12), rejections and complaints per region and level,
idempotent re-roll-ups, and the period sums of the read model. Real dates of March 2026
(Mon 2 … Mon 9; Sat 7 and Sun 8 are days off), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from cases.clock import SHANGHAI
from cases.models import ProvincialAuditItem, User
from cases.scope import scope_for
from cases.services import trends as trends_service
from cases.trends.models import TrendDaily, TrendRollup
from tests.trends.support import (
    COMPLAINTS, JINAN, LIXIA, LIXIA_A, LIXIA_B, NOT_AUDIT_DECISIONS, OTHER_COUNTY, PROVINCE, QINGDAO, ROWS, TREE, expected, nearest_rank, roll, sh,
)

@pytest.mark.parametrize("row", ROWS + NOT_AUDIT_DECISIONS, ids=lambda r: r.why)
def test_r11_decision_time_in_working_minutes(seeded, row):
    from cases.services import sla_service

    with seeded.session() as s:
        cal = sla_service.calendar(s, seeded.settings)
    got = trends_service.decision_minutes(started_at=row.started, decided_at=row.decided, paused_seconds=row.paused_seconds, calendar=cal)
    assert got == row.minutes


@pytest.mark.parametrize("region", [LIXIA_A, LIXIA_B, LIXIA, OTHER_COUNTY, JINAN, QINGDAO, PROVINCE])
def test_r11_r12_r13_daily_rollup_per_region_and_level(history, clock, region):
    days = [date(2026, 3, d) for d in range(2, 10)]
    roll(history, days[0], days[-1], now=sh(10, 9))
    with history.session() as s:
        rows = {r.day: r for r in s.exec(select(TrendDaily).where(TrendDaily.region_code == region))}
    for day in days:
        want = expected(region, day)
        row = rows.get(day)
        if not want["decided"] and not want["breaches"] and not want["complaints"]:
            assert row is None or (row.decided, row.breaches, row.complaints) == (0, 0, 0)
            continue
        assert row is not None, f"{region} {day}: no roll-up row"
        got_minutes = sorted(int(m) for m, n in row.decision_minutes.items() for _ in range(n))
        assert (row.decided, row.rejected, row.auto_issued, row.decided_breached, row.breaches, row.complaints, got_minutes) == (
            want["decided"], want["rejected"], want["auto_issued"], want["decided_breached"], want["breaches"], want["complaints"], want["minutes"]
        ), f"{region} {day}"


def test_r11_weekly_median_and_p90_merge_the_days(history, clock):
    roll(history, date(2026, 3, 2), date(2026, 3, 9), now=sh(10, 9))
    with history.session() as s:
        jinan = scope_for(s, s.exec(select(User).where(User.username == "jinan-supervisor")).one())
        week = trends_service.trends(session=s, scope=jinan, region=None, granularity="week", start=date(2026, 3, 2), end=date(2026, 3, 8), now=sh(10, 9))
        days = trends_service.trends(session=s, scope=jinan, region=None, granularity="day", start=date(2026, 3, 2), end=date(2026, 3, 8), now=sh(10, 9))
    in_week = [r for r in ROWS if JINAN in TREE[r.community] and date(2026, 3, 2) <= r.decided.astimezone(SHANGHAI).date() <= date(2026, 3, 8)]
    minutes = [r.minutes for r in in_week if r.minutes is not None]
    assert len(week.points) == 1 and week.region.code == JINAN
    point = week.points[0]
    assert point.decided == len(in_week) == sum(p.decided for p in days.points)
    assert point.median_hours == round(nearest_rank(minutes, 0.5) / 60, 2)
    assert point.p90_hours == round(nearest_rank(minutes, 0.9) / 60, 2)
    assert point.breach_rate == round(sum(r.breached is not None for r in in_week) / len(in_week), 4)
    assert point.auto_issue_rate == round(sum(r.decision == "auto_issue" for r in in_week) / len(in_week), 4)
    assert point.rejection_rate == round(sum(r.decision == "reject" for r in in_week) / len(in_week), 4)
    assert point.complaints == sum(1 for code, at in COMPLAINTS if JINAN in TREE[code] and at.date() <= date(2026, 3, 8))
    assert week.days_not_rolled_up == []


def test_rerolling_a_day_is_idempotent_and_picks_up_late_changes(history, clock):
    roll(history, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 9))
    with history.session() as s:
        first = sorted((r.region_code, r.day, r.decided, r.complaints, r.decision_minutes) for r in s.exec(select(TrendDaily)))
    roll(history, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 10))
    with history.session() as s:
        again = sorted((r.region_code, r.day, r.decided, r.complaints, r.decision_minutes) for r in s.exec(select(TrendDaily)))
        assert s.get(TrendRollup, date(2026, 3, 3)).final
        s.add(ProvincialAuditItem(kind="complaint", region_code=LIXIA_B, summary="late import", created_at=sh(3, 15)))
        s.commit()
    assert again == first
    roll(history, date(2026, 3, 3), date(2026, 3, 3), now=sh(5, 11))
    with history.session() as s:
        lixia = s.get(TrendDaily, (LIXIA, date(2026, 3, 3)))
    assert lixia.complaints == expected(LIXIA, date(2026, 3, 3))["complaints"] + 1


def test_sweep_rolls_up_ended_days_once_and_today_at_most_every_ten_minutes(history, clock):
    with history.session() as s:
        first = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12))
        s.commit()
        again = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12, 5))
        later = trends_service.rollup_pending(session=s, settings=history.settings, now=sh(4, 12, 11))
        s.commit()
        today = s.get(TrendRollup, date(2026, 3, 4))
    assert first[-1] == date(2026, 3, 4) and date(2026, 3, 3) in first
    assert again == []  # ended days are final; today was rolled 5 minutes ago
    assert later == [date(2026, 3, 4)] and not today.final


def test_r12_r13_a_real_breach_and_auto_issue_are_rolled_up(seeded, clock):
    """Through the real services: a Qingdao case submitted Tue 3 March 09:00 breaches at 16:30
    (6 working hours, R11), the sweep records it (R13) and auto-issues it (R12) on the next day."""
    from cases.models import Application, ResponsibilityRecord
    from tests.sla_store.sla_support import open_case, sweep

    case_id, _ = open_case(seeded, clock)
    clock.set(sh(3, 16, 31))
    sweep(seeded, clock)
    clock.set(sh(4, 17, 59))
    sweep(seeded, clock)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        assert app.decision == "auto_issue" and app.breached_at is not None
        assert s.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == case_id)).one().outcome == "auto_issued"
        decided_on = app.decided_at.astimezone(SHANGHAI).date()
    roll(seeded, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 9))
    with seeded.session() as s:
        breach_day = s.get(TrendDaily, (QINGDAO, date(2026, 3, 3)))
        decision_day = s.get(TrendDaily, (QINGDAO, decided_on))
    assert (breach_day.submitted, breach_day.breaches) == (1, 1)
    assert (decision_day.decided, decision_day.auto_issued, decision_day.decided_breached) == (1, 1, 1)
    # 3 March 09:00-12:00 and 13:30-17:30 (420 min), then the whole of 4 March until the decision.
    until = app.decided_at.astimezone(SHANGHAI)
    second_day = min(210, max(0, (until.hour * 60 + until.minute) - 510)) + min(240, max(0, (until.hour * 60 + until.minute) - 810))
    assert decision_day.decision_minutes == {str(420 + second_day): 1}


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_two_rollups_of_the_same_day_at_once_do_not_collide(history, clock):
    """The sweep and an operator rolling up the same day: the advisory lock serialises the
    delete + insert, so neither fails on the primary key and the rows are those of one run."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(minute: int) -> None:
        try:
            barrier.wait()
            roll(history, date(2026, 3, 3), date(2026, 3, 4), now=sh(5, 9, minute))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with history.session() as s:
        lixia = s.get(TrendDaily, (LIXIA, date(2026, 3, 3)))
        count = len(s.exec(select(TrendDaily).where(TrendDaily.region_code == LIXIA)).all())
    want = expected(LIXIA, date(2026, 3, 3))
    assert (lixia.decided, lixia.complaints) == (want["decided"], want["complaints"]) and count == 2
