"""Due times (R10, R11), the auto-issue deadline (R12) and running clocks with pauses.

Hours 08:30–12:00 + 13:30–17:30; every expected instant is worked out in its comment.
"""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sla.calendar import WorkingCalendar
from sla.policy import (
    Channel,
    Clock,
    SlaPolicy,
    auto_issue_at,
    auto_issue_by,
    compute_due,
    fraction_elapsed,
    pause,
    remaining,
    resume,
    sla_duration,
    start_clock,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
H = timedelta(hours=1)
CAL = WorkingCalendar()


def sh(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=SH)


def utc(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


# --- R11 / R10: compute_due -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        (sh(2026, 3, 3, 10), sh(2026, 3, 3, 17, 30)),  # across lunch
        (sh(2026, 2, 13, 15), sh(2026, 2, 14, 12)),  # acceptance: working Saturday
        (sh(2026, 3, 6, 14), sh(2026, 3, 9, 11)),  # Friday afternoon → Monday
        (utc(2026, 2, 13, 7), sh(2026, 2, 14, 12)),  # same instant given in UTC
    ],
    ids=["across_lunch", "acceptance", "weekend", "utc"],
)
def test_r11_compute_due_online_six_working_hours(submitted, due):
    assert compute_due(submitted_at=submitted, channel=Channel.ONLINE, calendar=CAL) == due


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        (sh(2026, 3, 3, 20), sh(2026, 3, 4, 2)),  # nights count: clock hours
        (sh(2026, 2, 17, 10), sh(2026, 2, 17, 16)),  # Spring Festival holiday counts too
        (sh(2026, 3, 6, 15), sh(2026, 3, 6, 21)),  # not cut at 17:30
        (utc(2026, 3, 3, 0), sh(2026, 3, 3, 14)),  # 08:00 Shanghai + 6h
    ],
    ids=["overnight", "holiday", "evening", "utc"],
)
def test_r10_counter_verification_six_clock_hours(submitted, due):
    got = compute_due(submitted_at=submitted, channel=Channel.COUNTER, needs_verification=True, calendar=CAL)
    assert got == due
    assert got.utcoffset() == timedelta(hours=8)


def test_r10_counter_without_verification_due_immediately():
    at = sh(2026, 3, 3, 20)
    assert compute_due(submitted_at=at, channel=Channel.COUNTER, calendar=CAL) == at
    assert compute_due(submitted_at=utc(2026, 3, 3, 12), channel="counter", calendar=CAL) == at


def test_r11_compute_due_uses_policy_hours():
    policy = SlaPolicy(online_working_hours=2)
    assert compute_due(submitted_at=sh(2026, 3, 3, 11), channel=Channel.ONLINE, calendar=CAL, policy=policy) == sh(
        2026, 3, 3, 14, 30
    )  # 11–12 = 1h, 13:30+1h


def test_r11_compute_due_rejects_naive_and_computes_uncovered_years_provisionally():
    with pytest.raises(ValueError):
        compute_due(submitted_at=datetime(2026, 3, 3, 10), channel=Channel.ONLINE, calendar=CAL)
    # Wed 2027-03-03 is a working day on the provisional calendar: 10:00 + 2 h, 13:30 + 4 h.
    assert compute_due(submitted_at=sh(2027, 3, 3, 10), channel=Channel.ONLINE, calendar=CAL) == sh(2027, 3, 3, 17, 30)


