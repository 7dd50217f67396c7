"""Escalation ladder (R12 breach handling, R21 supervision): concrete instants, worked by hand."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sla.calendar import WorkingCalendar
from sla.ladder import FractionRung, LadderPolicy, Level, OverdueRung, Step, build_ladder
from sla.policy import Channel, pause, resume, start_clock

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def sh(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=SH)


def test_r12_ladder_online_case_through_spring_festival():
    # The acceptance case: Fri Feb 13 15:00, due Sat Feb 14 12:00 (6 working hours).
    steps = build_ladder(
        started_at=sh(2026, 2, 13, 15), due_at=sh(2026, 2, 14, 12), channel=Channel.ONLINE, calendar=CAL
    )
    assert steps == [
        # 50 % = 3h: 2.5h on Feb 13, 0.5h from 08:30 Feb 14.
        Step("reminder_50", Level.ISSUER, sh(2026, 2, 14, 9)),
        # 80 % = 4h48m: 2.5h on Feb 13, 2h18m from 08:30 Feb 14.
        Step("warn_80", Level.COMMUNITY_HEAD, sh(2026, 2, 14, 10, 48)),
        Step("breach", Level.COUNTY, sh(2026, 2, 14, 12)),
        # +1 working day = 7.5h: 4h on Feb 14 afternoon, Feb 15–23 off, Feb 24 08:30+3.5h.
        Step("city_1wd", Level.CITY, sh(2026, 2, 24, 12)),
        # +2 working days = 15h: 4h Feb 14, 7.5h Feb 24, Feb 25 08:30+3.5h.
        Step("province_2wd", Level.PROVINCE, sh(2026, 2, 25, 12)),
    ]


def test_r12_ladder_online_case_ordinary_week():
    steps = build_ladder(
        started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 17, 30), channel=Channel.ONLINE, calendar=CAL
    )
    assert [(s.name, s.at) for s in steps] == [
        ("reminder_50", sh(2026, 3, 3, 14, 30)),  # 10–12 = 2h, 13:30+1h
        ("warn_80", sh(2026, 3, 3, 16, 18)),  # 2h + 13:30+2h48m
        ("breach", sh(2026, 3, 3, 17, 30)),
        ("city_1wd", sh(2026, 3, 4, 17, 30)),  # one full working day later
        ("province_2wd", sh(2026, 3, 5, 17, 30)),
    ]


def test_r10_ladder_counter_verification_in_clock_time():
    steps = build_ladder(
        started_at=sh(2026, 3, 3, 20), due_at=sh(2026, 3, 4, 2), channel=Channel.COUNTER, calendar=CAL
    )
    assert [(s.name, s.level, s.at) for s in steps] == [
        ("reminder_50", Level.ISSUER, sh(2026, 3, 3, 23)),  # 3 clock hours
        ("warn_80", Level.COMMUNITY_HEAD, sh(2026, 3, 4, 0, 48)),  # 4h48m
        ("breach", Level.COUNTY, sh(2026, 3, 4, 2)),
        # Supervisors count working days: from 02:00 Wed the first 7.5h end at 17:30 Wed.
        ("city_1wd", Level.CITY, sh(2026, 3, 4, 17, 30)),
        ("province_2wd", Level.PROVINCE, sh(2026, 3, 5, 17, 30)),
    ]


def test_r10_ladder_counter_due_immediately_skips_fractions():
    at = sh(2026, 3, 3, 10)
    steps = build_ladder(started_at=at, due_at=at, channel=Channel.COUNTER, calendar=CAL)
    assert [(s.name, s.at) for s in steps] == [
        ("breach", at),
        ("city_1wd", sh(2026, 3, 4, 10)),  # 2h + 4h Tue, 1.5h from 08:30 Wed
        ("province_2wd", sh(2026, 3, 5, 10)),
    ]


def test_r11_ladder_after_pause_excludes_paused_time():
    clock = start_clock(started_at=sh(2026, 3, 3, 10), channel=Channel.ONLINE, calendar=CAL)
    resumed = resume(pause(clock, at=sh(2026, 3, 3, 11)), at=sh(2026, 3, 4, 9), calendar=CAL)
    assert resumed.due_at == sh(2026, 3, 4, 15, 30)
    steps = build_ladder(
        started_at=resumed.started_at,
        due_at=resumed.due_at,
        channel=Channel.ONLINE,
        calendar=CAL,
        paused_total=resumed.paused_total,
    )
    by_name = {s.name: s.at for s in steps}
    # Used time excluding the pause: 1h on Tue (10–11), then from 09:00 Wed.
    assert by_name["reminder_50"] == sh(2026, 3, 4, 11)  # 1h + 2h = 3h
    assert by_name["warn_80"] == sh(2026, 3, 4, 14, 18)  # 1h + 3h + 48m = 4.8h
    assert by_name["breach"] == sh(2026, 3, 4, 15, 30)


def test_r12_ladder_is_configurable():
    policy = LadderPolicy(
        fraction_rungs=(FractionRung("quarter", Level.ISSUER, 0.25),),
        breach_name="overdue",
        breach_level=Level.COMMUNITY_HEAD,
        overdue_rungs=(OverdueRung("half_day", Level.COUNTY, 0.5),),
    )
    steps = build_ladder(
        started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 17, 30), channel=Channel.ONLINE, calendar=CAL, policy=policy
    )
    assert [(s.name, s.level, s.at) for s in steps] == [
        ("quarter", Level.ISSUER, sh(2026, 3, 3, 11, 30)),  # 1.5h
        ("overdue", Level.COMMUNITY_HEAD, sh(2026, 3, 3, 17, 30)),
        ("half_day", Level.COUNTY, sh(2026, 3, 4, 13, 45)),  # 3h45m: 3.5h to noon Wed, 13:30+15m
    ]


def test_r12_ladder_sorted_even_when_policy_is_not():
    policy = LadderPolicy(
        fraction_rungs=(FractionRung("late", Level.COMMUNITY_HEAD, 0.9), FractionRung("early", Level.ISSUER, 0.1)),
        overdue_rungs=(OverdueRung("two", Level.PROVINCE, 2), OverdueRung("one", Level.CITY, 1)),
    )
    steps = build_ladder(
        started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 17, 30), channel=Channel.ONLINE, calendar=CAL, policy=policy
    )
    assert [s.name for s in steps] == ["early", "late", "breach", "one", "two"]
    assert [s.at for s in steps] == sorted(s.at for s in steps)


def test_r12_ladder_rejects_bad_input():
    with pytest.raises(ValueError):
        FractionRung("x", Level.ISSUER, 1.0)
    with pytest.raises(ValueError):
        OverdueRung("x", Level.CITY, 0)
    with pytest.raises(ValueError):
        build_ladder(started_at=sh(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 9), channel=Channel.ONLINE, calendar=CAL)
    with pytest.raises(ValueError):
        build_ladder(
            started_at=datetime(2026, 3, 3, 10), due_at=sh(2026, 3, 3, 17), channel=Channel.ONLINE, calendar=CAL
        )
