"""Properties of working-time arithmetic over instants in 2025–2026 (hypothesis, bounded).

The oracle is independent of sla.calendar: chinesecalendar plus a minute-by-minute walk.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import WorkingCalendar
from sla.policy import Channel, auto_issue_at, auto_issue_by, compute_due

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()
BOUNDED = settings(max_examples=200, deadline=None)

# Starts end on 2026-11-30 so that 7 working days ahead stay inside 2026 (the calendar's end).
_LO = datetime(2025, 1, 1, tzinfo=SH)
_SPAN_US = int((datetime(2026, 11, 30, tzinfo=SH) - _LO) / timedelta(microseconds=1))
_ZONES = st.sampled_from([SH, timezone.utc, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Berlin")])

instants = st.builds(
    lambda us, tz: (_LO + timedelta(microseconds=us)).astimezone(tz),
    st.integers(0, _SPAN_US),
    _ZONES,
)
minute_instants = st.builds(lambda m: _LO + timedelta(minutes=m), st.integers(0, _SPAN_US // 60_000_000))
durations = st.integers(0, 7 * 27_000 * 10**6).map(lambda us: timedelta(microseconds=us))  # up to 7 working days

# Default hours as minutes of the day: [08:30, 12:00) and [13:30, 17:30).
_WORK_MINUTES = [(510, 720), (810, 1050)]


def _inside_or_at_end(local: datetime, *, at_end_allowed: bool) -> bool:
    if not chinese_calendar.is_workday(local.date()):
        return False
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    return any(s <= minute < e or (at_end_allowed and minute == e) for s, e in _WORK_MINUTES)


def _oracle_due(start: datetime, minutes: int) -> datetime:
    """Walk minute by minute (start is minute-aligned, Shanghai time) counting working minutes."""
    t, counted = start, 0
    while True:
        if not chinese_calendar.is_workday(t.date()):
            t = datetime(t.year, t.month, t.day, tzinfo=SH) + timedelta(days=1)
            continue
        mod = t.hour * 60 + t.minute
        if any(s <= mod < e for s, e in _WORK_MINUTES):
            counted += 1
            if counted == minutes:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)


@BOUNDED
@given(start=instants, d=durations)
def test_r11_property_working_time_between_inverts_add(start, d):
    assert CAL.working_time_between(start, CAL.add_working_time(start, d)) == d


@BOUNDED
@given(a=instants, b=instants, d=durations)
def test_r11_property_add_is_monotone_in_start(a, b, d):
    a, b = min(a, b), max(a, b)
    assert CAL.add_working_time(a, d) <= CAL.add_working_time(b, d)


@BOUNDED
@given(start=instants, d1=durations, d2=durations)
def test_r11_property_add_is_monotone_in_duration(start, d1, d2):
    d1, d2 = min(d1, d2), max(d1, d2)
    assert CAL.add_working_time(start, d1) <= CAL.add_working_time(start, d2)


@BOUNDED
@given(start=instants, d=durations)
def test_r11_property_result_inside_or_at_end_of_working_interval(start, d):
    got = CAL.add_working_time(start, d)
    assert got >= start
    assert got.utcoffset() == timedelta(hours=8)
    assert _inside_or_at_end(got.astimezone(SH), at_end_allowed=bool(d))


@BOUNDED
@given(a=instants, b=instants, c=instants)
def test_r11_property_working_time_is_additive(a, b, c):
    a, b, c = sorted([a, b, c])
    assert CAL.working_time_between(a, c) == CAL.working_time_between(a, b) + CAL.working_time_between(b, c)


@BOUNDED
@given(at=instants)
def test_r11_property_next_working_instant(at):
    got = CAL.next_working_instant(at)
    assert got >= at
    assert _inside_or_at_end(got.astimezone(SH), at_end_allowed=False)
    assert CAL.working_time_between(at, got) == timedelta(0)
    assert CAL.next_working_instant(got) == got


@settings(max_examples=100, deadline=None)
@given(start=minute_instants)
def test_r11_property_six_working_hours_matches_minute_walk_oracle(start):
    due = compute_due(submitted_at=start, channel=Channel.ONLINE, calendar=CAL)
    assert due == _oracle_due(start, 360)


@BOUNDED
@given(breach=instants)
def test_r12_property_auto_issue_never_after_cutoff(breach):
    latest = auto_issue_by(breach_at=breach)
    at = auto_issue_at(breach_at=breach, calendar=CAL)
    assert breach <= at <= latest
    assert timedelta(hours=18) <= latest - breach <= timedelta(hours=42)
    assert latest.astimezone(SH).date() == breach.astimezone(SH).date() + timedelta(days=1)