# --- R12: auto-issue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breach", "latest"),
    [
        (sh(2026, 3, 3, 17, 30), sh(2026, 3, 4, 18)),
        (sh(2026, 3, 3, 23, 30), sh(2026, 3, 4, 18)),
        (sh(2026, 3, 3, 0, 0), sh(2026, 3, 4, 18)),
        (sh(2026, 3, 6, 17, 30), sh(2026, 3, 7, 18)),  # Friday breach → Saturday: calendar day
        (sh(2026, 2, 14, 12), sh(2026, 2, 15, 18)),  # into the Spring Festival: still the next day
        (utc(2026, 3, 3, 16, 30), sh(2026, 3, 5, 18)),  # 00:30 Shanghai on Mar 4 → Mar 5
        (utc(2026, 3, 3, 15, 59), sh(2026, 3, 4, 18)),  # 23:59 Shanghai on Mar 3 → Mar 4
    ],
    ids=["close", "late_evening", "midnight", "friday", "spring_festival", "utc_next_local_day", "utc_same_local_day"],
)
def test_r12_auto_issue_before_18_next_day(breach, latest):
    got = auto_issue_by(breach_at=breach)
    assert got == latest
    assert got.timetz().replace(tzinfo=None) == time(18) and got.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("breach", "issue_at"),
    [
        # Fri 17:30: +2 working hours would be Mon Mar 9 10:30; the cap is Sat Mar 7 18:00.
        (sh(2026, 3, 6, 17, 30), sh(2026, 3, 7, 18)),
        (sh(2026, 3, 3, 10), sh(2026, 3, 3, 12)),  # Tue 10:00 + 2h = 12:00 (interval end)
        (sh(2026, 3, 3, 11), sh(2026, 3, 3, 14, 30)),  # 1h + 13:30+1h
        (sh(2026, 3, 3, 16), sh(2026, 3, 4, 9)),  # 1.5h + 08:30+0.5h, before Wed 18:00
        (utc(2026, 3, 3, 9, 30), sh(2026, 3, 4, 10, 30)),  # 17:30 Shanghai → Wed 08:30+2h
        # Sat Feb 14 (worked) 16:30: 1h that day, the rest on Feb 24; the cap is Feb 15 18:00.
        (sh(2026, 2, 14, 16, 30), sh(2026, 2, 15, 18)),
    ],
    ids=["friday_capped", "tuesday_morning", "across_lunch", "overnight", "utc", "spring_festival_capped"],
)
def test_r12_auto_issue_at_capped_by_cutoff(breach, issue_at):
    assert auto_issue_at(breach_at=breach, calendar=CAL) == issue_at


def test_r12_auto_issue_window_uncapped_value_for_friday():
    # The figure the cap overrides, worked by hand: Fri 17:30 + 2 working hours = Mon 10:30.
    assert CAL.add_working_hours(sh(2026, 3, 6, 17, 30), 2) == sh(2026, 3, 9, 10, 30)


def test_r12_auto_issue_cutoff_configurable():
    policy = SlaPolicy(auto_issue_cutoff=time(12, 0))
    assert auto_issue_by(breach_at=sh(2026, 3, 3, 20), policy=policy) == sh(2026, 3, 4, 12)


def test_r12_naive_breach_rejected():
    with pytest.raises(ValueError):
        auto_issue_by(breach_at=datetime(2026, 3, 3, 20))


def test_sla_policy_validates():
    with pytest.raises(ValueError):
        SlaPolicy(warn_fractions=(0.5, 1.2))
    with pytest.raises(ValueError):
        SlaPolicy(online_working_hours=-1)


# --- clocks: pause, resume, remaining -----------------------------------------------------------


def online_clock():
    return start_clock(started_at=sh(2026, 3, 3, 10), channel=Channel.ONLINE, calendar=CAL)


def test_r11_clock_starts_with_due():
    clock = online_clock()
    assert clock == Clock(channel=Channel.ONLINE, started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 17, 30))
    assert not clock.is_paused


def test_r11_pause_resume_extends_due_by_paused_working_time():
    clock = pause(online_clock(), at=sh(2026, 3, 3, 11))  # 1 h used, 5 h left
    assert remaining(clock, at=sh(2026, 3, 3, 15), calendar=CAL) == 5 * H  # frozen while paused
    assert remaining(clock, at=sh(2026, 3, 5, 15), calendar=CAL) == 5 * H
    # Paused 11:00 Tue → 09:00 Wed: 1h + 4h + 0.5h = 5.5 working hours.
    resumed = resume(clock, at=sh(2026, 3, 4, 9), calendar=CAL)
    assert resumed.paused_total == 5.5 * H
    assert resumed.paused_at is None
    # Old due Tue 17:30 + 5.5h: Wed 08:30+3.5h = 12:00, 13:30+2h = 15:30.
    assert resumed.due_at == sh(2026, 3, 4, 15, 30)
    assert remaining(resumed, at=sh(2026, 3, 4, 9), calendar=CAL) == 5 * H  # 9–12 + 13:30–15:30
    assert sla_duration(resumed, calendar=CAL) == 6 * H
    assert fraction_elapsed(resumed, at=sh(2026, 3, 4, 9), calendar=CAL) == pytest.approx(1 / 6)


def test_r11_pause_outside_working_hours_costs_no_working_time():
    clock = start_clock(started_at=sh(2026, 3, 3, 15), channel=Channel.ONLINE, calendar=CAL)
    assert clock.due_at == sh(2026, 3, 4, 12)  # 2.5h + 3.5h, lands on noon
    resumed = resume(pause(clock, at=sh(2026, 3, 3, 18)), at=sh(2026, 3, 4, 8), calendar=CAL)
    assert resumed.paused_total == timedelta(0)
    assert resumed.due_at == sh(2026, 3, 4, 12)  # not moved to 13:30


def test_r11_pause_across_spring_festival():
    clock = start_clock(started_at=sh(2026, 2, 13, 15), channel=Channel.ONLINE, calendar=CAL)
    assert clock.due_at == sh(2026, 2, 14, 12)
    # Paused Sat Feb 14 09:00 (3h used) → Tue Feb 24 09:00: 3h + 4h on Feb 14, 0.5h on Feb 24.
    resumed = resume(pause(clock, at=sh(2026, 2, 14, 9)), at=sh(2026, 2, 24, 9), calendar=CAL)
    assert resumed.paused_total == 7.5 * H
    # Feb 14 12:00 + 7.5h: 4h to 17:30, then Feb 24 08:30+3.5h = 12:00; 3h left at 09:00 → 12:00 ✓.
    assert resumed.due_at == sh(2026, 2, 24, 12)
    assert remaining(resumed, at=sh(2026, 2, 24, 9), calendar=CAL) == 3 * H


def test_r10_counter_pause_resume_clock_time():
    clock = start_clock(
        started_at=sh(2026, 3, 3, 20), channel=Channel.COUNTER, needs_verification=True, calendar=CAL
    )
    assert clock.due_at == sh(2026, 3, 4, 2)
    resumed = resume(pause(clock, at=sh(2026, 3, 3, 21)), at=sh(2026, 3, 3, 23, 30), calendar=CAL)
    assert resumed.paused_total == 2.5 * H
    assert resumed.due_at == sh(2026, 3, 4, 4, 30)
    assert remaining(resumed, at=sh(2026, 3, 3, 23, 30), calendar=CAL) == 5 * H
    assert fraction_elapsed(resumed, at=sh(2026, 3, 4, 1, 30), calendar=CAL) == pytest.approx(0.5)


def test_r11_remaining_negative_when_breached():
    clock = online_clock()
    assert remaining(clock, at=sh(2026, 3, 3, 17, 30), calendar=CAL) == timedelta(0)
    assert remaining(clock, at=sh(2026, 3, 4, 9, 30), calendar=CAL) == -H  # 08:30–09:30 Wed
    counter = start_clock(
        started_at=sh(2026, 3, 3, 20), channel=Channel.COUNTER, needs_verification=True, calendar=CAL
    )
    assert remaining(counter, at=sh(2026, 3, 4, 3), calendar=CAL) == -H


@pytest.mark.parametrize(
    ("at", "fraction"),
    [
        (sh(2026, 3, 3, 9), 0.0),  # before the start
        (sh(2026, 3, 3, 10), 0.0),
        (sh(2026, 3, 3, 12), 2 / 6),
        (sh(2026, 3, 3, 13), 2 / 6),  # lunch does not count
        (sh(2026, 3, 3, 14, 30), 0.5),
        (sh(2026, 3, 3, 17, 30), 1.0),
        (sh(2026, 3, 4, 9, 30), 7 / 6),  # breached by 1h
    ],
)
def test_r11_fraction_elapsed_in_working_time(at, fraction):
    assert fraction_elapsed(online_clock(), at=at, calendar=CAL) == pytest.approx(fraction)


def test_r10_counter_due_immediately_fraction_is_one():
    clock = start_clock(started_at=sh(2026, 3, 3, 10), channel=Channel.COUNTER, calendar=CAL)
    assert clock.due_at == clock.started_at
    assert fraction_elapsed(clock, at=sh(2026, 3, 3, 10), calendar=CAL) == 1.0


def test_r19_clock_misuse_rejected():
    clock = online_clock()
    with pytest.raises(ValueError):
        resume(clock, at=sh(2026, 3, 3, 11), calendar=CAL)  # not paused
    paused = pause(clock, at=sh(2026, 3, 3, 11))
    with pytest.raises(ValueError):
        pause(paused, at=sh(2026, 3, 3, 12))  # already paused
    with pytest.raises(ValueError):
        resume(paused, at=sh(2026, 3, 3, 10, 30), calendar=CAL)  # before the pause
    with pytest.raises(ValueError):
        pause(clock, at=sh(2026, 3, 3, 9))  # before the start
    with pytest.raises(ValueError):
        pause(clock, at=datetime(2026, 3, 3, 11))  # naive
    with pytest.raises(ValueError):
        Clock(channel=Channel.ONLINE, started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 9))


def test_r19_no_restart_operation_exists():
    # Reassignment must never restart a clock: the module offers no way to do it, and a
    # clock carries no holder, so handing the case over leaves started_at and due_at alone.
    import sla.policy

    assert not any("restart" in name or "reset" in name for name in dir(sla.policy))
    assert "holder" not in Clock.__dataclass_fields__
